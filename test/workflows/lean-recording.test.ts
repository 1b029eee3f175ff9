/**
 * The patch `lean-recording` (issue 10): a new run records through a local activity, puts its notifications in the
 * PostgreSQL outbox with the record that caused them, and upserts search attributes only when its state changes; a run
 * begun before the deploy keeps the recording it started with to its end, and its whole history replays. On the
 * time-skipping test server with the real activities.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';

const { EventType } = temporal.api.enums.v1;
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { auditTrail } from '../../src/db/audit';
import { getEnrollment } from '../../src/db/enrollments';
import { putCampaign } from '../../src/db/campaigns';
import { migrate } from '../../src/db/migrate';
import { notificationsOf } from '../../src/db/notifications';
import { createPool, type Db } from '../../src/db/pool';
import { startPointsApi } from '../../src/dev/points-api';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor } from '../../src/domain/terms';
import { PATCHES, type ActivationInput, type memberActivation } from '../../src/workflows/member-activation';
import { memberViewQuery, transactionSignal } from '../../src/workflows/messages';
import { ActivationStateKey, CountedCentsKey } from '../../src/workflows/search-attributes';
import { bundleMemberWorkflow } from '../replay/derived-workflows';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { describeRun, saveHistory } from '../support/histories';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal';
import { DAY, HOUR, TERMS } from './harness';

const PATCH = PATCHES.leanRecording;

let database: TestDatabase;
let db: Db;
let points: Awaited<ReturnType<typeof startPointsApi>>;
let env: TestWorkflowEnvironment | undefined;
let queue = 0;

beforeAll(async () => {
  database = await createTestDatabase('lean_recording');
  await migrate(database.url);
  db = createPool(database.url, 5);
  await putCampaign(db, TERMS);
  points = await startPointsApi({ port: 0 });
});
afterEach(async () => {
  await env?.teardown();
  env = undefined;
});
afterAll(async () => {
  await points?.stop();
  await db?.end();
  await database?.drop();
});

const worker = (e: TestWorkflowEnvironment, taskQueue: string, codePath: string) =>
  Worker.create({
    connection: e.nativeConnection,
    taskQueue,
    workflowBundle: { codePath },
    maxCachedWorkflows: 0,
    activities: createActivities({ db, pointsApiUrl: points.url, pointsApiTimeoutMs: 1_000 }),
  });

/** Started as the API starts it: with the search attributes of a new enrollment. */
async function enroll(
  e: TestWorkflowEnvironment,
  taskQueue: string,
  memberId: string,
  extra: Partial<ActivationInput> = {},
) {
  const now = new Date(await e.currentTimeMs()).toISOString();
  const input: ActivationInput = {
    campaign: TERMS,
    memberId,
    schedule: scheduleFor(TERMS, now),
    rewardRetryForMs: DAY,
    ...extra,
  };
  return e.client.workflow.start<typeof memberActivation>('memberActivation', {
    workflowId: `activation:${TERMS.campaignId}:${memberId}`,
    taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: ActivationStateKey, value: 'ENROLLED' },
      { key: CountedCentsKey, value: 0 },
    ],
  });
}

const load = (memberId: string, n: number): TransactionEvent => ({
  source: 'REALTIME',
  transactionId: `TX-${memberId}-${n}`,
  memberId,
  kind: 'LOAD',
  channel: 'DEBIT_CARD',
  amountCents: 9_000,
  currency: 'AUD',
  occurredAt: new Date().toISOString(),
  receivedAt: new Date().toISOString(),
});

/** Sends a load and waits until the workflow has counted it. */
async function hear(handle: WorkflowHandle, memberId: string, n: number) {
  await handle.signal(transactionSignal, load(memberId, n));
  for (let i = 0; i < 100; i++) {
    if ((await handle.query(memberViewQuery)).countedCents === n * 9_000) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`load ${n} not counted`);
}

interface Shape {
  activities: string[];
  localActivityMarkers: number;
  /** Upserts of our search attributes (ActivationState, CountedCents), in order, with the state they set. */
  stateUpserts: string[];
  changeVersions: string[][];
}

