/**
 * Verdicts prove themselves end to end (issue 12): through the real API and the compiled CLI, on the stack `npm start`
 * runs, with a campaign of seconds. Members decided every way (rewarded, not eligible with late news after, a moved
 * window, disqualified, cancelled) prove; then a line edited behind the append-only triggers is caught by its chain,
 * and an edit whose forger chained every hash again is caught by the replay: the facts do not support the claims.
 */
import { createPool, type Db } from '../../src/db/pool';
import { buildCli, runCli } from '../support/cli';
import { behindTheTriggers } from '../support/db';
import { eventually, startTestStack, type TestStack } from '../support/stack';

const CAMPAIGN = 'proof-e2e';
let stack: TestStack;
let db: Db;

const cli = (...args: string[]) => runCli(() => stack.apiUrl, args);
const member = (m: string) => `/v1/campaigns/${CAMPAIGN}/members/${m}`;

interface Proof {
  verified: boolean;
  lines: number;
  chain: { intact: boolean; head?: string; brokenAt?: { position: number; type: string; problem: string } };
  replay: {
    agrees: boolean;
    state: string;
    countedCents: number;
    verdict?: { outcome: string };
    divergence?: { position: number; type: string; problem: string };
  };
  recorded: { state: string; agrees: boolean };
}

const tx = (memberId: string, transactionId: string, kind: 'LOAD' | 'WITHDRAWAL', amountCents: number) =>
  stack.api('POST', '/v1/transactions', {
    transactionId,
    memberId,
    kind,
    channel: kind === 'LOAD' ? 'DEBIT_CARD' : 'ATM',
    amountCents,
    currency: 'AUD',
    occurredAt: new Date().toISOString(),
  });
const proof = async (m: string) => (await stack.api<Proof>('GET', `${member(m)}/proof`)).body;

beforeAll(async () => {
  buildCli();
  stack = await startTestStack();
  db = createPool(stack.databaseUrl, 2);
  // A window of 6 s and a grace period of 2 s.
  const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'PT6S', grace: 'PT2S' };
  expect((await stack.api('PUT', `/v1/campaigns/${CAMPAIGN}`, terms)).status).toBe(201);
  for (const m of ['M-reward', 'M-short', 'M-moved', 'M-withdrew', 'M-cancel']) {
    expect((await stack.api('POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: m })).status).toBe(201);
  }
  expect((await tx('M-reward', 'T-r1', 'LOAD', 30_000)).status).toBe(202);
  expect((await tx('M-reward', 'T-r2', 'LOAD', 30_000)).status).toBe(202);
  expect((await tx('M-short', 'T-s1', 'LOAD', 10_000)).status).toBe(202);
  expect((await tx('M-withdrew', 'T-w1', 'LOAD', 60_000)).status).toBe(202);
  expect((await tx('M-withdrew', 'T-w2', 'WITHDRAWAL', 500)).status).toBe(202);
  expect((await stack.api('POST', `${member('M-cancel')}/cancel`, { reason: 'changed my mind' })).status).toBe(200);
  const moved = await stack.api('POST', `${member('M-moved')}/schedule`, { extendWindowBy: 'PT6S', reason: 'outage' });
  expect(moved.status).toBe(200);
  // After the old window, inside the new one.
  const { windowEndsAt } = (await stack.api<{ windowEndsAt: string }>('GET', member('M-reward'))).body;
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(windowEndsAt) - Date.now()) + 500));
  expect((await tx('M-moved', 'T-m1', 'LOAD', 55_000)).status).toBe(202);
  const decided = ['COMPLETED', 'NOT_ELIGIBLE', 'DISQUALIFIED', 'CANCELLED'];
  await eventually(
    async () => {
      const states = await Promise.all(
        ['M-reward', 'M-short', 'M-moved', 'M-withdrew', 'M-cancel'].map(
          async (m) => (await stack.api<{ state: string }>('GET', member(m))).body.state,
        ),
      );
      return states.every((s) => decided.includes(s));
    },
    60_000,
    'every member decided',
  );
  // Late news for a member with a verdict.
  expect((await tx('M-short', 'T-s2', 'LOAD', 45_000)).status).toBe(202);
  await eventually(
    async () => (await proof('M-short')).lines > 0 && (await lateLines('M-short')) > 0,
    30_000,
    'late news',
  );
}, 180_000);
afterAll(async () => {
  await db?.end();
  await stack?.destroy();
});

const lateLines = async (m: string) =>
  (
    await db.query(`SELECT 1 FROM audit_events WHERE member_id = $1 AND campaign_id = $2 AND type = 'LATE_EVENT'`, [
      m,
      CAMPAIGN,
    ])
  ).rowCount ?? 0;

