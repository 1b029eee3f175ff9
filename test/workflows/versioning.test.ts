/**
 * The patch `coalesce-search-attribute-upserts` (docs/versioning.md, the worked example): runs recorded before it
 * replay through the old branch, new runs take the new one, and a run asleep at the deploy switches when it next
 * runs live on the new code, its whole history still replaying. On the time-skipping test server with the real
 * activities; the code before the patch is the real workflow with `patched()` answered `false`.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../../src/activities';
import { putCampaign } from '../../src/db/campaigns';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { startPointsApi } from '../../src/dev/points-api';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor } from '../../src/domain/terms';
import { PATCHES, type ActivationInput, type memberActivation } from '../../src/workflows/member-activation';
import { applyTransactionsUpdate, memberViewQuery, transactionSignal } from '../../src/workflows/messages';
import { ActivationStateKey, CountedCentsKey } from '../../src/workflows/search-attributes';
import { bundleMemberWorkflow } from '../replay/derived-workflows';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { describeRun, loadFixtures, saveHistory } from '../support/histories';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal';
import { DAY, HOUR, TERMS } from './harness';

const PATCH = PATCHES.coalesceSearchAttributeUpserts;
const { EventType } = temporal.api.enums.v1;

let database: TestDatabase;
let db: Db;
let points: Awaited<ReturnType<typeof startPointsApi>>;
let env: TestWorkflowEnvironment | undefined;
let queue = 0;

beforeAll(async () => {
  database = await createTestDatabase('versioning');
  await migrate(database.url);
  db = createPool(database.url, 5);
  await putCampaign(db, TERMS);
  points = await startPointsApi({ port: 0 });
});
afterEach(async () => {
  // A fresh test server per test: it carries damage from one test to the next (see harness.ts).
  await env?.teardown();
  env = undefined;
});
afterAll(async () => {
  await points?.stop();
  await db?.end();
  await database?.drop();
});

const worker = (env: TestWorkflowEnvironment, taskQueue: string, codePath: string) =>
  Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath },
    // No sticky queue: the test server keeps sending a stopped worker's workflows to its sticky queue.
    maxCachedWorkflows: 0,
    activities: createActivities({ db, pointsApiUrl: points.url, pointsApiTimeoutMs: 1_000 }),
  });

async function enroll(env: TestWorkflowEnvironment, taskQueue: string, memberId: string) {
  const now = new Date(await env.currentTimeMs()).toISOString();
  const input: ActivationInput = {
    campaign: TERMS,
    memberId,
    schedule: scheduleFor(TERMS, now),
    rewardRetryForMs: DAY,
  };
  return env.client.workflow.start<typeof memberActivation>('memberActivation', {
    workflowId: `activation:${TERMS.campaignId}:${memberId}`,
    taskQueue,
    args: [input],
  });
}

const load = (memberId: string, n: number, amountCents: number): TransactionEvent => ({
  source: 'REALTIME',
  transactionId: `TX-${memberId}-${n}`,
  memberId,
  kind: 'LOAD',
  channel: 'DEBIT_CARD',
  amountCents,
  currency: 'AUD',
  occurredAt: new Date().toISOString(),
  receivedAt: new Date().toISOString(),
});

/**
 * Event ids of our upserts (ActivationState, CountedCents) and of the patch marker, in history order, and the patch
 * ids the SDK upserted into TemporalChangeVersion alongside the marker.
 */
