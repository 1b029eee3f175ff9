/**
 * The patch safe-seams (docs/versioning.md): the seams where a run's record, its workflow task and its continue-as-new
 * meet, driven deterministically on a real dev server. The worker's recordProgress can be held (a gate), which is what a
 * slow database does to it, so each test builds exactly the interleaving it names. Each seam is also played on the code
 * before the patch (`before-safe-seams`), which shows what went wrong there.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../../src/activities';
import { putCampaign } from '../../src/db/campaigns';
import { getEnrollment, getLedger } from '../../src/db/enrollments';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { totals } from '../../src/domain/evaluation';
import type { TransactionEvent } from '../../src/domain/model';
import type { ProgressRecord } from '../../src/domain/records';
import { scheduleFor } from '../../src/domain/terms';
import { workflowSinks } from '../../src/telemetry/temporal';
import { applyTransactionsUpdate, memberViewQuery, transactionSignal } from '../../src/workflows/messages';
import type { memberActivation } from '../../src/workflows/member-activation';
import { PATCHES, recordVersion, type ActivationInput } from '../../src/workflows/member-state';
import { bundleMemberWorkflow } from '../replay/derived-workflows';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { describeRun, saveHistory } from '../support/histories';
import { addShapes, emptyShapes } from '../support/history-shapes';
import { createLocalEnv, workflowBundle } from '../support/temporal';
import { eventually, TERMS } from './harness';

jest.setTimeout(180_000);

const { EventType } = temporal.api.enums.v1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let database: TestDatabase;
let db: Db;
let env: TestWorkflowEnvironment;
let before: string;

beforeAll(async () => {
  database = await createTestDatabase('safe-seams');
  await migrate(database.url);
  db = createPool(database.url, 8);
  await putCampaign(db, TERMS);
  [env, before] = await Promise.all([
    createLocalEnv({ log: { format: 'pretty', level: 'never' as never } }),
    bundleMemberWorkflow('before-safe-seams'),
  ]);
});
afterAll(async () => {
  await env?.teardown();
  await db?.end();
  await database?.drop();
});

/** A worker whose recordProgress waits while the gate is closed, and can be made to hang (a stalled database). */
function gatedWorker(codePath: string) {
  const taskQueue = `seams-${randomUUID()}`;
  const base = createActivities({ db, pointsApiUrl: 'http://127.0.0.1:9', pointsApiTimeoutMs: 1_000 });
  let gate: Promise<void> | undefined;
  let release = (): void => undefined;
  const records: ProgressRecord[] = [];
  const held = { count: 0 };
  return {
    taskQueue,
    records,
    /** Records waiting at the gate. */
    held,
    close() {
      gate = new Promise((r) => (release = r));
    },
    open() {
      gate = undefined;
      release();
    },
    create: () =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: { codePath },
        sinks: workflowSinks(),
        activities: {
          ...base,
          async recordProgress(r: ProgressRecord) {
            if (gate) {
              held.count += 1;
              await gate;
              held.count -= 1;
            }
            records.push(r);
            return base.recordProgress(r);
          },
        },
      }),
  };
}

let tx = 0;
const load = (memberId: string, amountCents: number): TransactionEvent => ({
  source: 'REALTIME',
  transactionId: `SEAM-${memberId}-${++tx}`,
  memberId,
  kind: 'LOAD',
  channel: 'DEBIT_CARD',
  currency: 'AUD',
  amountCents,
  occurredAt: new Date().toISOString(),
  receivedAt: new Date().toISOString(),
});

async function start(taskQueue: string, memberId: string, extra: Partial<ActivationInput> = {}) {
  const input: ActivationInput = {
    campaign: TERMS,
    memberId,
    schedule: scheduleFor(TERMS, new Date().toISOString()),
    rewardRetryForMs: 60_000,
    ...extra,
  };
  return env.client.workflow.start<typeof memberActivation>('memberActivation', {
    workflowId: `activation:${TERMS.campaignId}:${memberId}`,
    taskQueue,
    args: [input],
  });
}

