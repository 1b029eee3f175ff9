/**
 * The image's entry points as plain processes, started the way docker-compose.yml starts them: each service's
 * command and environment, and the image's own ENV, with only addresses, ports, paths and the namespace adapted to
 * this machine. Against real servers: a bare Temporal dev server (no namespace or search attributes of ours until the
 * temporal-setup job registers them) and an empty PostgreSQL database. The code is built as the Dockerfile builds it
 * (`npm run build:bundle`: tsc, then the workflow bundle the worker loads through WORKFLOW_BUNDLE).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { INDEXED_VALUE_TYPES } from '../../src/dev/temporal-dev-server';
import { temporalCliPath } from '../../src/dev/tools';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { eventually, freePort } from '../support/stack';
import { asList, envOf, loadCompose, loadDockerfile, root, serviceEnv, type Service } from './compose-file';

const compose = loadCompose();
const runtimeStage = loadDockerfile().at(-1)!;
const WORKDIR = runtimeStage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)!.args;
/** The environment the image itself sets (NODE_ENV, WORKFLOW_BUNDLE, ...). */
const IMAGE_ENV = Object.assign(
  {},
  ...runtimeStage.instructions.filter((i) => i.keyword === 'ENV').map((i) => envOf(i.args)),
) as Record<string, string>;

const service = (name: string): Service => compose.services[name]!;
const composeEnv = (name: string) => serviceEnv(service(name));

interface Local {
  db: TestDatabase;
  temporalAddress: string;
  namespace: string;
  ports: { PORT: number; WORKER_HTTP_PORT: number; POINTS_API_PORT: number };
  dataDir: string;
  home: string;
}
let local: Local;
let temporal: TestWorkflowEnvironment | undefined;
let db: TestDatabase | undefined;
let pool: Pool | undefined;
const dirs: string[] = [];

/** The ports our services listen on in compose, → the variable that sets each. */
const PORT_VARS: Record<string, keyof Local['ports']> = {
  [composeEnv('api').PORT!]: 'PORT',
  [composeEnv('worker').WORKER_HTTP_PORT!]: 'WORKER_HTTP_PORT',
  [composeEnv('points-api').POINTS_API_PORT!]: 'POINTS_API_PORT',
};

/** `http://127.0.0.1:<a compose port>` → the same service's port here. */
const localizeLoopback = (text: string) =>
  text.replace(/http:\/\/127\.0\.0\.1:(\d+)/g, (match, port: string) => {
    const key = PORT_VARS[port];
    if (!key) throw new Error(`${match}: not a port of our services`);
    return `http://127.0.0.1:${local.ports[key]}`;
  });

/** Compose's addresses, ports and image paths → this machine's. Anything else stays as compose has it. */
function localize(env: Record<string, string>): Record<string, string> {
  const composeDbUrl = composeEnv('migrate').DATABASE_URL!;
  const composePointsUrl = `http://points-api:${composeEnv('points-api').POINTS_API_PORT}`;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    let v = localizeLoopback(value);
    if (v === composeDbUrl) v = local.db.url;
    v = v.replace('temporal:7233', local.temporalAddress).replace(composePointsUrl, pointsUrl());
    if (v.startsWith(`${WORKDIR}/`)) v = path.join(root, v.slice(WORKDIR.length + 1));
    if (key in local.ports) v = String(local.ports[key as keyof Local['ports']]);
    if (key === 'DATA_DIR') v = local.dataDir;
    if (key === 'TEMPORAL_NAMESPACE') v = local.namespace;
    out[key] = v;
  }
  // Nothing may still point into the compose network: that would test nothing.
  for (const [key, value] of Object.entries(out)) {
    expect({ key, value: /@postgres:|\btemporal:\d|points-api:|^\/app\//.test(value) }).toEqual({ key, value: false });
  }
  return out;
}

const pointsUrl = () => `http://127.0.0.1:${local.ports.POINTS_API_PORT}`;
const apiUrl = () => `http://127.0.0.1:${local.ports.PORT}`;

/** What a container of `name` gets: the image's ENV, then the service's environment; nothing from this process. */
const containerEnv = (name: string): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: local.home,
  ...localize(IMAGE_ENV),
  ...localize(composeEnv(name)),
});

/** The service's entrypoint and command; `node` is this Node.js. */
function argv(name: string): string[] {
  const s = service(name);
  const words = [...asList(s.entrypoint), ...asList(s.command)];
  return words[0] === 'node' ? [process.execPath, ...words.slice(1)] : words;
}

interface Proc {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const running: Proc[] = [];

function start(name: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(args[0]!, args.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const proc = { name, child, output: () => output, exited };
  running.push(proc);
  return proc;
}

/** Runs a one-shot command to its end; fails with its output when it takes longer than `timeoutMs`. */
async function runToEnd(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  const proc = start(name, args, env);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      reject(new Error(`${name} did not finish within ${timeoutMs} ms:\n${proc.output()}`));
    }, timeoutMs);
  });
  try {
    const { code } = await Promise.race([proc.exited, timeout]);
    return { code, output: proc.output() };
  } finally {
    clearTimeout(timer);
  }
}

