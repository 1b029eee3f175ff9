/**
 * The slow-database scenario, shared by the workflow test (workflows/slow-database.test.ts) and the bench's larger run
 * of it (bench/wedge.ts): members keep hearing loads while the worker's PostgreSQL (behind a delay proxy) first stalls
 * a few times, then answers everything late for a while; then it is healthy again and the loads stop. How long until
 * every member's stored view counts everything it was sent (the recovery), and what the workflow tasks went through
 * meanwhile (history-shapes.ts: the longest task, tasks timed out).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import type { Db } from '../../src/db/pool';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor, type CampaignTerms } from '../../src/domain/terms';
import { workflowSinks } from '../../src/telemetry/temporal';
import { transactionSignal } from '../../src/workflows/messages';
import type { memberActivation } from '../../src/workflows/member-activation';
import type { ActivationInput } from '../../src/workflows/member-state';
import type { DelayProxy } from './delay-proxy';
import { addShapes, emptyShapes, type HistoryShapes } from './history-shapes';

export interface WedgeSize {
  members: number;
  /** The worker's workflow task slots (maxConcurrentWorkflowTaskExecutions). */
  slots: number;
  /** Loads flow this long before the trouble begins. */
  warmupMs: number;
  /** The database stalls this many times, this long each, with `betweenStallsMs` of health after each. */
  stalls: number;
  stallMs: number;
  betweenStallsMs: number;
  /** Then its answers come this late… */
  lateMs: number;
  /** …for this long. */
  lateForMs: number;
  /** A round of loads (one per member) every this often, the previous round answered. */
  roundMs: number;
  /** The recovery is waited for this long at most. */
  recoveryCapMs: number;
  /** Continue-as-new once a run's history passes this many events (undefined: when the server suggests it). */
  historyEventLimit?: number;
}

/** The workflow test's size: 8 workflow task slots for 80 members, so the slots are what runs out. */
export const WEDGE_TEST_SIZE: WedgeSize = {
  members: 80,
  slots: 8,
  warmupMs: 5_000,
  stalls: 3,
  stallMs: 9_500,
  betweenStallsMs: 3_000,
  lateMs: 2_500,
  lateForMs: 30_000,
  roundMs: 1_500,
  recoveryCapMs: 90_000,
};

export interface WedgeEnv {
  client: Client;
  connection: NativeConnection;
  /** The database as the scenario reads it, and as the worker reaches it (through `proxy`). */
  direct: Db;
  slow: Db;
  proxy: DelayProxy;
  /** A campaign on record in the database. */
  campaign: CampaignTerms;
}

export interface WedgeResult {
  members: number;
  /** Members whose stored view counted everything sent when the wait ended. */
  caught: number;
  /** From the database healthy again (and the loads stopped) to every view caught up, or to the cap. */
  recoverySeconds: number;
  /** Loads sent, in rounds. */
  loads: number;
  rounds: number;
  shapes: HistoryShapes;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the whole scenario with the workflow bundle at `codePath`, members `{prefix}-{i}`. */
export async function slowDatabaseScenario(
  env: WedgeEnv,
  codePath: string,
  prefix: string,
  size: WedgeSize,
): Promise<WedgeResult> {
  const { campaign, proxy } = env;
  const taskQueue = `wedge-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.connection,
    taskQueue,
    workflowBundle: { codePath },
    sinks: workflowSinks(),
    maxConcurrentWorkflowTaskExecutions: size.slots,
    activities: createActivities({ db: env.slow, pointsApiUrl: 'http://127.0.0.1:9', pointsApiTimeoutMs: 1_000 }),
  });
  const expected = new Map<string, number>();
  let n = 0;
  let rounds = 0;
  const handles: Awaited<ReturnType<typeof env.client.workflow.start<typeof memberActivation>>>[] = [];

  /** Stored views that count everything sent so far. */
  const caughtUp = async (): Promise<number> => {
    const { rows } = await env.direct.query<{ member_id: string; counted_cents: number }>(
      'SELECT member_id, counted_cents FROM enrollments WHERE campaign_id = $1 AND member_id LIKE $2',
      [campaign.campaignId, `${prefix}-%`],
    );
    return rows.filter((r) => expected.get(r.member_id) === Number(r.counted_cents)).length;
  };

  return worker.runUntil(async () => {
    for (let i = 0; i < size.members; i++) {
      const memberId = `${prefix}-${i}`;
      const input: ActivationInput = {
        campaign,
        memberId,
        schedule: scheduleFor(campaign, new Date().toISOString()),
        rewardRetryForMs: 60_000,
        ...(size.historyEventLimit ? { historyEventLimit: size.historyEventLimit } : {}),
      };
      handles.push(
        await env.client.workflow.start<typeof memberActivation>('memberActivation', {
          workflowId: `activation:${campaign.campaignId}:${memberId}`,
          taskQueue,
          args: [input],
        }),
      );
      expected.set(memberId, 0);
    }
    // Loads keep coming, a round for every member every `roundMs`, through the database's trouble.
    let sending = true;
    const sender = (async () => {
      while (sending) {
        await Promise.all(
          handles.map(async (h, i) => {
            const memberId = `${prefix}-${i}`;
            const ev: TransactionEvent = {
              source: 'REALTIME',
              transactionId: `W-${memberId}-${++n}`,
              memberId,
              kind: 'LOAD',
              channel: 'DEBIT_CARD',
              currency: 'AUD',
              amountCents: 100,
              occurredAt: new Date().toISOString(),
              receivedAt: new Date().toISOString(),
            };
            await h.signal(transactionSignal, ev);
            expected.set(memberId, expected.get(memberId)! + ev.amountCents);
          }),
        );
        rounds += 1;
        await sleep(size.roundMs);
      }
    })();
    await sleep(size.warmupMs);
    for (let stall = 0; stall < size.stalls; stall++) {
      proxy.stall();
      await sleep(size.stallMs);
      proxy.resume();
      await sleep(size.betweenStallsMs);
    }
    proxy.setDelay(size.lateMs);
    await sleep(size.lateForMs);
    proxy.setDelay(0);
    sending = false;
    await sender;
    const recovered = Date.now();
    let caught = 0;
    while (Date.now() - recovered < size.recoveryCapMs) {
      caught = await caughtUp();
      if (caught === size.members) break;
      await sleep(1_000);
    }
    const recoverySeconds = (Date.now() - recovered) / 1_000;
    const shapes = emptyShapes();
    for (const h of handles) addShapes(shapes, await h.fetchHistory());
    return {
      members: size.members,
      caught,
      recoverySeconds,
      loads: [...expected.values()].reduce((a, c) => a + c, 0) / 100,
      rounds,
      shapes,
    };
  });
}
