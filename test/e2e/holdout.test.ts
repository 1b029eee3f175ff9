/**
 * The holdout group end to end (issue 13): through the real API and the compiled CLI, on the stack `npm start` runs
 * (embedded PostgreSQL, the Temporal dev server, the worker, the local points API), in real time with a campaign of
 * seconds. Half the members are held out by the hash of their ids; everyone's loads are tracked the same way; the
 * treated who load are rewarded and told, the held out who load end HOLDOUT_QUALIFIED, untold and unpaid; the report,
 * /metrics and the CLI show the lift; a holdout member's verdict proves itself.
 */
import { Client, Connection } from '@temporalio/client';
import { createPool, type Db } from '../../src/db/pool';
import { assignGroup } from '../../src/domain/holdout';
import { buildCli, runCli } from '../support/cli';
import { captureHistories } from '../support/histories';
import { eventually, startTestStack, type TestStack } from '../support/stack';
import { workflowBundle } from '../support/temporal';

const CAMPAIGN = 'holdout-e2e';
const MEMBERS = Array.from({ length: 40 }, (_, i) => `H-${i + 1}`);
/** Every member with an odd number loads the target; the others load a little. */
const loads = (m: string): boolean => Number(m.slice(2)) % 2 === 1;

let stack: TestStack;
let db: Db;
let connection: Connection;
let temporal: Client;
const cli = (...args: string[]) => runCli(() => stack.apiUrl, args);

beforeAll(async () => {
  stack = await startTestStack({ WORKFLOW_BUNDLE: workflowBundle().codePath, REPORT_METRICS_MAX_AGE: 'PT0S' });
  db = createPool(stack.databaseUrl, 2);
  connection = await Connection.connect({ address: stack.temporalAddress });
  temporal = new Client({ connection });
  buildCli();
}, 180_000);
afterAll(async () => {
  await connection?.close();
  await db?.end();
  await stack?.destroy();
});

interface ErrorBody {
  error: { code: string; message: string; details: unknown[] };
}

it('holdoutPercent is a term: whole percent 0 to 50, immutable, shown with the campaign', async () => {
  const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'PT8S', grace: 'PT2S' };
  for (const bad of [51, -1, 10.5, '10', null]) {
    const res = await stack.api<ErrorBody>('PUT', '/v1/campaigns/holdout-bad', { ...terms, holdoutPercent: bad });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  }
  expect((await stack.api('GET', '/v1/campaigns/holdout-bad')).status).toBe(404);

  const created = await stack.api<{ holdoutPercent: number }>('PUT', `/v1/campaigns/${CAMPAIGN}`, {
    ...terms,
    holdoutPercent: 50,
  });
  expect(created).toMatchObject({ status: 201, body: { holdoutPercent: 50 } });
  expect((await stack.api('PUT', `/v1/campaigns/${CAMPAIGN}`, { ...terms, holdoutPercent: 50 })).status).toBe(200);
  const changed = await stack.api<ErrorBody>('PUT', `/v1/campaigns/${CAMPAIGN}`, { ...terms, holdoutPercent: 20 });
  expect(changed.status).toBe(409);
  expect(changed.body.error.code).toBe('CAMPAIGN_TERMS_IMMUTABLE');
  // Without the field: no holdout, as before.
  const plain = await stack.api<{ holdoutPercent: number }>('PUT', '/v1/campaigns/holdout-none', terms);
  expect(plain.body.holdoutPercent).toBe(0);
}, 60_000);

