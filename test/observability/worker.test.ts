/**
 * The production worker process (dist/src/workers/main.js, what `npm run worker` runs) against the `npm start` stack
 * without a worker of its own: its HTTP server (health, readiness, metrics), its JSON logs correlated by workflow and
 * run id, and its drain on SIGTERM. Plus: our own pino logger, used inside an activity, names the activity's run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createLogger } from '../../src/logger';
import { eventually, freePort, startTestStack, type TestStack } from '../support/stack';
import { workflowBundle } from '../support/temporal';

const WORKER = path.join(__dirname, '..', '..', 'dist', 'src', 'workers', 'main.js');
const C = 'observed';

let stack: TestStack;
let worker: ChildProcess;
let workerUrl: string;
const lines: string[] = [];
const logs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
let exited: Promise<number | null>;

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  const port = await freePort();
  workerUrl = `http://127.0.0.1:${port}`;
  worker = spawn(process.execPath, [WORKER], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      DATABASE_URL: stack.databaseUrl,
      POINTS_API_URL: stack.pointsApiUrl,
      // A hung credit request gives up after 4 s: the in-flight activity of the drain test.
      POINTS_API_TIMEOUT_MS: '4000',
      WORKER_SHUTDOWN_GRACE: 'PT30S',
      WORKFLOW_BUNDLE: workflowBundle().codePath,
      WORKER_HTTP_PORT: String(port),
      LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  exited = new Promise((resolve) => worker.once('exit', (code) => resolve(code)));
  let partial = '';
  worker.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l.trim()));
  });
  await eventually(async () => (await fetch(`${workerUrl}/readyz`)).ok, 60_000, 'the worker to be ready');
  await stack.api('PUT', `/v1/campaigns/${C}`, { targetCents: 1_000, rewardPoints: 10, window: 'PT2S', grace: 'PT1S' });
}, 180_000);
afterAll(async () => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
  await stack?.destroy();
}, 60_000);

const enrollAndLoad = async (memberId: string) => {
  expect((await stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId })).status).toBe(201);
  const load = {
    transactionId: `TX-${memberId}`,
    memberId,
    kind: 'LOAD',
    amountCents: 2_000,
    currency: 'AUD',
    channel: 'DEBIT_CARD',
    occurredAt: new Date().toISOString(),
  };
  expect((await stack.api('POST', '/v1/transactions', load)).status).toBe(202);
};

it('serves health, readiness, and the SDK metrics next to the process metrics', async () => {
  const health = await fetch(`${workerUrl}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok', state: 'RUNNING' });
  const ready = await fetch(`${workerUrl}/readyz`);
  expect(await ready.json()).toEqual({ status: 'ready', state: 'RUNNING', checks: { temporal: true } });
  const metrics = await fetch(`${workerUrl}/metrics`);
  expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await metrics.text();
  expect(text).toMatch(/^temporal_worker_task_slots_available\{.*\} \d+/m);
  expect(text).toMatch(/^temporal_num_pollers\{.*poller_type="workflow_task".*\} \d+/m);
  expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  expect((await fetch(`${workerUrl}/nope`)).status).toBe(404);
});

it('writes only JSON lines, and every workflow and activity line names its workflow id and run id', async () => {
  await enrollAndLoad('L-1');
  const workflowId = `activation:${C}:L-1`;
  await eventually(
    async () =>
      (await stack.api<{ state: string }>('GET', `/v1/campaigns/${C}/members/L-1`)).body.state === 'COMPLETED',
    60_000,
    'the run to complete',
  );
  const mine = await eventually(
    async () => {
      const found = logs().filter((l) => l.workflowId === workflowId);
      return found.some((l) => l.msg === 'Workflow completed') && found;
    },
    10_000,
    'the completion to be logged',
  );
  // Workflow code's `log` (the state changes) and the SDK's lifecycle lines, the same run id throughout.
  const changes = mine.filter((l) => l.sdkComponent === 'workflow' && l.msg === 'state changed');
  expect(changes.map((l) => l.to)).toEqual(['GOAL_ACHIEVED', 'CONFIRMING', 'PENDING_REWARD', 'COMPLETED']);
  const runIds = new Set(mine.map((l) => l.runId));
  expect(runIds.size).toBe(1);
  expect([...runIds][0]).toMatch(/^[0-9a-f-]{36}$/);
  // No span is exported in this stack, so the API does not carry the trace into the run (a traced run costs the
  // worker memory): workflow lines have no trace id. Traced runs' lines are in test/observability/tracing.test.ts.
  expect(changes.some((l) => 'trace_id' in l)).toBe(false);
  // Activity lines: the SDK calls the run id workflowRunId; we hand it on as runId, and drop the task token.
  const reward = mine.find((l) => l.msg === 'Activity completed' && l.activityType === 'issueReward');
  expect(reward).toMatchObject({ level: 20, workflowId, runId: [...runIds][0], activityId: expect.any(String) });
  expect(reward).not.toHaveProperty('taskToken');
  expect(reward).not.toHaveProperty('workflowRunId');
  expect(lines.length).toBeGreaterThan(10);
});

it('drains on SIGTERM: /healthz turns 503 at once, the in-flight activity ends, then the server closes, exit 0', async () => {
  stack.points!.faults.push('timeout');
  await enrollAndLoad('D-1');
  const workflowId = `activation:${C}:D-1`;
  await eventually(
    async () =>
      logs().some(
        (l) => l.workflowId === workflowId && l.msg === 'Activity started' && l.activityType === 'issueReward',
      ),
    30_000,
    'the reward activity to be in flight',
  );
  worker.kill('SIGTERM');
  const draining = await eventually(
    async () => {
      const res = await fetch(`${workerUrl}/healthz`);
      return res.status === 503 && ((await res.json()) as { state: string });
    },
    5_000,
    '/healthz to turn 503',
  );
  expect(['STOPPING', 'DRAINING', 'DRAINED']).toContain(draining.state);
  expect((await fetch(`${workerUrl}/readyz`)).status).toBe(503);
  // Still serving while the credit request hangs (up to POINTS_API_TIMEOUT_MS).
  expect(worker.exitCode).toBeNull();

  expect(await exited).toBe(0);
  await expect(fetch(`${workerUrl}/healthz`)).rejects.toThrow();
  const messages = logs().map(
    (l) => `${String(l.msg)}${l.workflowId === workflowId ? ` ${String(l.activityType)}` : ''}`,
  );
  const at = (m: string) => messages.indexOf(m);
  expect(at('worker draining')).toBeGreaterThanOrEqual(0);
  expect(at('Activity failed issueReward')).toBeGreaterThan(at('worker draining'));
  expect(at('worker stopped')).toBeGreaterThan(at('Activity failed issueReward'));
}, 90_000);

it('gives our own log lines written inside an activity its workflow id, run id and activity id', async () => {
  const written: string[] = [];
  const log = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, done) {
        written.push(chunk.toString());
        done();
      },
    }),
  );
  const env = new MockActivityEnvironment({
    activityId: '7',
    activityType: 'issueReward',
    workflowExecution: { workflowId: 'activation:c:M-1', runId: 'run-1' },
  });
  await env.run(async () => log.info({ points: 10 }, 'crediting'));
  log.info('outside any activity');
  const [inside, outside] = written.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(inside).toMatchObject({
    msg: 'crediting',
    points: 10,
    workflowId: 'activation:c:M-1',
    runId: 'run-1',
    activityId: '7',
    activityType: 'issueReward',
  });
  expect(outside).not.toHaveProperty('workflowId');
});
