/**
 * What-if terms end to end (issue 13): members go through the real stack (API, Temporal dev server, worker, PostgreSQL)
 * on a one-day campaign enrolled a day ago, so loads dated across the day and a verdict within seconds; a bank file
 * brings late news. Then the backtest, through the API (JSON and streamed) and the compiled CLI, replays them under
 * other terms: each flip is the one the rules predict, the actual terms reproduce every verdict, and nothing changes.
 */
import { createPool, type Db } from '../../src/db/pool';
import { assignGroup } from '../../src/domain/holdout';
import { buildCli, runCli } from '../support/cli';
import { eventually, startTestStack, type TestStack } from '../support/stack';
import { workflowBundle } from '../support/temporal';

const CAMPAIGN = 'backtest-e2e';
const SECOND = 1_000;
/** Six members of each kind; the kind decides their loads. */
const KINDS = ['EARLY_60', 'EARLY_40', 'LATE_60', 'WITHDREW_LATE'] as const;
const MEMBERS = KINDS.flatMap((_kind, i) => Array.from({ length: 6 }, (_, j) => `B${i}-${j}`));
const kindOf = (m: string) => KINDS[Number(m[1])];
const CANCELLER = 'C-1';
const BPAY_MEMBER = 'F-1';
const OPEN_MEMBER = 'G-1';

let stack: TestStack;
let db: Db;
/** When the members were enrolled. */
let t0: number;
const cli = (...args: string[]) => runCli(() => stack.apiUrl, args);
const at = (offsetMs: number) => new Date(t0 + offsetMs).toISOString();

interface Side {
  outcomes: Record<string, number>;
  projected: number;
  rewards: number;
  holdoutQualified: number;
  pointsCost: number;
  pointsIssued?: number;
}
interface Backtest {
  enrollments: number;
  actual: Side;
  whatIf: Side;
  flips: {
    total: number;
    byChange: { from: string; to: string; count: number }[];
    sample: { memberId: string; from: string; to: string }[];
  };
  reproduction: { checked: number; agree: number; disagree: number };
}
const backtest = (body: Record<string, unknown>) =>
  stack.api<Backtest>('POST', `/v1/campaigns/${CAMPAIGN}/backtest`, body);

const tx = (memberId: string, id: string, over: Record<string, unknown>) =>
  stack.api('POST', '/v1/transactions', {
    transactionId: id,
    memberId,
    kind: 'LOAD',
    channel: 'DEBIT_CARD',
    amountCents: 60_000,
    currency: 'AUD',
    ...over,
  });