/** What the stored read model says: the view's count, and the stored ledger's (what the explanation shows). */
async function stored(memberId: string) {
  const e = (await getEnrollment(db, TERMS.campaignId, memberId))!;
  const ledger = await getLedger(db, e.workflowId);
  return { view: e.countedCents, ledger: totals(ledger, e).countedCents, entries: Object.keys(ledger).length };
}

const eventTypes = async (h: WorkflowHandle) =>
  ((await h.fetchHistory()).events ?? []).map((e) => EventType[e.eventType!].replace('EVENT_TYPE_', ''));

/**
 * The seam of the storms: a settlement update's record lands (a local activity, before its task is committed), the task
 * then fails because a load arrived while it continued as new, the server aborts the update, and the retried task
 * records the load under the same audit sequence number. Returns what the read model holds once all is quiet.
 */
async function updateAbortedByContinueAsNew(codePath: string, memberId: string) {
  const w = gatedWorker(codePath);
  const worker = await w.create();
  return worker.runUntil(async () => {
    /** Enrolls, lets the start settle, hears a first load and records it: the history length then. */
    const settle = async (id: string, historyEventLimit: number) => {
      const h = await start(w.taskQueue, id, { historyEventLimit });
      await eventually(async () => (await stored(id)).entries === 0 && (await eventTypes(h)).length > 4);
      await sleep(500);
      const first = load(id, 1_000);
      await h.signal(transactionSignal, first);
      await eventually(async () => (await stored(id)).view === 1_000);
      await sleep(500);
      return { h, first, length: (await eventTypes(h)).length };
    };
    // The same steps with no continue-as-new: how long the history is when the update comes.
    const probe = await settle(`${memberId}-probe`, 10_000);
    // Continue-as-new becomes due in the update's task (two events later), not before.
    const { h, first, length } = await settle(memberId, probe.length + 1);
    expect(length).toBe(probe.length);

    w.close();
    const a = load(memberId, 2_000);
    const update = h.executeUpdate(applyTransactionsUpdate, { args: [[a]], updateId: `u-${a.transactionId}` }).then(
      () => 'answered',
      () => 'aborted',
    );
    // The update's task runs; its record waits at the gate. A load arrives during that task.
    try {
      await eventually(async () => w.held.count > 0);
    } finally {
      if (w.held.count === 0) w.open();
    }
    await sleep(300);
    const b = load(memberId, 4_000);
    await h.signal(transactionSignal, b);
    w.open();
    // Whatever the update's fate, its sender tries again until answered (as the settlement batch does).
    const fate = await update;
    if (fate === 'aborted') {
      await eventually(async () => {
        try {
          await env.client.workflow
            .getHandle(h.workflowId)
            .executeUpdate(applyTransactionsUpdate, { args: [[a]], updateId: `u2-${a.transactionId}` });
          return true;
        } catch {
          return false;
        }
      }, 30_000);
    }
    const expected = first.amountCents + a.amountCents + b.amountCents;
    await eventually(
      async () => (await env.client.workflow.getHandle(h.workflowId).query(memberViewQuery)).countedCents === expected,
      30_000,
    );
    await eventually(async () => (await stored(memberId)).view === expected, 30_000);
    await sleep(1_000);
    const firstRun = env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId);
    if (process.env.SEAMS_DEBUG) {
      console.log(
        memberId,
        fate,
        (await eventTypes(firstRun)).join(' '),
        JSON.stringify(w.records.map((r) => [r.version, r.entries.map((e) => e.transactionId)])),
      );
    }
    return { expected, fate, ...(await stored(memberId)), firstRun };
  });
}