const expectExit0 = (name: string, r: { code: number | null; output: string }) => {
  if (r.code !== 0) throw new Error(`${name} exited with ${r.code}:\n${r.output}`);
};

/** The service's compose healthcheck (`node -e "fetch('http://127.0.0.1:<port>/…')…"`), run against this machine. */
async function healthcheck(name: string): Promise<number | null> {
  const [cmd, node, flag, script] = asList(service(name).healthcheck?.test);
  expect([cmd, node, flag]).toEqual(['CMD', 'node', '-e']);
  const probe = localizeLoopback(script!);
  expect(probe).not.toBe(script);
  const r = await runToEnd(`${name} healthcheck`, [process.execPath, '-e', probe], { PATH: process.env.PATH }, 10_000);
  return r.code;
}

async function stop(proc: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  proc.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${proc.name} still running 30 s after SIGTERM:\n${proc.output()}`)),
      30_000,
    );
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function api<T>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${apiUrl()}${p}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

beforeAll(async () => {
  // As the Dockerfile's build stage: `npm run build:bundle` (tsc, then scripts/build-bundle.mjs).
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'pipe',
  });
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-bundle.mjs')], { cwd: root, stdio: 'pipe' });

  const cli = temporalCliPath();
  if (!cli) throw new Error('the Temporal CLI is needed: bash scripts/ensure.sh installs it into .tools/');
  // A server that knows nothing of ours: the namespace and search attributes are temporal-setup's job.
  temporal = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli }, log: { format: 'pretty', level: 'error' } },
  });
  db = await createTestDatabase('compose');
  pool = new Pool({ connectionString: db.url, max: 2 });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'activation-compose-data-'));
  const home = mkdtempSync(path.join(os.tmpdir(), 'activation-compose-home-'));
  dirs.push(dataDir, home);
  local = {
    db,
    temporalAddress: temporal.address,
    // A namespace the server has never seen, as on the first `docker compose up`.
    namespace: `compose-${randomBytes(4).toString('hex')}`,
    ports: { PORT: await freePort(), WORKER_HTTP_PORT: await freePort(), POINTS_API_PORT: await freePort() },
    dataDir,
    home,
  };
}, 300_000);

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await pool?.end();
  await db?.drop();
  await temporal?.teardown();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

let setupEnv: NodeJS.ProcessEnv;

it('temporal-setup creates the namespace and registers the search attributes, and can run again', async () => {
  const cliDir = path.dirname(temporalCliPath()!);
  // admin-tools has the `temporal` CLI on its PATH; here it is the pinned one from .tools.
  setupEnv = {
    PATH: `${cliDir}:${process.env.PATH ?? ''}`,
    HOME: local.home,
    ...localize(composeEnv('temporal-setup')),
  };
  expect(setupEnv.TEMPORAL_NAMESPACE).toBe(local.namespace);
  expectExit0('temporal-setup', await runToEnd('temporal-setup', argv('temporal-setup'), setupEnv, 240_000));

  const { customAttributes } = await temporal!.connection.operatorService.listSearchAttributes({
    namespace: local.namespace,
  });
  const ours = Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((n) => [n, customAttributes?.[n]]));
  expect(ours).toEqual(
    Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([n, t]) => [n, INDEXED_VALUE_TYPES[t]])),
  );
  const described = await temporal!.connection.workflowService.describeNamespace({ namespace: local.namespace });
  expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds)).toBe(7 * 24 * 3600);

  // Every `docker compose up` runs it again.
  expectExit0('temporal-setup (again)', await runToEnd('temporal-setup', argv('temporal-setup'), setupEnv, 120_000));
}, 400_000);

it('migrate applies every migration and creates the default campaign, then finds nothing to do', async () => {
  const env = containerEnv('migrate');
  const first = await runToEnd('migrate', argv('migrate'), env, 120_000);
  expectExit0('migrate', first);
  expect(first.output).toContain('applied:');
  expect(first.output).toContain(`campaign ${env.CAMPAIGN_ID}: created`);

  const { rows: migrations } = await pool!.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id');
  expect(migrations.map((m) => m.name)).toEqual(
    readdirSync(path.join(root, 'migrations'))
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .map((f) => f.replace(/\.sql$/, '')),
  );
  const { rows: campaigns } = await pool!.query('SELECT * FROM campaigns');
  expect(campaigns).toEqual([
    expect.objectContaining({
      campaign_id: env.CAMPAIGN_ID,
      target_cents: Number(env.CAMPAIGN_TARGET_CENTS),
      reward_points: Number(env.CAMPAIGN_REWARD_POINTS),
      window: env.CAMPAIGN_WINDOW,
      grace: env.CAMPAIGN_GRACE,
    }),
  ]);

  const again = await runToEnd('migrate', argv('migrate'), env, 120_000);
  expectExit0('migrate (again)', again);
  expect(again.output).toContain('schema is up to date');
  expect(again.output).toContain(`campaign ${env.CAMPAIGN_ID}: already present`);

  // Campaign terms are immutable: other CAMPAIGN_* values later change nothing and stop nothing.
  const changed = await runToEnd('migrate', argv('migrate'), { ...env, CAMPAIGN_TARGET_CENTS: '1' }, 120_000);
  expectExit0('migrate (other terms)', changed);
  expect(changed.output).toContain(`campaign ${env.CAMPAIGN_ID} exists with other terms (immutable), kept:`);
  const { rows: after } = await pool!.query<{ target_cents: number }>('SELECT target_cents FROM campaigns');
  expect(after).toEqual([{ target_cents: Number(env.CAMPAIGN_TARGET_CENTS) }]);
}, 300_000);

let points: Proc;
let worker: Proc;
let apiProc: Proc;

it('the points API, the worker and the API start and pass their compose healthchecks', async () => {
  const workerEnv = containerEnv('worker');
  // The image's prebuilt bundle (here the one `npm run build:bundle` just wrote), as in the container.
  expect(workerEnv.WORKFLOW_BUNDLE).toBe(path.join(root, 'dist', 'workflow-bundle.js'));
  expect(workerEnv.NODE_ENV).toBe('production');

  points = start('points-api', argv('points-api'), containerEnv('points-api'));
  worker = start('worker', argv('worker'), workerEnv);
  apiProc = start('api', argv('api'), containerEnv('api'));

  for (const proc of [points, worker, apiProc]) {
    await eventually(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited:\n${proc.output()}`);
        return (await healthcheck(proc.name)) === 0;
      },
      120_000,
      `${proc.name}'s healthcheck`,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- ${proc.name} output ---\n${proc.output()}`);
    });
  }
  // The image's own HEALTHCHECK (for `docker run` without compose) passes for the worker too.
  const imageCheck = runtimeStage.instructions.filter((i) => i.keyword === 'HEALTHCHECK').at(-1)!.args;
  const [node, ...checkArgs] = JSON.parse(imageCheck.slice(imageCheck.indexOf('CMD ') + 4)) as string[];
  expect(node).toBe('node');
  const imageProbe = await runToEnd(
    'image healthcheck',
    [process.execPath, ...checkArgs],
    { PATH: process.env.PATH, HEALTHCHECK_URL: workerEnv.HEALTHCHECK_URL },
    10_000,
  );
  expect(workerEnv.HEALTHCHECK_URL).toBe(`http://127.0.0.1:${local.ports.WORKER_HTTP_PORT}/healthz`);
  expectExit0('image healthcheck', imageProbe);

  expect(await api('GET', '/readyz')).toEqual({
    status: 200,
    body: expect.objectContaining({ status: 'ready', checks: { postgres: true, temporal: true } }),
  });
}, 300_000);