beforeAll(async () => {
  stack = await startTestStack({ WORKFLOW_BUNDLE: workflowBundle().codePath });
  db = createPool(stack.databaseUrl, 2);
  buildCli();
  const put = await stack.api('PUT', `/v1/campaigns/${CAMPAIGN}`, {
    targetCents: 50_000,
    rewardPoints: 2_000,
    window: 'PT20S',
    grace: 'PT5S',
    holdoutPercent: 30,
  });
  expect(put.status).toBe(201);

  // Everyone enrolled at t0: the window closes 20 s later, the verdicts come 5 s after that.
  t0 = Date.now();
  for (const m of [...MEMBERS, CANCELLER, BPAY_MEMBER]) {
    const res = await stack.api('POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: m, enrolledAt: at(0) });
    expect(res.status).toBe(201);
  }
  const post = async (kinds: readonly (typeof KINDS)[number][], id: string, over: Record<string, unknown>) => {
    for (const m of MEMBERS.filter((x) => kinds.includes(kindOf(x)))) {
      const amountCents = kindOf(m) === 'EARLY_40' ? 40_000 : 60_000;
      expect((await tx(m, `${id}-${m}`, { amountCents, ...over })).status).toBe(202);
    }
  };
  // Early in the window (heard at once), and, 12 s in, late in it: a 10-second window holds the early news only.
  await post(['EARLY_60', 'EARLY_40', 'WITHDREW_LATE'], 'L', { occurredAt: at(SECOND) });
  await new Promise((r) => setTimeout(r, Math.max(0, t0 + 12 * SECOND - Date.now())));
  await post(['LATE_60'], 'L', { occurredAt: at(12 * SECOND) });
  await post(['WITHDREW_LATE'], 'W', {
    kind: 'WITHDRAWAL',
    channel: 'ATM',
    amountCents: 100,
    occurredAt: at(12 * SECOND),
  });
  expect((await tx(CANCELLER, 'L-C-1', { occurredAt: at(13 * SECOND) })).status).toBe(202);
  const cancelled = await stack.api('POST', `/v1/campaigns/${CAMPAIGN}/members/${CANCELLER}/cancel`, {
    reason: 'asked to leave',
  });
  expect(cancelled.status).toBe(200);
  // A BPAY load, pending until the bank's file settles it, which comes after the verdict.
  expect((await tx(BPAY_MEMBER, 'L-F-1', { channel: 'BPAY', occurredAt: at(13 * SECOND) })).status).toBe(202);
  // Still in its window when the backtest runs; a load below the target writes no audit line at once.
  expect((await stack.api('POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: OPEN_MEMBER })).status).toBe(
    201,
  );
  expect((await tx(OPEN_MEMBER, 'L-G-1', { amountCents: 20_000, occurredAt: new Date().toISOString() })).status).toBe(
    202,
  );

  await eventually(
    async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM enrollments WHERE campaign_id = $1 AND verdict IS NOT NULL
           AND state NOT IN ('PENDING_REWARD')`,
        [CAMPAIGN],
      );
      return rows[0].n === MEMBERS.length + 2;
    },
    90_000,
    'every verdict',
  );
  // The bank settles the BPAY load after the verdict: late news, recorded, not counted.
  const file =
    'transactionId,memberId,kind,amountCents,currency,channel,occurredAt,settledAt,status\n' +
    `L-F-1,${BPAY_MEMBER},LOAD,60000,AUD,BPAY,${at(13 * SECOND)},${at(14 * SECOND)},SETTLED\n`;
  const posted = await fetch(`${stack.apiUrl}/v1/settlements`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv' },
    body: file,
  });
  expect(posted.status).toBe(202);
  await eventually(
    async () =>
      (await db.query(`SELECT 1 FROM audit_events WHERE member_id = $1 AND type = 'LATE_EVENT'`, [BPAY_MEMBER]))
        .rowCount === 1,
    30_000,
    'the late settlement',
  );
}, 180_000);
afterAll(async () => {
  await db?.end();
  await stack?.destroy();
});

const holdout = (m: string) => assignGroup(CAMPAIGN, m, 30) === 'HOLDOUT';
const ofKind = (k: (typeof KINDS)[number]) => MEMBERS.filter((m) => kindOf(m) === k);
const flipsOf = (b: Backtest) => b.flips.sample.map((f) => `${f.memberId}:${f.from}>${f.to}`).sort();

it('under the actual terms the replay reaches every recorded verdict, and nothing flips', async () => {
  const res = await backtest({});
  expect(res.status).toBe(200);
  const decided = MEMBERS.length + 2;
  expect(res.body.enrollments).toBe(decided);
  expect(res.body.reproduction).toMatchObject({ checked: decided, agree: decided, disagree: 0 });
  expect(res.body.flips.total).toBe(0);
  const eligible = [...ofKind('EARLY_60'), ...ofKind('LATE_60')];
  expect(res.body.actual.outcomes).toEqual({
    ELIGIBLE: eligible.length,
    NOT_ELIGIBLE: ofKind('EARLY_40').length + 1,
    DISQUALIFIED: ofKind('WITHDREW_LATE').length,
    CANCELLED: 1,
  });
  const treatedEligible = eligible.filter((m) => !holdout(m)).length;
  expect(res.body.actual).toMatchObject({
    rewards: treatedEligible,
    holdoutQualified: eligible.length - treatedEligible,
    pointsCost: treatedEligible * 2_000,
  });
  await eventually(
    async () => (await backtest({})).body.actual.pointsIssued === treatedEligible * 2_000,
    30_000,
    'every reward credited',
  );
  expect(res.body.whatIf).toMatchObject({ outcomes: res.body.actual.outcomes, rewards: treatedEligible });
});

it('a lower target: the A$400 loaders flip to eligible; the holdout among them qualify, unpaid', async () => {
  const res = await backtest({ targetCents: 30_000 });
  expect(res.status).toBe(200);
  const loaders = ofKind('EARLY_40');
  expect(res.body.flips.byChange).toEqual([{ from: 'NOT_ELIGIBLE', to: 'ELIGIBLE', count: loaders.length }]);
  expect(flipsOf(res.body)).toEqual(loaders.map((m) => `${m}:NOT_ELIGIBLE>ELIGIBLE`).sort());
  const paid = loaders.filter((m) => !holdout(m)).length;
  expect(res.body.whatIf.rewards - res.body.actual.rewards).toBe(paid);
  expect(res.body.whatIf.pointsCost - res.body.actual.pointsCost).toBe(paid * 2_000);
  expect(res.body.whatIf.holdoutQualified - res.body.actual.holdoutQualified).toBe(loaders.length - paid);
});

it('a 10-second window: the late loaders lose, the late withdrawers win, by the times the money moved', async () => {
  const res = await backtest({ window: 'PT10S', rewardPoints: 1_000 });
  expect(res.status).toBe(200);
  const expected = [
    ...ofKind('LATE_60').map((m) => `${m}:ELIGIBLE>NOT_ELIGIBLE`),
    ...ofKind('WITHDREW_LATE').map((m) => `${m}:DISQUALIFIED>ELIGIBLE`),
  ].sort();
  expect(flipsOf(res.body)).toEqual(expected);
  expect(res.body.flips.total).toBe(expected.length);
  expect(res.body.whatIf.pointsCost).toBe(res.body.whatIf.rewards * 1_000);
});

it('a longer grace period counts the late bank file: that verdict is still ahead, so projected', async () => {
  const res = await backtest({ grace: 'P1D' });
  expect(res.status).toBe(200);
  expect(flipsOf(res.body)).toEqual([`${BPAY_MEMBER}:NOT_ELIGIBLE>ELIGIBLE`]);
  expect(res.body.whatIf.projected).toBe(res.body.enrollments - 1 - ofKind('WITHDREW_LATE').length);
});

it('with includeOpen, an open member is projected on what it heard, ledger included', async () => {
  const plain = await backtest({ includeOpen: true });
  expect(plain.body.enrollments).toBe(MEMBERS.length + 3);
  expect(plain.body.actual.projected).toBe(1);
  const res = await backtest({ includeOpen: true, targetCents: 15_000 });
  expect(flipsOf(res.body)).toContain(`${OPEN_MEMBER}:NOT_ELIGIBLE>ELIGIBLE`);
});

it('streams progress and then the same result as application/x-ndjson', async () => {
  const res = await fetch(`${stack.apiUrl}/v1/campaigns/${CAMPAIGN}/backtest`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
    body: JSON.stringify({ targetCents: 30_000 }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
  const lines = (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { progress?: { done: number; total: number }; result?: Backtest });
  expect(lines[0].progress).toEqual({ done: 0, total: MEMBERS.length + 2 });
  expect(lines.at(-2)?.progress).toEqual({ done: MEMBERS.length + 2, total: MEMBERS.length + 2 });
  expect(lines.at(-1)?.result?.flips.total).toBe(ofKind('EARLY_40').length);
});

it('refuses bad terms (400) and an unknown campaign (404), and changes nothing ever', async () => {
  const counts = async () =>
    (
      await db.query<{ audit: number; rewards: number; states: string }>(
        `SELECT (SELECT count(*) FROM audit_events)::int AS audit, (SELECT count(*) FROM rewards)::int AS rewards,
                (SELECT string_agg(member_id || state, ',' ORDER BY member_id) FROM enrollments) AS states`,
      )
    ).rows[0];
  const before = await counts();
  for (const bad of [{ targetCents: 0 }, { window: 'P400D' }, { grace: 'P1M' }, { rewardPoints: 1.5 }, { x: 1 }]) {
    const res = await stack.api<{ error: { code: string } }>('POST', `/v1/campaigns/${CAMPAIGN}/backtest`, bad);
    expect({ bad, status: res.status, code: res.body.error?.code }).toEqual({
      bad,
      status: 400,
      code: 'VALIDATION_FAILED',
    });
  }
  const unknown = await stack.api<{ error: { code: string } }>('POST', '/v1/campaigns/no-such/backtest', {});
  expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  await backtest({ targetCents: 1, window: 'P2D', grace: 'PT0S', rewardPoints: 9, includeOpen: true });
  expect(await counts()).toEqual(before);
});

it('the CLI prints the comparison with a progress bar, and --json the API body', async () => {
  const printed = await cli('backtest', CAMPAIGN, '--target', '30000');
  expect(printed.code).toBe(0);
  expect(printed.stdout).toMatch(/Backtest of campaign backtest-e2e: 26 decided enrollments replayed/);
  expect(printed.stdout).toMatch(/target\s+A\$500\.00\s+A\$300\.00/);
  expect(printed.stdout).toMatch(/NOT_ELIGIBLE → ELIGIBLE\s+6/);
  expect(printed.stdout).toMatch(/Reproduced: under the actual terms the replay reaches all 26 recorded verdicts/);
  expect(printed.stderr).toMatch(/backtesting: 100% 26\/26 enrollments/);

  const json = await cli('--json', 'backtest', CAMPAIGN, '--window', 'PT10S');
  expect(json.code).toBe(0);
  expect((JSON.parse(json.stdout) as Backtest).flips.total).toBe(12);

  // A budget to try: two rewards at most; the other eligible treated members are counted as exhausted.
  const capped = await cli('--json', 'backtest', CAMPAIGN, '--max-rewards', '2');
  const body = JSON.parse(capped.stdout) as Backtest & { whatIf: { budgetExhausted: number } };
  expect(body.whatIf.rewards).toBe(2);
  expect(body.whatIf.budgetExhausted).toBe(body.actual.rewards - 2);
  expect(body.whatIf.pointsCost).toBe(4_000);

  const bad = await cli('backtest', CAMPAIGN, '--target', 'lots');
  expect(bad.code).toBe(2);
  const refused = await cli('backtest', CAMPAIGN, '--window', 'P1Y');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/VALIDATION_FAILED/);
});
