/**
 * Crashes and dependencies that die, against the real `npm start`: kill -9 of the whole process group with rewards
 * in flight, servers left running by a killed run, the dev server or PostgreSQL killed on their own, PostgreSQL
 * paused. Nothing may block the next start, nothing may be lost or doubled, and a dependency that is away is a fast
 * 503 with Retry-After, never a 500 or a hang.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startEmbeddedPostgres } from '../../src/dev/postgres';
import { startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { freeStackPorts } from '../../src/dev/tools';
import {
  isAlive,
  newDataDir,
  processesMentioning,
  RUNNING,
  startProduct,
  waitUntil,
  type Product,
} from '../support/product';
import { loadBody } from '../support/requests';

jest.setTimeout(300_000);

const dirs: string[] = [];
const products: Product[] = [];
afterAll(async () => {
  for (const p of products) if (isAlive(p.pgid)) process.kill(-p.pgid, 'SIGINT');
  await Promise.all(products.map((p) => p.exited));
  for (const dir of dirs) {
    for (const { pid } of processesMentioning(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

async function start(dataDir: string, ports: Record<string, string>): Promise<Product> {
  const product = await startProduct({ dataDir, ports });
  products.push(product);
  await product.waitFor(RUNNING, 120_000);
  return product;
}

const load = loadBody;

interface Credit {
  memberId: string;
  campaignId: string;
}

async function credits(product: Product, campaignId: string): Promise<Credit[]> {
  const res = await fetch(`${product.pointsUrl}/v1/credits`, { signal: AbortSignal.timeout(5_000) });
  const { credits } = (await res.json()) as { credits: Credit[] };
  return credits.filter((c) => c.campaignId === campaignId);
}

it('kill -9 of the whole group with rewards in flight: the servers die with it, the next start recovers, and every eligible member is credited exactly once', async () => {
  const dataDir = newDataDir();
  dirs.push(dataDir);
  const ports = await freeStackPorts();
  const first = await start(dataDir, ports);
  const campaign = 'crash-rewards';
  expect(
    (
      await first.api('PUT', `/v1/campaigns/${campaign}`, {
        targetCents: 50_000,
        rewardPoints: 2_000,
        window: 'PT4S',
        grace: 'PT1S',
      })
    ).status,
  ).toBe(201);
  // Credits booked but answered too late, and an API that is down for a while: rewards stay in flight.
  await fetch(`${first.pointsUrl}/_faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      responses: ['timeout-after-credit', 503, 'timeout-after-credit', 503, 503, 'timeout-after-credit'],
    }),
  });
  const members = Array.from({ length: 8 }, (_, i) => `K-${i}`);
  for (const m of members) {
    expect((await first.api('POST', `/v1/campaigns/${campaign}/enrollments`, { memberId: m })).status).toBe(201);
    expect((await first.api('POST', '/v1/transactions', load(m, `TX-${m}`))).status).toBe(202);
  }
  // Kill when some credits are booked and not every member has heard back yet.
  await waitUntil(async () => (await credits(first, campaign)).length >= 1, 60_000, 'a first credit');
  const { postgres, temporal } = first.serverPids();
  process.kill(-first.pgid, 'SIGKILL');
  await first.exited;
  // Linux tells the servers their parent died (setpriv --pdeathsig): they stop on their own, soon.
  await waitUntil(() => !isAlive(postgres!) && !isAlive(temporal!), 30_000, 'the servers to follow their parent');

  const second = await start(dataDir, ports);
  expect(second.output()).toMatch(/did not stop cleanly; recovering/);
  await waitUntil(
    async () => {
      const views = await Promise.all(
        members.map((m) => second.api<{ state: string }>('GET', `/v1/campaigns/${campaign}/members/${m}`)),
      );
      return views.every((v) => v.body.state === 'COMPLETED');
    },
    120_000,
    'every member COMPLETED',
  );
  const booked = await credits(second, campaign);
  expect(booked.map((c) => c.memberId).sort()).toEqual([...members].sort());
});

it('servers left running on the data directory by a killed run are stopped, and the start goes on', async () => {
  const dataDir = newDataDir();
  dirs.push(dataDir);
  const ports = await freeStackPorts();
  // Survivors of a run whose parent is gone (a machine without setpriv, a server paused while its parent died).
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(dataDir, 'postgres'),
    port: Number(ports.EMBEDDED_PG_PORT),
  });
  const dev = await startTemporalDevServer({
    port: Number(ports.TEMPORAL_DEV_PORT),
    uiPort: Number(ports.TEMPORAL_UI_PORT),
    dbFile: path.join(dataDir, 'temporal.db'),
  });
  const deadPid = spawnSync('true').pid;
  writeFileSync(path.join(dataDir, 'stack.pid'), `${JSON.stringify({ pid: deadPid })}\n`);

  const product = await start(dataDir, ports);
  expect(product.output()).toMatch(/stopping PostgreSQL \(pid \d+\) left running/);
  expect(product.output()).toMatch(/stopping the Temporal dev server \(pid \d+\) left running/);
  await pg.exit;
  await dev.exit;
  expect((await product.api('GET', '/readyz')).status).toBe(200);
});

describe('a dependency that dies or hangs under a running product', () => {
  let product: Product;
  const campaign = 'deps';
  beforeAll(async () => {
    const dataDir = newDataDir();
    dirs.push(dataDir);
    product = await start(dataDir, await freeStackPorts());
    await product.api('PUT', `/v1/campaigns/${campaign}`, {
      targetCents: 50_000,
      rewardPoints: 2_000,
      window: 'P30D',
      grace: 'PT48H',
    });
    await product.api('POST', `/v1/campaigns/${campaign}/enrollments`, { memberId: 'D-1' });
  });

  const counted = async () =>
    (await product.api<{ countedCents: number }>('GET', `/v1/campaigns/${campaign}/members/D-1`)).body.countedCents;

  it('restarts a Temporal dev server killed with -9 on the same data, says so, and loses nothing', async () => {
    const before = product.output().length;
    const { temporal } = product.serverPids();
    process.kill(temporal!, 'SIGKILL');
    await product.waitFor(
      /Temporal dev server was killed by SIGKILL unexpectedly; restarting it on the same data/,
      10_000,
      before,
    );
    await product.waitFor(/Temporal dev server is running again/, 60_000, before);
    expect(product.serverPids().temporal).not.toBe(temporal);
    expect((await product.api('POST', '/v1/transactions', load('D-1', 'TX-after-dev-kill', 10_000))).status).toBe(202);
    await waitUntil(async () => (await counted()) === 10_000, 30_000, 'the load to count');
  });

  it('restarts PostgreSQL killed with -9 on the same data, says so, and loses nothing', async () => {
    const before = product.output().length;
    const { postgres } = product.serverPids();
    process.kill(postgres!, 'SIGKILL');
    await product.waitFor(/embedded PostgreSQL was killed by SIGKILL unexpectedly; restarting it/, 10_000, before);
    await product.waitFor(/embedded PostgreSQL is running again/, 60_000, before);
    // The pool's connections to the dead server are replaced; a request may need a retry while that happens.
    await waitUntil(
      async () =>
        (await product.api('POST', '/v1/transactions', load('D-1', 'TX-after-pg-kill', 5_000))).status === 202,
      30_000,
      'a 202 after the restart',
    );
    await waitUntil(async () => (await counted()) === 15_000, 30_000, 'the load to count');
  });

  it('answers 503 with Retry-After within seconds while the Temporal dev server hangs, then carries on', async () => {
    const { temporal } = product.serverPids();
    process.kill(temporal!, 'SIGSTOP');
    try {
      for (const [p, body] of [
        ['/v1/transactions', load('D-1', 'TX-while-hung', 2_000)],
        [`/v1/campaigns/${campaign}/enrollments`, { memberId: 'D-3' }],
      ] as const) {
        const t0 = Date.now();
        const res = await product.api<{ error?: { code: string } }>('POST', p, body);
        expect({ p, status: res.status, code: res.body.error?.code }).toEqual({
          p,
          status: 503,
          code: 'SERVICE_UNAVAILABLE',
        });
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(Date.now() - t0).toBeLessThan(10_000);
      }
      // Nothing half-done: the refused enrollment left no row behind.
      expect((await product.api('GET', `/v1/campaigns/${campaign}/members/D-3`)).status).toBe(404);
    } finally {
      process.kill(temporal!, 'SIGCONT');
    }
    await waitUntil(
      async () => (await product.api('POST', '/v1/transactions', load('D-1', 'TX-while-hung', 2_000))).status === 202,
      30_000,
      'a 202 once the dev server answers again',
    );
    await waitUntil(async () => (await counted()) === 17_000, 30_000, 'the load to count');
    expect((await product.api('POST', `/v1/campaigns/${campaign}/enrollments`, { memberId: 'D-3' })).status).toBe(201);
  });

  it('answers 503 with Retry-After within seconds while PostgreSQL is paused, then carries on', async () => {
    const { postgres } = product.serverPids();
    // Every process of the cluster: the postmaster and its children (each in a session of its own).
    const cluster = [
      postgres!,
      ...spawnSync('pgrep', ['-P', String(postgres)])
        .stdout.toString()
        .split('\n')
        .filter(Boolean)
        .map(Number),
    ];
    for (const pid of cluster) process.kill(pid, 'SIGSTOP');
    try {
      for (const [method, p, body] of [
        ['GET', `/v1/campaigns/${campaign}/members/D-1`, undefined],
        ['POST', '/v1/transactions', load('D-1', 'TX-while-paused', 1_000)],
        ['POST', `/v1/campaigns/${campaign}/enrollments`, { memberId: 'D-2' }],
        ['GET', '/readyz', undefined],
      ] as const) {
        const t0 = Date.now();
        const res = await product.api<{ error?: { code: string } }>(method, p, body);
        expect({ p, status: res.status }).toEqual({ p, status: 503 });
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        if (p !== '/readyz') expect(res.body.error?.code).toBe('SERVICE_UNAVAILABLE');
        expect(Date.now() - t0).toBeLessThan(10_000);
      }
    } finally {
      for (const pid of cluster) process.kill(pid, 'SIGCONT');
    }
    // The refused load was not stored; sent again, it counts, and D-2 enrolls.
    await waitUntil(
      async () => (await product.api('POST', '/v1/transactions', load('D-1', 'TX-while-paused', 1_000))).status === 202,
      30_000,
      'a 202 once PostgreSQL is back',
    );
    await waitUntil(async () => (await counted()) === 18_000, 30_000, 'the load to count');
    expect([200, 201]).toContain(
      (await product.api('POST', `/v1/campaigns/${campaign}/enrollments`, { memberId: 'D-2' })).status,
    );
  });
});