it('an enrollment through the API is served by the worker, all the way to the points API', async () => {
  // The default campaign migrate created is open for enrollment.
  const defaultCampaign = composeEnv('migrate').CAMPAIGN_ID!;
  expect((await api('POST', `/v1/campaigns/${defaultCampaign}/enrollments`, { memberId: 'M-2' })).status).toBe(201);

  expect(
    (
      await api('PUT', '/v1/campaigns/compose-demo', {
        targetCents: 50_000,
        rewardPoints: 2_000,
        window: 'PT3S',
        grace: 'PT2S',
      })
    ).status,
  ).toBe(201);
  expect((await api('POST', '/v1/campaigns/compose-demo/enrollments', { memberId: 'M-1' })).status).toBe(201);
  const tx = await api('POST', '/v1/transactions', {
    transactionId: 'TX-1',
    memberId: 'M-1',
    kind: 'LOAD',
    amountCents: 50_000,
    currency: 'AUD',
    channel: 'DEBIT_CARD',
    occurredAt: new Date().toISOString(),
  });
  expect(tx.status).toBe(202);

  // The read model and the reward are the worker's doing (its activities), and the credit reached the points API
  // through POINTS_API_URL.
  const view = await eventually(
    async () => {
      const r = await api<{ state: string; reward?: { status: string; idempotencyKey: string } }>(
        'GET',
        '/v1/campaigns/compose-demo/members/M-1',
      );
      return r.status === 200 && r.body.reward?.status === 'ISSUED' && r.body;
    },
    90_000,
    'the reward to be issued',
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- worker output ---\n${worker.output()}`);
  });
  expect(view.state).toBe('COMPLETED');
  const credits = (await (await fetch(`${pointsUrl()}/v1/credits?campaignId=compose-demo`)).json()) as {
    credits: { memberId: string; points: number; idempotencyKey: string }[];
  };
  expect(credits.credits).toEqual([
    expect.objectContaining({ memberId: 'M-1', points: 2_000, idempotencyKey: 'activation:compose-demo:M-1' }),
  ]);
}, 200_000);

it('SIGTERM stops the API, the worker and the points API, each with exit code 0', async () => {
  for (const proc of [apiProc, worker, points]) {
    const exit = await stop(proc);
    if (exit.code !== 0) throw new Error(`${proc.name} exited with ${exit.code ?? exit.signal}:\n${proc.output()}`);
    expect(exit).toEqual({ code: 0, signal: null });
  }
}, 120_000);