async function upsertsAndMarker(handle: WorkflowHandle) {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const upserted = (e: (typeof events)[number]) =>
    Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
  const changeVersions = events
    .map((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TemporalChangeVersion)
    .filter((p) => p !== undefined && p !== null)
    .map((p) => defaultPayloadConverter.fromPayload<string[]>(p));
  return {
    history,
    upserts: events
      .filter((e) => upserted(e).some((k) => k === ActivationStateKey.name || k === CountedCentsKey.name))
      .map((e) => Number(e.eventId)),
    marker: describeRun(history).patches.includes(PATCH)
      ? Number(events.find((e) => markerOf(e) === PATCH)!.eventId)
      : undefined,
    changeVersions,
  };
}

/** The patch id a marker event records, if it is a patch marker. */
function markerOf(e: temporal.api.history.v1.IHistoryEvent): string | undefined {
  const marker = e.markerRecordedEventAttributes;
  if (e.eventType !== EventType.EVENT_TYPE_MARKER_RECORDED || marker?.markerName !== 'core_patch') return undefined;
  const payload = marker.details?.['patch-data']?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload<{ id?: string }>(payload).id : undefined;
}

const searchAttributes = async (handle: WorkflowHandle) => {
  const { typedSearchAttributes } = await handle.describe();
  return { state: typedSearchAttributes.get(ActivationStateKey), counted: typedSearchAttributes.get(CountedCentsKey) };
};

describe(`the patch ${PATCH}`, () => {
  it('a run recorded before it has no marker and upserted once per transaction; it replays on the old branch', async () => {
    // Recorded by the end-to-end crash test before the patch: one settlement update of 37 lines.
    const old = loadFixtures().find((f) => f.file === 'e2e-settlement-crash/activation_settle-crash_K-3.json')!;
    expect(old.patches).toEqual([]);
    const upserts = (old.history.events ?? []).filter(
      (e) => e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    );
    expect(upserts.length).toBeGreaterThan(30);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, old.history, old.workflowId);
  });

  it('a new run records the marker and upserts at most once per workflow task, only when the values change', async () => {
    // The code as it was between this patch and the lean recording (which coalesces too, without this marker).
    const betweenDeploys = await bundleMemberWorkflow('before-lean-recording');
    env = await createTimeSkippingEnv();
    const taskQueue = `versioning-${++queue}`;
    const w = await worker(env, taskQueue, betweenDeploys);
    await w.runUntil(async () => {
      const m = await enroll(env!, taskQueue, 'coalesced');
      const lines = [1, 2, 3, 4, 5].map((n) => load('coalesced', n, 12_000));
      await m.executeUpdate(applyTransactionsUpdate, { args: [lines] });
      // Changes nothing: a duplicate, and the settlement of an instant load already counted.
      await m.signal(transactionSignal, lines[0]);
      await m.signal(transactionSignal, {
        ...lines[1],
        source: 'SETTLEMENT',
        status: 'SETTLED',
        settledAt: lines[1].occurredAt,
      });
      expect(await m.query(memberViewQuery)).toMatchObject({ state: 'GOAL_ACHIEVED', settledCents: 12_000 });
      expect(await searchAttributes(m)).toEqual({ state: 'GOAL_ACHIEVED', counted: 60_000 });

      const before = await upsertsAndMarker(m);
      // At the start (ENROLLED, 0) unless the five lines came in the same workflow task (the first task waits for
      // its local activity, the recorder's), and once for the five lines; none for the two that changed nothing.
      expect(before.upserts.length).toBeGreaterThanOrEqual(1);
      expect(before.upserts.length).toBeLessThanOrEqual(2);
      expect(before.marker).toBeDefined();
      expect(before.marker!).toBeLessThan(before.upserts[0]);
      // With the marker, the SDK tags the run (TemporalChangeVersion) so that operators can find it by patch.
      expect(before.changeVersions).toEqual([[PATCH]]);

      await env!.sleep(30 * DAY + HOUR);
      expect(await m.result()).toMatchObject({ state: 'COMPLETED', reward: { status: 'ISSUED' } });
      // The publisher has run before the workflow returned: the Web UI's query sees the final state.
      expect(await searchAttributes(m)).toEqual({ state: 'COMPLETED', counted: 60_000 });
      const after = await upsertsAndMarker(m);
      // + CONFIRMING, PENDING_REWARD, COMPLETED. The code before the patch made 11 (one per line, duplicate, settlement).
      expect(after.upserts).toHaveLength(before.upserts.length + 3);
      await saveHistory('patched', `${PATCH}-new-run`, m);
      // The current code replays it: the run stays off the lean recording to its end.
      await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, after.history, m.workflowId);
    });
  });

  it('a run asleep at the deploy switches to the new branch when it next runs live, and replays whole', async () => {
    const beforePatch = await bundleMemberWorkflow('before-patch');
    env = await createTimeSkippingEnv();
    const taskQueue = `versioning-${++queue}`;
    const workflowId = `activation:${TERMS.campaignId}:across-deploy`;

    // Before the deploy: the old code hears three loads in one update.
    const old = await worker(env, taskQueue, beforePatch);
    await old.runUntil(async () => {
      const m = await enroll(env!, taskQueue, 'across-deploy');
      await m.executeUpdate(applyTransactionsUpdate, {
        args: [[1, 2, 3].map((n) => load('across-deploy', n, 10_000))],
      });
      expect(await searchAttributes(m)).toEqual({ state: 'ACTIVE', counted: 30_000 });
    });
    const handle = env.client.workflow.getHandle(workflowId);
    const atDeploy = await upsertsAndMarker(handle);
    expect(atDeploy.marker).toBeUndefined();
    expect(atDeploy.upserts).toHaveLength(4);

    // After the deploy: the new code replays the old part through the old branch, then takes the new one.
    const current = await worker(env, taskQueue, workflowBundle().codePath);
    await current.runUntil(async () => {
      await handle.executeUpdate(applyTransactionsUpdate, {
        args: [[4, 5, 6].map((n) => load('across-deploy', n, 10_000))],
      });
      expect(await searchAttributes(handle)).toEqual({ state: 'GOAL_ACHIEVED', counted: 60_000 });
      await env!.sleep(30 * DAY + HOUR);
      expect(await handle.result()).toMatchObject({ state: 'COMPLETED' });
    });
    const whole = await upsertsAndMarker(handle);
    expect(whole.marker).toBeGreaterThan(atDeploy.upserts[3]);
    // One upsert for the second update's three lines, then CONFIRMING, PENDING_REWARD, COMPLETED.
    expect(whole.upserts.filter((id) => id > whole.marker!)).toHaveLength(4);
    expect(await searchAttributes(handle)).toEqual({ state: 'COMPLETED', counted: 60_000 });
    await saveHistory('patched', `${PATCH}-across-deploy`, handle);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, whole.history, workflowId);
  }, 180_000);
});