describe(`the patch ${PATCHES.safeSeams}`, () => {
  it('the stored ledger counts what the view counts when a record lands from a task that is then retried', async () => {
    const now = await updateAbortedByContinueAsNew(workflowBundle().codePath, 'seam-now');
    expect(now).toMatchObject({ view: now.expected, ledger: now.expected, entries: 3 });
    const shape = describeRun(await now.firstRun.fetchHistory());
    expect(shape.patches).toEqual([PATCHES.leanRecording, PATCHES.safeSeams].sort());
    await saveHistory('patched', `${PATCHES.safeSeams}-update-and-load-at-continue-as-new`, now.firstRun);
  });

  it('(the code before the patch lost the ledger entry of the load heard in the retried task)', async () => {
    const old = await updateAbortedByContinueAsNew(before, 'seam-before');
    // The view counts all three loads; the stored ledger (the explanation) lacks one of them.
    expect(old.view).toBe(old.expected);
    expect(old.ledger).toBeLessThan(old.expected);
    await saveHistory('patched', 'before-safe-seams-ledger-entry-lost', old.firstRun);
  });

  it('a run begun before the deploy keeps its versions to its continue-as-new; the next run takes the patch; both replay', async () => {
    const old = gatedWorker(before);
    // Both workers poll one task queue, one after the other.
    const taskQueue = old.taskQueue;
    const h = await (async () => {
      const w = await old.create();
      return w.runUntil(async () => {
        const handle = await start(taskQueue, 'seam-deploy', { historyEventLimit: 26 });
        await handle.signal(transactionSignal, load('seam-deploy', 300));
        await eventually(async () => (await stored('seam-deploy')).view === 300);
        return handle;
      });
    })();
    const w = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      sinks: workflowSinks(),
      activities: createActivities({ db, pointsApiUrl: 'http://127.0.0.1:9', pointsApiTimeoutMs: 1_000 }),
    });
    await w.runUntil(async () => {
      for (let i = 0; i < 12; i++) await h.signal(transactionSignal, load('seam-deploy', 100));
      await eventually(async () => (await h.describe()).runId !== h.firstExecutionRunId, 30_000);
      await eventually(async () => (await stored('seam-deploy')).view === 1_500, 30_000);
    });
    const first = env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId);
    expect(describeRun(await first.fetchHistory()).patches).toEqual([PATCHES.leanRecording]);
    expect(describeRun(await h.fetchHistory()).patches).toEqual([PATCHES.leanRecording, PATCHES.safeSeams].sort());
    // The old run versioned by its audit sequence (tens); the new run by run, task and place: far above.
    const { version } = (await getEnrollment(db, TERMS.campaignId, 'seam-deploy'))!;
    expect(version).toBeGreaterThanOrEqual(recordVersion(0, 3, 1));
    await saveHistory('patched', `${PATCHES.safeSeams}-across-deploy`, first);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await first.fetchHistory(), h.workflowId);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await h.fetchHistory(), h.workflowId);
  });

  it('a retried task records newer than its failed attempt, whatever the attempt heard', () => {
    // Attempt 1 at history length 40 heard more (sequence 9); its retry starts later in the history (44).
    expect(recordVersion(0, 44, 1)).toBeGreaterThan(recordVersion(0, 40, 3));
    // A new run is newer than its predecessor's last record, however long that history was.
    expect(recordVersion(1, 3, 1)).toBeGreaterThan(recordVersion(0, 51_200, 99));
    // Every version fits Last-Event-ID (15 digits) and is newer than the API's 0 and any audit sequence.
    expect(String(recordVersion(4_095, 65_535, 2 ** 21 - 1)).length).toBeLessThanOrEqual(15);
    expect(recordVersion(0, 3, 1)).toBeGreaterThan(10_000);
  });

  it('(the shape a load was seen lost in — continue-as-new failed with UnhandledCommand right after a task that only recorded a marker — keeps the load on the code before the patch too)', async () => {
    // Played exactly: the first load's record held past the task's heartbeat, so a task that only records its marker
    // follows; then a load whose task continues as new while its record is held, and a second load during that task.
    const w = gatedWorker(before);
    const worker = await w.create();
    await worker.runUntil(async () => {
      const run = async (memberId: string, historyEventLimit: number) => {
        const h = await start(w.taskQueue, memberId, { historyEventLimit });
        await sleep(1_500);
        const loads = [load(memberId, 100), load(memberId, 200), load(memberId, 400)];
        w.close();
        await h.signal(transactionSignal, loads[0]);
        await sleep(9_000);
        w.open();
        await sleep(1_000);
        w.close();
        await h.signal(transactionSignal, loads[1]);
        await sleep(600);
        await h.signal(transactionSignal, loads[2]);
        await sleep(300);
        w.open();
        return { h, expected: 700 };
      };
      // How long the history is when the second load's task starts, without continue-as-new.
      const probe = await run('shape-probe', 10_000);
      await eventually(async () => (await stored('shape-probe')).view === 700, 30_000);
      const types = await eventTypes(probe.h);
      const second = types.lastIndexOf(
        'WORKFLOW_EXECUTION_SIGNALED',
        types.lastIndexOf('WORKFLOW_EXECUTION_SIGNALED') - 1,
      );
      const { h } = await run('shape', types.indexOf('WORKFLOW_TASK_STARTED', second));
      await eventually(async () => (await h.describe()).runId !== h.firstExecutionRunId, 30_000);
      const first = env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId);
      const shapes = addShapes(emptyShapes(), await first.fetchHistory());
      expect(shapes).toMatchObject({ continuedAsNew: 1, continuedAfterUnhandledCommandAfterMarkerOnlyTask: 1 });
      await eventually(
        async () => (await env.client.workflow.getHandle(h.workflowId).query(memberViewQuery)).countedCents === 700,
        30_000,
      );
      await saveHistory('patched', 'before-safe-seams-unhandled-command-after-marker-only-task', first);
    });
  });

  it('continue-as-new waits for a timer of its own: the hand-over is never in a task that only resolves a record', async () => {
    const w = gatedWorker(workflowBundle().codePath);
    const worker = await w.create();
    await worker.runUntil(async () => {
      const h = await start(w.taskQueue, 'seam-handover', { historyEventLimit: 12 });
      for (let i = 0; i < 4; i++) await h.signal(transactionSignal, load('seam-handover', 500));
      await eventually(async () => (await h.describe()).runId !== h.firstExecutionRunId, 30_000);
      const first = env.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId);
      const types = await eventTypes(first);
      const can = types.lastIndexOf('WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
      // …TIMER_STARTED … TIMER_FIRED, WORKFLOW_TASK_SCHEDULED, _STARTED, _COMPLETED, CONTINUED_AS_NEW.
      expect(types.slice(can - 4, can)).toEqual([
        'TIMER_FIRED',
        'WORKFLOW_TASK_SCHEDULED',
        'WORKFLOW_TASK_STARTED',
        'WORKFLOW_TASK_COMPLETED',
      ]);
      await eventually(async () => (await stored('seam-handover')).view === 2_000, 30_000);
      await saveHistory('patched', `${PATCHES.safeSeams}-continued-as-new`, first);
    });
  });

  it('a fast record that cannot reach the database gives up within seconds and the run records durably instead', async () => {
    const w = gatedWorker(workflowBundle().codePath);
    const worker = await w.create();
    await worker.runUntil(async () => {
      const h = await start(w.taskQueue, 'seam-stalled');
      await h.signal(transactionSignal, load('seam-stalled', 700));
      await eventually(async () => (await stored('seam-stalled')).view === 700);
      // The database stalls for 12 s: longer than a workflow task may take (10 s).
      w.close();
      const stalledAt = Date.now();
      await h.signal(transactionSignal, load('seam-stalled', 800));
      await sleep(12_000);
      w.open();
      await eventually(async () => (await stored('seam-stalled')).view === 1_500, 30_000);
      const recoveredIn = Date.now() - stalledAt - 12_000;
      expect(recoveredIn).toBeLessThan(20_000);
      const types = await eventTypes(h);
      // No workflow task timed out or heartbeated for the record: the local activity failed (a marker), then an
      // activity recorded.
      expect(types).not.toContain('WORKFLOW_TASK_TIMED_OUT');
      const lastMarker = types.lastIndexOf('MARKER_RECORDED');
      expect(types.indexOf('ACTIVITY_TASK_SCHEDULED', lastMarker)).toBeGreaterThan(lastMarker);
      await saveHistory('patched', `${PATCHES.safeSeams}-stalled-record`, h);
    });
  });
});