it('every verdict re-derives from its audit trail, and the verifier says so', async () => {
  const expected: Record<string, [string, number]> = {
    'M-reward': ['COMPLETED', 60_000],
    'M-short': ['NOT_ELIGIBLE', 10_000],
    'M-moved': ['COMPLETED', 55_000],
    'M-withdrew': ['DISQUALIFIED', 60_000],
    'M-cancel': ['CANCELLED', 0],
  };
  for (const [m, [state, counted]] of Object.entries(expected)) {
    const p = await proof(m);
    expect({ m, verified: p.verified, state: p.replay.state, counted: p.replay.countedCents }).toEqual({
      m,
      verified: true,
      state,
      counted,
    });
    expect(p.chain.intact).toBe(true);
  }
  const verify = await cli('verify', CAMPAIGN);
  expect(verify.code).toBe(0);
  expect(verify.stdout).toMatch(/verified\s+5/);
  expect(verify.stdout).toContain('Every verdict follows from its recorded facts.');

  expect((await stack.api('GET', `${member('M-nobody')}/proof`)).status).toBe(404);
  expect((await stack.api('GET', `/v1/campaigns/${CAMPAIGN}/proofs?limit=0`)).status).toBe(400);
  // Paging: two at a time, in member id order, the first page counting them all.
  const page = await stack.api<{ total: number; items: { memberId: string }[]; next: string }>(
    'GET',
    `/v1/campaigns/${CAMPAIGN}/proofs?limit=2`,
  );
  expect(page.body).toMatchObject({ total: 5, next: 'M-moved' });
  expect(page.body.items.map((i) => i.memberId)).toEqual(['M-cancel', 'M-moved']);
});

it('a tampered line is caught: by its chain, and by the replay when the forger chains every hash again', async () => {
  // 1. The verdict of M-short rewritten to ELIGIBLE behind the triggers.
  await behindTheTriggers(
    db,
    `UPDATE audit_events SET payload = jsonb_set(payload, '{outcome}', '"ELIGIBLE"')
     WHERE campaign_id = $1 AND member_id = 'M-short' AND type = 'VERDICT'`,
    [CAMPAIGN],
  );
  const edited = await proof('M-short');
  expect(edited.verified).toBe(false);
  expect(edited.chain.brokenAt).toMatchObject({
    type: 'VERDICT',
    problem: 'the line was changed after it was written',
  });

  // 2. M-reward's second load made A$20.00, and every hash from there on computed again with the database's own
  //    functions: the chain holds, but the trail's claims (goal achieved, eligible) no longer follow from its facts.
  const workflowId = (await stack.api<{ workflowId: string }>('GET', `${member('M-reward')}/proof`)).body.workflowId;
  await behindTheTriggers(
    db,
    `UPDATE audit_events SET payload = jsonb_set(payload, '{event,amountCents}', '2000')
     WHERE workflow_id = $1 AND type = 'TRANSACTION_RECEIVED' AND payload->'event'->>'transactionId' = 'T-r2'`,
    [workflowId],
  );
  await behindTheTriggers(
    db,
    `DO $$
     DECLARE r record; prev text := audit_chain_genesis();
     BEGIN
       FOR r IN SELECT * FROM audit_events WHERE workflow_id = '${workflowId}' ORDER BY position LOOP
         UPDATE audit_events SET prev_hash = prev,
           hash = audit_chain_hash(audit_chain_text(prev, r.workflow_id, r.position, r.event_key, r.type, r.source,
                                                    r.occurred_at, r.payload))
         WHERE id = r.id RETURNING hash INTO prev;
       END LOOP;
     END $$`,
    [],
  );
  const forged = await proof('M-reward');
  expect(forged.chain.intact).toBe(true);
  expect(forged.verified).toBe(false);
  expect(forged.replay.agrees).toBe(false);
  expect(forged.replay.divergence?.type).toBe('TRANSITION');

  const verify = await cli('verify', CAMPAIGN, '--page', '2');
  expect(verify.code).toBe(1);
  expect(verify.stdout).toMatch(/verified\s+3/);
  expect(verify.stdout).toMatch(/divergent\s+1/);
  expect(verify.stdout).toMatch(/broken chains\s+1/);
  expect(verify.stdout).toMatch(/M-reward\s+COMPLETED\s+diverges at line \d+ \(TRANSITION\)/);
  expect(verify.stdout).toMatch(/M-short\s+NOT_ELIGIBLE\s+chain broken at line \d+ \(VERDICT\)/);
  const json = JSON.parse((await cli('--json', 'verify', CAMPAIGN)).stdout) as { failures: { memberId: string }[] };
  expect(json.failures.map((f) => f.memberId).sort()).toEqual(['M-reward', 'M-short']);
});
