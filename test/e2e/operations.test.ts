/**
 * A bulk operation end to end (issue 12): through the real API over a couple of thousand enrollments on the dev
 * server, with its worker killed (SIGKILL) mid-way and started again. The operation resumes where it stopped, every
 * selected member is changed exactly once, the ones that refuse are counted with the reason, and each change is in
 * the member's audit trail with the operation id. The workers are the production entry point, as processes.
 */
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { captureHistories } from '../support/histories';
import { inParallel } from '../support/requests';
import { eventually, startTestStack, type TestStack } from '../support/stack';
import { exitOf, workerProcesses } from '../support/workers';

const C = 'bulk-e2e';
const MEMBERS = 2_000;
const CANCELLED = 25;

let stack: TestStack;
let db: Pool;

const workers = workerProcesses(() => stack);
const startWorker = () => workers.start();

async function post<T>(p: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.apiUrl}${p}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

interface Operation {
  operationId: string;
  state: string;
  selected: number;
  processed: number;
  outcomes: { changed: number; refused: Record<string, number>; failed: number; pending: number };
}

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  db = new Pool({ connectionString: stack.databaseUrl, max: 2 });
}, 180_000);
afterAll(async () => {
  workers.killAll();
  // With CAPTURE_HISTORIES=1: the resumed operation and a few of its members become replay fixtures.
  if (stack)
    await captureHistories(
      { address: stack.temporalAddress },
      { group: 'e2e-operations', capturedFrom: 'test/e2e/operations.test.ts', maxPerType: 3 },
    );
  await db?.end();
  await stack?.destroy();
}, 60_000);

it('extends a couple of thousand members once each, across a worker killed mid-way', async () => {
  await stack.api('PUT', `/v1/campaigns/${C}`, { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D' });
  const ids = Array.from({ length: MEMBERS }, (_, i) => `B-${String(i).padStart(5, '0')}`);
  const first = startWorker();
  await inParallel(ids, 16, async (memberId) => {
    expect((await post(`/v1/campaigns/${C}/enrollments`, { memberId })).status).toBe(201);
  });
  // Some have opted out: the operation counts them as refused, never fails on them.
  await inParallel(ids.slice(0, CANCELLED), 8, async (m) => {
    expect((await post(`/v1/campaigns/${C}/members/${m}/cancel`, { reason: 'opted out' })).status).toBe(200);
  });

  const request = {
    campaignId: C,
    select: { countedBelow: 50_000 },
    action: 'EXTEND_SCHEDULE',
    args: { extendGraceBy: 'P1D' },
    reason: 'bank file two days late',
  };
  const dry = await post<{ count: number; sample: { memberId: string }[] }>('/v1/operations', {
    ...request,
    dryRun: true,
  });
  expect(dry.status).toBe(200);
  expect(dry.body.count).toBe(MEMBERS);
  expect(dry.body.sample.map((m) => m.memberId)).toEqual(ids.slice(0, 20));

  const key = { 'Idempotency-Key': 'grace-after-late-file', 'X-Caller-Id': 'ops-carol' };
  const started = await post<{ operationId: string }>('/v1/operations', request, key);
  expect(started.status).toBe(202);
  const { operationId } = started.body;
  // A retried POST: the same operation, nothing started twice.
  const again = await post<{ operationId: string }>('/v1/operations', request, key);
  expect([again.status, again.body.operationId]).toEqual([200, operationId]);
  const other = await post<{ error: { code: string } }>('/v1/operations', { ...request, reason: 'other' }, key);
  expect([other.status, other.body.error.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);

  const progress = async () => (await stack.api<Operation>('GET', `/v1/operations/${operationId}`)).body;
  await Promise.race([
    eventually(async () => (await progress()).processed >= 400, 300_000, 'the first pages'),
    exitOf(first, 'before the first pages'),
  ]);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const cut = await progress();
  expect(cut.state).toBe('RUNNING');
  expect(cut.processed).toBeLessThan(MEMBERS);

  startWorker();
  const done = await eventually(
    async () => {
      const p = await progress();
      return p.state === 'COMPLETED' && p;
    },
    300_000,
    'the operation to complete after the restart',
  );
  expect(done).toMatchObject({
    selected: MEMBERS,
    processed: MEMBERS,
    outcomes: { changed: MEMBERS - CANCELLED, refused: { ALREADY_DECIDED: CANCELLED }, failed: 0, pending: 0 },
  });

  // Nobody changed twice: one change each, evaluatesAt exactly one day later than the campaign's calendar.
  const { rows } = await db.query<{ changes: number; moved_by: string; n: number }>(
    `SELECT coalesce(jsonb_array_length(schedule_changes), 0)::int AS changes,
            (evaluates_at - window_ends_at)::text AS moved_by, count(*)::int AS n
     FROM enrollments WHERE campaign_id = $1 GROUP BY 1, 2 ORDER BY 1`,
    [C],
  );
  expect(rows).toEqual([
    { changes: 0, moved_by: '2 days', n: CANCELLED },
    { changes: 1, moved_by: '3 days', n: MEMBERS - CANCELLED },
  ]);
  const { rows: audited } = await db.query<{ n: number; members: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT a.workflow_id)::int AS members
     FROM audit_events a JOIN enrollments e ON e.workflow_id = a.workflow_id
     WHERE e.campaign_id = $1 AND a.type = 'SCHEDULE_CHANGED' AND a.payload->>'operationId' = $2
       AND a.payload->>'requestedBy' = 'ops-carol'`,
    [C, operationId],
  );
  expect(audited[0]).toEqual({ n: MEMBERS - CANCELLED, members: MEMBERS - CANCELLED });

  // One workflow task per member: the runs handed their lines to the operation (written above) instead of each
  // scheduling a durable record of its own. Members enrolled through the API have nothing else to write yet.
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    const temporal = new Client({ connection });
    for (const memberId of [ids[CANCELLED], ids[MEMBERS / 2], ids[MEMBERS - 1]]) {
      const { events } = await temporal.workflow.getHandle(`activation:${C}:${memberId}`).fetchHistory();
      const types = (events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter(Boolean);
      expect({ memberId, durableRecords: types.filter((t) => t === 'recordProgress').length }).toEqual({
        memberId,
        durableRecords: 0,
      });
    }
  } finally {
    await connection.close();
  }
}, 800_000);
