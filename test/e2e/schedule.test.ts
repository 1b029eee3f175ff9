/**
 * Moving deadlines end to end (issue 12): through the real API, on the stack `npm start` runs (embedded PostgreSQL,
 * the Temporal dev server, the worker), in real time with a campaign of seconds. A deadline moved mid-window; a load
 * only the new window holds counts and is rewarded; the member beside it, whose window did not move, is not; the
 * refusals and bad input answer in the contract's error shape and change nothing.
 */
import { Client, Connection } from '@temporalio/client';
import { auditTrail } from '../../src/db/audit';
import { createPool, type Db } from '../../src/db/pool';
import { eventually, startTestStack, type TestStack } from '../support/stack';
import { captureHistories } from '../support/histories';
import { workflowBundle } from '../support/temporal';

const CAMPAIGN = 'moving-e2e';
let stack: TestStack;
let db: Db;
let connection: Connection;
let temporal: Client;

beforeAll(async () => {
  stack = await startTestStack({ WORKFLOW_BUNDLE: workflowBundle().codePath });
  db = createPool(stack.databaseUrl, 2);
  connection = await Connection.connect({ address: stack.temporalAddress });
  temporal = new Client({ connection });
  // A window of 8 s and a grace period of 3 s: the window is moved by 10 s, the grace period by 2 s.
  const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'PT8S', grace: 'PT3S' };
  expect((await stack.api('PUT', `/v1/campaigns/${CAMPAIGN}`, terms)).status).toBe(201);
}, 180_000);
afterAll(async () => {
  await connection?.close();
  await db?.end();
  await stack?.destroy();
});

interface View {
  state: string;
  windowEndsAt: string;
  evaluatesAt: string;
  countedCents: number;
  scheduleChanges?: { requestedBy?: string; reason: string; windowEndsAt: { from: string; to: string } }[];
}
interface ErrorBody {
  error: { code: string; message: string; details: unknown[] };
}

