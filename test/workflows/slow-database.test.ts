/**
 * A slow or stalled database never wedges the worker. Members keep hearing loads while PostgreSQL (behind a proxy)
 * first stalls three times for 9.5 s, then answers everything 2.5 s late for 30 s: what was seen from outside, where
 * every workflow task slot stayed busy with records retrying inside their tasks, tasks timed out and were replayed, and
 * nothing moved for minutes after the database was fine again. Here the worker must keep its tasks inside their
 * timeouts and catch up by itself within a minute of the database's recovery, with every load counted once.
 *
 * The worker has 8 workflow task slots for 80 members (production: 40 for thousands), so the slots are what runs out.
 * On the code before the patch safe-seams (WEDGE_BEFORE=1) the records retried inside their tasks, which the worker held
 * until the task's heartbeat (8 s, 80 % of the timeout): the longest task took 8.1 s there, 4.3 s with the patch.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { putCampaign } from '../../src/db/campaigns';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor } from '../../src/domain/terms';
import { workflowSinks } from '../../src/telemetry/temporal';
import { transactionSignal } from '../../src/workflows/messages';
import type { memberActivation } from '../../src/workflows/member-activation';
import type { ActivationInput } from '../../src/workflows/member-state';
import { bundleMemberWorkflow } from '../replay/derived-workflows';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startDelayProxy, type DelayProxy } from '../support/delay-proxy';
import { addShapes, emptyShapes } from '../support/history-shapes';
import { createLocalEnv, workflowBundle } from '../support/temporal';
import { TERMS } from './harness';

jest.setTimeout(400_000);

const MEMBERS = Number(process.env.WEDGE_MEMBERS ?? 80);
const SLOTS = Number(process.env.WEDGE_SLOTS ?? 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let database: TestDatabase;
let direct: Db;
let slow: Db;
let proxy: DelayProxy;
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  database = await createTestDatabase('slow-database');
  await migrate(database.url);
  direct = createPool(database.url, 4);
  await putCampaign(direct, TERMS);
  const url = new URL(database.url);
  proxy = await startDelayProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(proxy.port);
  // The worker's pool, as the production worker's (src/workers/main.ts).
  slow = createPool(url.toString());
  env = await createLocalEnv({ log: { format: 'pretty', level: 'never' as never } });
});
afterAll(async () => {
  await env?.teardown();
  await slow?.end();
  await proxy?.close();
  await direct?.end();
  await database?.drop();
});

/** Stored views that count everything sent so far. */
async function caughtUp(expected: Map<string, number>): Promise<number> {
  const { rows } = await direct.query<{ member_id: string; counted_cents: number }>(
    'SELECT member_id, counted_cents FROM enrollments WHERE campaign_id = $1',
    [TERMS.campaignId],
  );
  return rows.filter((r) => expected.get(r.member_id) === r.counted_cents).length;
}

/** Runs the whole scenario with the workflow bundle at `codePath`; returns when every view caught up (or not). */
async function slowDatabaseScenario(codePath: string, prefix: string) {
  const taskQueue = `wedge-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath },
    sinks: workflowSinks(),
    maxConcurrentWorkflowTaskExecutions: SLOTS,
    activities: createActivities({ db: slow, pointsApiUrl: 'http://127.0.0.1:9', pointsApiTimeoutMs: 1_000 }),
  });
  const expected = new Map<string, number>();
  let n = 0;
  const handles: Awaited<ReturnType<typeof env.client.workflow.start<typeof memberActivation>>>[] = [];
  return worker.runUntil(async () => {
    for (let i = 0; i < MEMBERS; i++) {
      const memberId = `${prefix}-${i}`;
      const input: ActivationInput = {
        campaign: TERMS,
        memberId,
        schedule: scheduleFor(TERMS, new Date().toISOString()),
        rewardRetryForMs: 60_000,
        ...(process.env.WEDGE_LIMIT ? { historyEventLimit: Number(process.env.WEDGE_LIMIT) } : {}),
      };
      handles.push(
        await env.client.workflow.start<typeof memberActivation>('memberActivation', {
          workflowId: `activation:${TERMS.campaignId}:${memberId}`,
          taskQueue,
          args: [input],
        }),
      );
      expected.set(memberId, 0);
    }
    // Loads keep coming, a round for every member every 1.5 s, through the database's trouble.
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
        await sleep(1_500);
      }
    })();
    await sleep(5_000);
    for (let stall = 0; stall < 3; stall++) {
      proxy.stall();
      await sleep(9_500);
      proxy.resume();
      await sleep(3_000);
    }
    proxy.setDelay(2_500);
    await sleep(30_000);
    proxy.setDelay(0);
    sending = false;
    await sender;
    const recovered = Date.now();
    let caught = 0;
    while (Date.now() - recovered < 90_000) {
      caught = await caughtUp(expected);
      if (caught === MEMBERS) break;
      await sleep(1_000);
    }
    const recoverySeconds = (Date.now() - recovered) / 1_000;
    const shapes = emptyShapes();
    for (const h of handles) addShapes(shapes, await h.fetchHistory());
    return { caught, recoverySeconds, shapes };
  });
}

it('a stalled, then slow, database: tasks stay inside their timeouts and every view catches up within a minute', async () => {
  // WEDGE_BEFORE=1 plays it on the code before the patch safe-seams (the wedge as it was seen).
  const codePath = process.env.WEDGE_BEFORE
    ? await bundleMemberWorkflow('before-safe-seams')
    : workflowBundle().codePath;
  const { caught, recoverySeconds, shapes } = await slowDatabaseScenario(codePath, 'now');
  console.log(JSON.stringify({ caught, recoverySeconds, shapes }));
  expect(caught).toBe(MEMBERS);
  expect(recoverySeconds).toBeLessThan(60);
  // No workflow task waited for the database until it timed out, or near it: a fast record gives up within 4 s.
  expect(shapes.timedOutTasks).toBe(0);
  expect(shapes.longestTaskMs).toBeLessThan(7_000);
});