it('half held out by the hash; the treated who load are paid and told, the held out are neither', async () => {
  const groups = new Map<string, string>();
  for (const m of MEMBERS) {
    const res = await stack.api<{ group: string }>('POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: m });
    expect(res.status).toBe(201);
    expect(res.body.group).toBe(assignGroup(CAMPAIGN, m, 50));
    groups.set(m, res.body.group);
  }
  const holdout = MEMBERS.filter((m) => groups.get(m) === 'HOLDOUT');
  expect(holdout.length).toBeGreaterThan(5);
  expect(holdout.length).toBeLessThan(35);
  // The same member asked again keeps its group.
  const again = await stack.api<{ group: string }>('POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, {
    memberId: holdout[0],
  });
  expect(again).toMatchObject({ status: 200, body: { group: 'HOLDOUT' } });

  for (const m of MEMBERS) {
    const res = await stack.api('POST', '/v1/transactions', {
      transactionId: `TX-${m}`,
      memberId: m,
      kind: 'LOAD',
      channel: 'DEBIT_CARD',
      amountCents: loads(m) ? 60_000 : 5_000,
      currency: 'AUD',
      occurredAt: new Date().toISOString(),
    });
    expect(res.status).toBe(202);
  }
  // Operators find each group in the Web UI by its search attribute.
  const counted = await eventually(
    async () => {
      const { count } = await temporal.workflow.count(`CampaignId = "${CAMPAIGN}" AND ExperimentGroup = "HOLDOUT"`);
      return count === holdout.length && count;
    },
    20_000,
    'the ExperimentGroup search attribute',
  );
  expect(counted).toBe(holdout.length);

  const decided = await eventually(
    async () => {
      const views = await Promise.all(
        MEMBERS.map(async (m) => (await stack.api<{ state: string; group: string }>('GET', member(m))).body),
      );
      return views.every((v) => ['COMPLETED', 'HOLDOUT_QUALIFIED', 'NOT_ELIGIBLE'].includes(v.state)) && views;
    },
    60_000,
    'every verdict',
  );
  MEMBERS.forEach((m, i) => {
    const expected = !loads(m) ? 'NOT_ELIGIBLE' : groups.get(m) === 'HOLDOUT' ? 'HOLDOUT_QUALIFIED' : 'COMPLETED';
    expect({ m, state: decided[i].state, group: decided[i].group }).toEqual({
      m,
      state: expected,
      group: groups.get(m),
    });
  });

  // Never paid: no credit at the points API, no reward row. Never told: no notification row.
  const credited = new Set(stack.points!.credits().map((c) => c.memberId));
  for (const m of holdout) expect(credited.has(m)).toBe(false);
  const treatedLoaders = MEMBERS.filter((m) => loads(m) && groups.get(m) === 'TREATMENT');
  expect([...credited].sort()).toEqual([...treatedLoaders].sort());
  const told = await db.query<{ member_id: string }>(
    'SELECT DISTINCT member_id FROM notifications WHERE campaign_id = $1',
    [CAMPAIGN],
  );
  expect(told.rows.map((r) => r.member_id).sort()).toEqual(MEMBERS.filter((m) => groups.get(m) === 'TREATMENT').sort());
  const rewarded = await db.query('SELECT 1 FROM rewards WHERE member_id = ANY($1)', [holdout]);
  expect(rewarded.rowCount).toBe(0);

  // The verdict of a held-out member who loaded proves itself from its trail.
  const heldLoader = holdout.find(loads)!;
  const proof = await stack.api<{ verified: boolean }>('GET', `${member(heldLoader)}/proof`);
  expect(proof.body.verified).toBe(true);

  // The lift: odd members load in both groups, so both rates are about a half and the difference about zero.
  const rate = (ms: string[]) => ms.filter(loads).length / ms.length;
  const treated = MEMBERS.filter((m) => groups.get(m) === 'TREATMENT');
  const report = await stack.api<{ lift: Record<string, unknown> }>('GET', `/v1/campaigns/${CAMPAIGN}/report`);
  expect(report.status).toBe(200);
  expect(report.body.lift).toMatchObject({
    holdoutPercent: 50,
    treatment: { members: treated.length, activated: treated.filter(loads).length },
    holdout: { members: holdout.length, activated: holdout.filter(loads).length },
    pointsIssued: treatedLoaders.length * 2_000,
  });
  expect(report.body.lift.difference).toBeCloseTo(rate(treated) - rate(holdout), 5);

  const metrics = await (await fetch(`${stack.apiUrl}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`activation_rate\\{campaign="${CAMPAIGN}",group="HOLDOUT"\\} `));
  expect(metrics).toMatch(new RegExp(`activation_lift\\{campaign="${CAMPAIGN}",bound="low"\\} `));

  const printed = await cli('report', CAMPAIGN);
  expect(printed.code).toBe(0);
  expect(printed.stdout).toMatch(/activation, holdout 50%/);
  expect(printed.stdout).toMatch(/HOLDOUT_QUALIFIED\s+\d+/);
  expect(printed.stdout).toMatch(/lift\s+-?\d+\.\d pp \(95% CI/);

  await captureHistories(temporal, { group: 'e2e-holdout', capturedFrom: 'test/e2e/holdout.test.ts' });
}, 120_000);

const member = (m: string) => `/v1/campaigns/${CAMPAIGN}/members/${m}`;