async function call<T>(method: string, p: string, body?: unknown, callerId?: string) {
  const res = await fetch(`${stack.apiUrl}${p}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...(callerId ? { 'X-Caller-Id': callerId } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const member = (m: string) => `/v1/campaigns/${CAMPAIGN}/members/${m}`;
const load = (memberId: string, transactionId: string) =>
  call('POST', '/v1/transactions', {
    transactionId,
    memberId,
    kind: 'LOAD',
    channel: 'DEBIT_CARD',
    amountCents: 60_000,
    currency: 'AUD',
    occurredAt: new Date().toISOString(),
  });
const view = async (m: string) => (await call<View>('GET', member(m))).body;
const sleepUntil = async (iso: string) => {
  const ms = Date.parse(iso) - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
};

it('a window moved mid-window counts a load only the new window holds; the member beside it does not', async () => {
  for (const m of ['M-moved', 'M-kept']) {
    expect((await call('POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: m })).status).toBe(201);
  }
  const before = await view('M-moved');
  const moved = await call<View>(
    'POST',
    `${member('M-moved')}/schedule`,
    { extendWindowBy: 'PT10S', reason: 'card processor down for six hours' },
    'ops-alice',
  );
  expect(moved.status).toBe(200);
  expect(Date.parse(moved.body.windowEndsAt) - Date.parse(before.windowEndsAt)).toBe(10_000);
  expect(Date.parse(moved.body.evaluatesAt) - Date.parse(before.evaluatesAt)).toBe(10_000);
  expect(moved.body.scheduleChanges).toEqual([
    expect.objectContaining({
      requestedBy: 'ops-alice',
      reason: 'card processor down for six hours',
      windowEndsAt: { from: before.windowEndsAt, to: moved.body.windowEndsAt },
    }),
  ]);
  // The read model shows the new deadlines, and the Web UI's EvaluatesAt follows.
  await eventually(async () => (await view('M-moved')).windowEndsAt === moved.body.windowEndsAt, 10_000, 'the view');
  await eventually(
    async () => {
      const d = await temporal.workflow.getHandle(`activation:${CAMPAIGN}:M-moved`).describe();
      const at = d.searchAttributes.EvaluatesAt?.[0] as Date | undefined;
      return at?.getTime() === Date.parse(moved.body.evaluatesAt);
    },
    10_000,
    'EvaluatesAt to follow',
  );

  // After the campaign's window (of both members: the second was enrolled a little later), inside the moved one: the
  // same load for both members.
  const kept = await view('M-kept');
  const bothEnded = Math.max(Date.parse(before.windowEndsAt), Date.parse(kept.windowEndsAt)) + 500;
  expect(bothEnded).toBeLessThan(Date.parse(moved.body.windowEndsAt) - 2_000);
  await sleepUntil(new Date(bothEnded).toISOString());
  expect((await load('M-moved', 'T-moved-1')).status).toBe(202);
  expect((await load('M-kept', 'T-kept-1')).status).toBe(202);
  await eventually(async () => (await view('M-moved')).state === 'GOAL_ACHIEVED', 10_000, 'the load to count');
  const why = await call<{ counted: { transactionId: string; detail?: string }[] }>(
    'GET',
    `${member('M-moved')}/explanation`,
  );
  expect(why.body.counted).toEqual([
    expect.objectContaining({ transactionId: 'T-moved-1', detail: expect.stringContaining('ops-alice') }),
  ]);

  // The member whose window did not move: the window has ended, so the window cannot move any more.
  const closed = await call<ErrorBody>('POST', `${member('M-kept')}/schedule`, { extendWindowBy: 'PT5S', reason: 'x' });
  expect(closed.status).toBe(409);
  expect(closed.body.error.code).toBe('WINDOW_CLOSED');
  const graced = await call<View>('POST', `${member('M-kept')}/schedule`, {
    extendGraceBy: 'PT2S',
    reason: 'file late',
  });
  expect(graced.status).toBe(200);

  await eventually(async () => (await view('M-moved')).state === 'COMPLETED', 30_000, 'the reward');
  await eventually(async () => (await view('M-kept')).state === 'NOT_ELIGIBLE', 30_000, 'the verdict');
  expect(await view('M-kept')).toMatchObject({ countedCents: 0 });
  const decided = await call<ErrorBody>('POST', `${member('M-kept')}/schedule`, { extendGraceBy: 'PT1S', reason: 'x' });
  expect(decided.status).toBe(409);
  expect(decided.body.error.code).toBe('ALREADY_DECIDED');

  const trail = await auditTrail(db, `activation:${CAMPAIGN}:M-moved`);
  const change = trail.find((a) => a.type === 'SCHEDULE_CHANGED');
  expect(change?.payload).toMatchObject({
    requestedBy: 'ops-alice',
    reason: 'card processor down for six hours',
    windowEndsAt: { from: before.windowEndsAt, to: moved.body.windowEndsAt },
    evaluatesAt: { from: before.evaluatesAt, to: moved.body.evaluatesAt },
  });
  await captureHistories(temporal, { group: 'e2e-schedule', capturedFrom: 'test/e2e/schedule.test.ts' });
}, 120_000);

it('bad input is a 400 and an unknown member a 404, in the error shape, changing nothing', async () => {
  expect((await call('POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: 'M-bad' })).status).toBe(201);
  const before = await view('M-bad');
  for (const body of [
    {},
    { reason: 'no extension' },
    { extendWindowBy: 'P0D', reason: 'zero' },
    { extendWindowBy: '-P1D', reason: 'backwards' },
    { extendGraceBy: 'P31D', reason: 'too far' },
    { extendWindowBy: 'P1M', reason: 'months are calendar-dependent' },
    { extendWindowBy: 'P1D' },
    { extendWindowBy: 'P1D', reason: '' },
    { extendWindowBy: 'P1D', reason: 'x', extra: true },
  ]) {
    const res = await call<ErrorBody>('POST', `${member('M-bad')}/schedule`, body);
    expect([res.status, res.body.error?.code, JSON.stringify(body)]).toEqual([
      400,
      'VALIDATION_FAILED',
      JSON.stringify(body),
    ]);
  }
  const missing = await call<ErrorBody>('POST', `${member('M-nobody')}/schedule`, {
    extendGraceBy: 'P1D',
    reason: 'x',
  });
  expect([missing.status, missing.body.error.code]).toEqual([404, 'NOT_FOUND']);
  // 20 days, then 11 more: over the 30 days in all.
  expect((await call('POST', `${member('M-bad')}/schedule`, { extendGraceBy: 'P20D', reason: 'a' })).status).toBe(200);
  const limit = await call<ErrorBody>('POST', `${member('M-bad')}/schedule`, { extendGraceBy: 'P11D', reason: 'b' });
  expect([limit.status, limit.body.error.code]).toEqual([409, 'EXTENSION_LIMIT']);
  const after = await view('M-bad');
  expect(after.windowEndsAt).toBe(before.windowEndsAt);
  expect(Date.parse(after.evaluatesAt) - Date.parse(before.evaluatesAt)).toBe(20 * 86_400_000);
  expect(after.scheduleChanges).toHaveLength(1);
  await call('POST', `${member('M-bad')}/cancel`, { reason: 'test over' });
}, 60_000);