async function shapeOf(handle: WorkflowHandle): Promise<Shape> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const fields = (e: (typeof events)[number]) =>
    e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
  return {
    activities: events
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((n): n is string => Boolean(n)),
    localActivityMarkers: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .length,
    stateUpserts: events
      .filter((e) => fields(e)[ActivationStateKey.name])
      .map((e) => defaultPayloadConverter.fromPayload<string[] | string>(fields(e)[ActivationStateKey.name]!))
      .map((v) => (Array.isArray(v) ? v[0] : v)),
    changeVersions: events
      .map((e) => fields(e).TemporalChangeVersion)
      .filter((p) => p !== undefined && p !== null)
      .map((p) => defaultPayloadConverter.fromPayload<string[]>(p)),
  };
}

describe(`the patch ${PATCH}`, () => {
  it('a new run records locally, notifies through the outbox and upserts only when its state changes', async () => {
    env = await createTimeSkippingEnv();
    const taskQueue = `lean-${++queue}`;
    const w = await worker(env, taskQueue, workflowBundle().codePath);
    await w.runUntil(async () => {
      const m = await enroll(env!, taskQueue, 'lean');
      await hear(m, 'lean', 1);
      await hear(m, 'lean', 2);
      await hear(m, 'lean', 3);
      // From load 2's signal on, once load 3's record (a marker after its signal) is in the history.
      let between: temporal.api.history.v1.IHistoryEvent[] = [];
      for (let i = 0; i < 100; i++) {
        const events = (await m.fetchHistory()).events!;
        const signals = events.flatMap((e, at) =>
          e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED ? [at] : [],
        );
        between = events.slice(signals[1]);
        if (events.slice(signals[2]).some((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // What loads 2 and 3 cost: per load its signal and one local activity's marker; no activity, no upsert (the
      // workflow tasks around them are the server's business: the dev server needs one per load, see bench/).
      const count = (type: keyof typeof EventType) => between.filter((e) => e.eventType === EventType[type]).length;
      expect(count('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED')).toBe(2);
      expect(count('EVENT_TYPE_MARKER_RECORDED')).toBe(2);
      expect(count('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED')).toBe(0);
      expect(count('EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES')).toBe(0);
      for (const n of [4, 5]) await hear(m, 'lean', n);

      const mid = await shapeOf(m);
      // New runs take the later patch too (safe-seams: how records are versioned and bounded, test/workflows/safe-seams).
      expect(describeRun(await m.fetchHistory()).patches).toEqual([PATCH, PATCHES.safeSeams].sort());
      expect(mid.changeVersions).toEqual([[PATCH], [PATCH, PATCHES.safeSeams]]);
      // One activity so far: the enrollment's record, durable for its notification. Each load's record is local.
      expect(mid.activities).toEqual(['recordProgress']);
      expect(mid.localActivityMarkers).toBeGreaterThanOrEqual(4);
      // ENROLLED was set at the start; ACTIVE with the first load; loads 2 to 5 changed only the amount.
      expect(mid.stateUpserts).toEqual(['ACTIVE']);
      // The read model shows every load; their audit lines wait for the next durable record (none is speculative).
      expect((await getEnrollment(db, TERMS.campaignId, 'lean'))?.countedCents).toBe(45_000);
      const heard = async () =>
        (await auditTrail(db, m.workflowId)).filter((a) => a.type === 'TRANSACTION_RECEIVED').length;
      expect(await heard()).toBe(0);

      await hear(m, 'lean', 6);
      expect((await shapeOf(m)).stateUpserts).toEqual(['ACTIVE', 'GOAL_ACHIEVED']);
      // The goal's notification takes a durable record, and the waiting audit lines go with it.
      for (let i = 0; i < 100 && (await heard()) < 6; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await heard()).toBe(6);
      // Asleep in its window: what the next deploy meets most.
      await saveHistory('patched', `${PATCH}-asleep-in-window`, m);
      await env!.sleep(30 * DAY + HOUR);
      expect(await m.result()).toMatchObject({ state: 'COMPLETED', reward: { status: 'ISSUED' } });
      const end = await shapeOf(m);
      expect(end.activities.filter((a) => a !== 'recordProgress')).toEqual(['issueReward']);
      expect(end.stateUpserts).toEqual(['ACTIVE', 'GOAL_ACHIEVED', 'CONFIRMING', 'PENDING_REWARD', 'COMPLETED']);

      // Each notification in the outbox once, with its audit line: written by the recorder, not a notify activity.
      expect(end.activities).not.toContain('notify');
      const notified = await notificationsOf(db, TERMS.campaignId, 'lean');
      expect(notified.map((n) => n.type)).toEqual(['ENROLLED', 'GOAL_ACHIEVED', 'REWARD_ISSUED']);
      expect(notified.every((n) => n.status === 'RECORDED')).toBe(true);
      const trail = await auditTrail(db, m.workflowId);
      expect(trail.filter((a) => a.type === 'NOTIFICATION').map((a) => a.eventKey)).toEqual(
        notified.map((n) => `notification:${n.id}`),
      );
      await saveHistory('patched', `${PATCH}-new-run`, m);
      await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await m.fetchHistory(), m.workflowId);
    });
  });

  it('a run the API recorded at enrollment writes nothing before its first news; one whose row was lost writes it all then', async () => {
    env = await createTimeSkippingEnv();
    const taskQueue = `lean-${++queue}`;
    const w = await worker(env, taskQueue, workflowBundle().codePath);
    await w.runUntil(async () => {
      // As the API starts it (its transaction wrote the row, the ENROLLED line and notification): no record at all.
      const m = await enroll(env!, taskQueue, 'lean-api', { recordedAtEnrollment: true });
      await new Promise((r) => setTimeout(r, 300));
      expect((await shapeOf(m)).activities).toEqual([]);
      expect(await getEnrollment(db, TERMS.campaignId, 'lean-api')).toBeUndefined(); // this test has no API
      // Its first news: a fast record, which finds no row (the API's transaction lost) and writes the start's record.
      await hear(m, 'lean-api', 1);
      for (let i = 0; i < 100 && !(await getEnrollment(db, TERMS.campaignId, 'lean-api')); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await getEnrollment(db, TERMS.campaignId, 'lean-api')).toMatchObject({
        state: 'ACTIVE',
        countedCents: 9_000,
      });
      expect((await notificationsOf(db, TERMS.campaignId, 'lean-api')).map((n) => n.type)).toEqual(['ENROLLED']);
      expect((await auditTrail(db, m.workflowId)).map((a) => a.eventKey)).toEqual([
        'enrolled',
        `notification:${m.workflowId}:ENROLLED`,
      ]);
      await hear(m, 'lean-api', 2);
      // The ENROLLED notification is never queued again by the run.
      await env!.sleep(30 * DAY + HOUR);
      await m.result();
      expect((await notificationsOf(db, TERMS.campaignId, 'lean-api')).map((n) => n.type)).toEqual([
        'ENROLLED',
        'NOT_ELIGIBLE',
      ]);
      await saveHistory('patched', `${PATCH}-recorded-at-enrollment`, m);
    });
  });

  it('a run begun before the deploy keeps its recording to its end, and replays whole', async () => {
    const before = await bundleMemberWorkflow('before-lean-recording');
    env = await createTimeSkippingEnv();
    const taskQueue = `lean-${++queue}`;
    const old = await worker(env, taskQueue, before);
    await old.runUntil(async () => {
      const m = await enroll(env!, taskQueue, 'lean-across');
      await hear(m, 'lean-across', 1);
      await hear(m, 'lean-across', 2);
    });
    const handle = env.client.workflow.getHandle(`activation:${TERMS.campaignId}:lean-across`);
    const atDeploy = await shapeOf(handle);
    // The old recording: activities (how many records, depends on how the loads fell into workflow tasks).
    expect(atDeploy.activities).toContain('notify');
    expect(atDeploy.activities.filter((a) => a === 'recordProgress').length).toBeGreaterThanOrEqual(2);

    const current = await worker(env, taskQueue, workflowBundle().codePath);
    await current.runUntil(async () => {
      for (const n of [3, 4, 5, 6]) await hear(handle, 'lean-across', n);
      await env!.sleep(30 * DAY + HOUR);
      expect(await handle.result()).toMatchObject({ state: 'COMPLETED' });
    });
    const whole = await shapeOf(handle);
    expect(describeRun(await handle.fetchHistory()).patches).not.toContain(PATCH);
    expect(whole.localActivityMarkers).toBe(0);
    expect(whole.activities.filter((a) => a === 'notify')).toHaveLength(3);
    await saveHistory('patched', `${PATCH}-across-deploy`, handle);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await handle.fetchHistory(), handle.workflowId);
  }, 180_000);
});
