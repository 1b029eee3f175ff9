/**
 * A member-workflow test bench on real servers: the time-skipping Temporal test server, a fresh PostgreSQL
 * database, the local points API (with fault injection) and a worker running the real activities.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { putCampaign } from '../../src/db/campaigns';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { startPointsApi } from '../../src/dev/points-api';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor, type CampaignTerms } from '../../src/domain/terms';
import type { MemberView } from '../../src/domain/view';
import { workflowSinks } from '../../src/telemetry/temporal';
import { eventually as pollUntil } from '../support/stack';
import { memberViewQuery } from '../../src/workflows/messages';
import type { ActivationInput, memberActivation } from '../../src/workflows/member-activation';
import { createTestDatabase } from '../support/db';
import { createLocalEnv, createTimeSkippingEnv, workflowBundle } from '../support/temporal';

export const TERMS: CampaignTerms = {
  campaignId: 'wf-test',
  targetCents: 50_000,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD',
};

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export interface Bench {
  env: TestWorkflowEnvironment;
  db: Db;
  points: Awaited<ReturnType<typeof startPointsApi>>;
  taskQueue: string;
  /** Runs `fn` with a worker polling; the worker stops afterwards. */
  withWorker<T>(fn: () => Promise<T>): Promise<T>;
  enroll(memberId: string, opts?: Partial<ActivationInput>): Promise<Member>;
  teardown(): Promise<void>;
}

export interface Member {
  handle: WorkflowHandleWithFirstExecutionRunId<typeof memberActivation>;
  input: ActivationInput;
  memberId: string;
  /** ISO time `offsetMs` after enrollment. */
  at(offsetMs: number): string;
  send(ev: Partial<TransactionEvent> & { amountCents: number }): Promise<TransactionEvent>;
  view(): Promise<MemberView>;
}

let txCounter = 0;

export interface BenchOptions {
  pointsTimeoutMs?: number;
  /** `time-skipping` (default): the test server; `dev`: a real dev server, real time. */
  server?: 'time-skipping' | 'dev';
}

export async function createBench(opts: BenchOptions = {}): Promise<Bench> {
  const database = await createTestDatabase();
  await migrate(database.url);
  const db = createPool(database.url, 5);
  await putCampaign(db, TERMS);
  const points = await startPointsApi({ port: 0 });
  const taskQueue = `wf-${randomUUID()}`;
  /**
   * Each `withWorker` gets a Temporal server of its own. The time-skipping test server carries damage from one
   * test to the next: the timeout timers of finished workflows (its clock jumps to them when idle) and time-skipping
   * locks that activity retries sometimes leak, after which its clock never skips again. A fresh server costs
   * about a second.
   */
  let current: TestWorkflowEnvironment | undefined;
  const env = (): TestWorkflowEnvironment => {
    if (!current) throw new Error('the Temporal server runs only inside bench.withWorker()');
    return current;
  };

  const enrolled: Member[] = [];
  const captureRuns = async (name: string, handle: WorkflowHandleWithFirstExecutionRunId<typeof memberActivation>) => {
    if (!process.env.CAPTURE_HISTORIES) return;
    const client = env().client.workflow;
    await captureHistory(name, client.getHandle(handle.workflowId, handle.firstExecutionRunId));
    const latest = await client.getHandle(handle.workflowId).describe();
    if (latest.runId !== handle.firstExecutionRunId)
      await captureHistory(`${name}-continued`, client.getHandle(handle.workflowId));
  };

  const bench: Bench = {
    get env() {
      return env();
    },
    db,
    points,
    taskQueue,
    async withWorker(fn) {
      // The dev server logs every update it aborts for a continue-as-new (the client retries it) at ERROR.
      current =
        opts.server === 'dev'
          ? await createLocalEnv({ log: { format: 'pretty', level: 'never' } })
          : await createTimeSkippingEnv();
      try {
        const worker = await Worker.create({
          connection: current.nativeConnection,
          taskQueue,
          workflowBundle: workflowBundle(),
          sinks: workflowSinks(),
          activities: createActivities({
            db,
            pointsApiUrl: points.url,
            pointsApiTimeoutMs: opts.pointsTimeoutMs ?? 1_000,
          }),
        });
        const enrolledBefore = enrolled.length;
        return await worker.runUntil(async () => {
          const result = await fn();
          for (const m of enrolled.slice(enrolledBefore)) await captureRuns(m.memberId, m.handle);
          return result;
        });
      } finally {
        await current.teardown();
        current = undefined;
      }
    },
    async enroll(memberId, extra = {}) {
      const now = new Date(await env().currentTimeMs()).toISOString();
      const input: ActivationInput = {
        campaign: TERMS,
        memberId,
        schedule: scheduleFor(TERMS, now),
        rewardRetryForMs: DAY,
        ...extra,
      };
      const handle = await env().client.workflow.start<typeof memberActivation>('memberActivation', {
        workflowId: `activation:${input.campaign.campaignId}:${memberId}`,
        taskQueue,
        args: [input],
      });
      const t0 = Date.parse(input.schedule.enrolledAt);
      const member: Member = {
        handle,
        input,
        memberId,
        at: (offsetMs) => new Date(t0 + offsetMs).toISOString(),
        async send(ev) {
          txCounter += 1;
          const event: TransactionEvent = {
            source: 'REALTIME',
            transactionId: `TX-${memberId}-${txCounter}`,
            memberId,
            kind: 'LOAD',
            channel: 'DEBIT_CARD',
            currency: 'AUD',
            occurredAt: new Date(await env().currentTimeMs()).toISOString(),
            receivedAt: new Date(await env().currentTimeMs()).toISOString(),
            ...ev,
          };
          await handle.signal('transaction', event);
          return event;
        },
        view: () => handle.query(memberViewQuery),
      };
      enrolled.push(member);
      return member;
    },
    async teardown() {
      await points.stop();
      await db.end();
      await database.drop();
    },
  };
  return bench;
}

export const HISTORIES_DIR = path.join(__dirname, '..', 'fixtures', 'histories');

/**
 * With CAPTURE_HISTORIES=1, saves the workflow's history as a replay fixture: the replay test then proves
 * every later version of the workflow code still replays it (what a 32-day execution needs from a deploy).
 */
export async function captureHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (!process.env.CAPTURE_HISTORIES) return;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const history = await handle.fetchHistory();
  writeFileSync(
    path.join(HISTORIES_DIR, `${name}.json`),
    JSON.stringify({ workflowId: handle.workflowId, history: JSON.parse(historyToJSON(history)) }, null, 1),
  );
}

/** Polls until `fn` returns a truthy value (read models are eventually consistent). */
export const eventually = <T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> =>
  pollUntil(fn, timeoutMs, 'the condition');
