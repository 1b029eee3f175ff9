/**
 * A settlement batch whose worker is killed (SIGKILL, no draining) in the middle, then started again: the batch
 * resumes where it stopped and every record is applied exactly once. The workers here are the production entry
 * point (`npm run worker`, i.e. dist/src/workers/main.js) as separate processes; the stack runs none of its own.
 */
import { Pool } from 'pg';
import { SETTLEMENT_HEADER } from '../../src/domain/settlement';
import { captureHistories } from '../support/histories';
import { eventually, startTestStack, type TestStack } from '../support/stack';
import { exitOf, workerProcesses } from '../support/workers';

const C = 'settle-crash';
const MEMBERS = 40;
const LINES = 1_500;

let stack: TestStack;
let db: Pool;

const workers = workerProcesses(() => stack);
const startWorker = () => workers.start();

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  db = new Pool({ connectionString: stack.databaseUrl, max: 2 });
}, 180_000);
afterAll(async () => {
  workers.killAll();
  // With CAPTURE_HISTORIES=1: the resumed batch and a few of its members (one per distinct shape) become fixtures.
  if (stack)
    await captureHistories(
      { address: stack.temporalAddress },
      { group: 'e2e-settlement-crash', capturedFrom: 'test/e2e/settlement-crash.test.ts', maxPerType: 3 },
    );
  await db?.end();
  await stack?.destroy();
}, 60_000);

interface Report {
  state: string;
  records: number;
  processed: number;
  applied: number;
  duplicates: number;
  late: number;
}
const report = async (batchId: string) => (await stack.api<Report>('GET', `/v1/settlements/${batchId}`)).body;

it('resumes a batch whose worker was killed, applying every record exactly once', async () => {
  await stack.api('PUT', `/v1/campaigns/${C}`, { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D' });
  for (let i = 0; i < MEMBERS; i++) {
    expect((await stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId: `K-${i}` })).status).toBe(201);
  }
  await new Promise((r) => setTimeout(r, 20));
  const t = new Date().toISOString();
  const lines = Array.from({ length: LINES }, (_, i) =>
    [`TX-K${i}`, `K-${i % MEMBERS}`, 'LOAD', 100 + (i % 7), 'AUD', 'BPAY', t, t, 'SETTLED'].join(','),
  );
  const expectedCents = new Map<string, number>();
  lines.forEach((_, i) =>
    expectedCents.set(`K-${i % MEMBERS}`, (expectedCents.get(`K-${i % MEMBERS}`) ?? 0) + 100 + (i % 7)),
  );

  const first = startWorker();
  const res = await fetch(`${stack.apiUrl}/v1/settlements`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', 'Idempotency-Key': 'crash-batch' },
    body: `${SETTLEMENT_HEADER}\n${lines.join('\n')}\n`,
  });
  expect(res.status).toBe(202);

  // Kill the worker once the first chunk is checkpointed and the next one is under way.
  // Generous: on a busy 2-core machine (another end-to-end suite running beside this one) a chunk can take a while.
  await Promise.race([
    eventually(async () => (await report('crash-batch')).processed >= 500, 300_000, 'the first chunk'),
    exitOf(first, 'before the first chunk'),
  ]);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const cut = await report('crash-batch');
  expect(cut.state).toBe('RUNNING');
  expect(cut.processed).toBeLessThan(LINES);

  startWorker();
  const done = await eventually(
    async () => {
      const r = await report('crash-batch');
      return r.state === 'COMPLETED' && r;
    },
    300_000,
    'the batch to complete after the restart',
  );
  expect(done).toMatchObject({ records: LINES, processed: LINES, applied: LINES, duplicates: 0, late: 0 });

  // Every transaction reached its member's ledger once, and the totals are exact to the cent. (Audit lines of news
  // heard within a state wait for the member's next durable record, its verdict's at the latest: none may be there
  // twice meanwhile.)
  await eventually(
    async () => {
      const { rows } = await db.query<{ n: number; distinct_tx: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT l.transaction_id)::int AS distinct_tx
         FROM ledger_entries l JOIN enrollments e ON e.workflow_id = l.workflow_id WHERE e.campaign_id = $1`,
        [C],
      );
      return rows[0].n >= LINES && rows[0];
    },
    30_000,
    'the ledger',
  ).then((ledger) => expect(ledger).toEqual({ n: LINES, distinct_tx: LINES }));
  const { rows: audited } = await db.query<{ n: number; distinct_tx: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT payload->'event'->>'transactionId')::int AS distinct_tx
     FROM audit_events WHERE campaign_id = $1 AND type = 'TRANSACTION_RECEIVED'`,
    [C],
  );
  expect(audited[0].n).toBe(audited[0].distinct_tx);
  expect(audited[0].n).toBeLessThanOrEqual(LINES);
  await eventually(
    async () => {
      const { rows: m } = await db.query<{ member_id: string; counted_cents: number }>(
        'SELECT member_id, counted_cents FROM enrollments WHERE campaign_id = $1',
        [C],
      );
      return m.every((r) => r.counted_cents === expectedCents.get(r.member_id)) && m;
    },
    30_000,
    'every member total',
  );
}, 700_000);
