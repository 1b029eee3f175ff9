/**
 * Stopping `npm start` the way the world does: a terminal's Ctrl-C (SIGINT to the whole process group, which npm
 * then forwards again), a supervisor's SIGTERM (to the group, or to npm alone, repeated), a second Ctrl-C, a signal
 * in the middle of start-up. Every time: exit 0 within 30 s, "stopped.", and nothing left running on the data
 * directory, so the next start works.
 */
import { rmSync } from 'node:fs';
import { freeStackPorts } from '../../src/dev/tools';
import {
  isAlive,
  newDataDir,
  processesMentioning,
  processTree,
  RUNNING,
  startProduct,
  waitUntil,
  type Product,
} from '../support/product';

jest.setTimeout(180_000);

const dataDir = newDataDir();
let ports: Record<string, string>;

beforeAll(async () => {
  ports = await freeStackPorts();
});
afterAll(() => {
  for (const { pid } of processesMentioning(dataDir)) process.kill(pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts the product on the shared data directory and ports, and records every process it runs. */
async function running(env: NodeJS.ProcessEnv = {}): Promise<{ product: Product; tree: number[] }> {
  const product = await startProduct({ dataDir, ports, env });
  await product.waitFor(RUNNING, 120_000);
  const { postgres, temporal } = product.serverPids();
  expect(postgres && isAlive(postgres)).toBeTruthy();
  expect(temporal && isAlive(temporal)).toBeTruthy();
  // npm, its shell or node, the servers and PostgreSQL's own processes.
  const tree = [...processTree(product.pgid), ...processTree(postgres!)];
  return { product, tree };
}

/** Exit 0 within 30 s of `sentAt`, said so, and no process of the run is left. */
async function expectCleanStop(product: Product, tree: number[], sentAt: number) {
  const exit = await product.exited;
  expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
  expect(exit.at - sentAt).toBeLessThan(30_000);
  expect(product.output()).toMatch(/stopped\.\s*$/);
  // The servers may take a moment after npm's exit to be reaped; they must be gone, not just signalled.
  await waitUntil(() => tree.every((pid) => !isAlive(pid)), 5_000, 'every process of the run to end').catch(() => {
    throw new Error(`left running: ${JSON.stringify(processesMentioning(dataDir))}`);
  });
  expect(processesMentioning(dataDir)).toEqual([]);
}

it('Ctrl-C (SIGINT to the whole process group) stops everything and exits 0', async () => {
  const { product, tree } = await running({ LOG_LEVEL: 'info' });
  // What a newcomer sees: the URLs, not webpack's bundle statistics.
  expect(product.output()).not.toMatch(/webpack|modules by path/);
  const sentAt = Date.now();
  process.kill(-product.pgid, 'SIGINT');
  await expectCleanStop(product, tree, sentAt);
});

it('SIGTERM to the group, three times in a row, stops everything and exits 0', async () => {
  const { product, tree } = await running();
  const sentAt = Date.now();
  for (let i = 0; i < 3; i++) {
    process.kill(-product.pgid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
  }
  await expectCleanStop(product, tree, sentAt);
});

it('SIGTERM to the group with a member stream open: the stream ends, everything stops and exits 0', async () => {
  const { product, tree } = await running();
  expect((await product.api('POST', '/v1/campaigns/cold-activation/enrollments', { memberId: 'STOP-1' })).status).toBe(
    201,
  );
  // An app following a member: the server must end the stream itself, not wait for the app to hang up.
  const res = await fetch(`${product.apiUrl}/v1/campaigns/cold-activation/members/STOP-1/events`);
  expect(res.status).toBe(200);
  const ended = (async () => {
    for await (const _chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      // read until the server ends the stream
    }
    return Date.now();
  })();
  const sentAt = Date.now();
  process.kill(-product.pgid, 'SIGTERM');
  await expectCleanStop(product, tree, sentAt);
  expect(await ended).toBeLessThanOrEqual((await product.exited).at);
});

it('SIGTERM to npm alone stops everything and exits 0', async () => {
  const { product, tree } = await running();
  const sentAt = Date.now();
  process.kill(product.pgid, 'SIGTERM');
  await expectCleanStop(product, tree, sentAt);
});

it('a second Ctrl-C skips the drain but still stops every server', async () => {
  const { product, tree } = await running();
  const sentAt = Date.now();
  process.kill(-product.pgid, 'SIGINT');
  await product.waitFor(/SIGINT: stopping/, 10_000);
  await new Promise((r) => setTimeout(r, 1_200));
  if (isAlive(product.pgid)) process.kill(-product.pgid, 'SIGINT');
  await expectCleanStop(product, tree, sentAt);
});

it('Ctrl-C during start-up stops what has started and exits 0', async () => {
  const product = await startProduct({ dataDir, ports });
  await product.waitFor(/starting the Temporal dev server/, 120_000);
  const postgres = product.serverPids().postgres;
  const sentAt = Date.now();
  process.kill(-product.pgid, 'SIGINT');
  await expectCleanStop(product, [...processTree(product.pgid), ...(postgres ? [postgres] : [])], sentAt);
});

it('starts again after all of that, on the same data directory and ports', async () => {
  const { product, tree } = await running();
  expect(product.output()).not.toMatch(/did not stop cleanly/);
  const health = await product.api('GET', '/readyz');
  expect(health.status).toBe(200);
  const sentAt = Date.now();
  process.kill(-product.pgid, 'SIGINT');
  await expectCleanStop(product, tree, sentAt);
});
