/**
 * The backtest's edges on a real PostgreSQL holding thousands of decided enrollments (seeded as the member workflow
 * writes them): an API instance runs two at once and answers a third 429 with Retry-After; a caller that hangs up stops
 * its replay, so its slot is free again long before the replay would have ended; the streamed answer's progress climbs
 * page by page to the total.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { seedDecided } from '../../bench/lib/decided';
import type { CampaignTerms } from '../../src/domain/terms';
import { startApiBench, type ApiBench } from '../support/api-bench';

const CAMPAIGN = 'backtest-api';
const ENROLLMENTS = 12_000;
const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };

let bench: ApiBench;
let server: Server;
let url: string;

beforeAll(async () => {
  bench = await startApiBench('backtest');
  server = bench.app.listen(0);
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const put = await fetch(`${url}/v1/campaigns/${CAMPAIGN}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(terms),
  });
  expect(put.status).toBe(201);
  const campaign: CampaignTerms = { campaignId: CAMPAIGN, currency: 'AUD', ...terms };
  await seedDecided(bench.db, campaign, 'K', 0, ENROLLMENTS, 1_000);
}, 180_000);
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await bench?.teardown();
});

/** A streamed backtest: resolves with the response as soon as its headers are in. */
const start = (signal?: AbortSignal) =>
  fetch(`${url}/v1/campaigns/${CAMPAIGN}/backtest`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
    body: JSON.stringify({ targetCents: 30_000 }),
    ...(signal ? { signal } : {}),
  });

/** A streamed backtest as soon as a slot is free (a hang-up frees one when the server sees it, a moment later). */
async function startWhenFree(signal?: AbortSignal): Promise<Response> {
  for (;;) {
    const res = await start(signal);
    if (res.status === 200) return res;
    expect(res.status).toBe(429);
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads an NDJSON body line by line. */
async function* lines(res: Response): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let partial = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const parts = (partial + decoder.decode(chunk, { stream: true })).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) yield JSON.parse(p) as Record<string, unknown>;
  }
  if (partial.trim()) yield JSON.parse(partial) as Record<string, unknown>;
}

const drain = async (res: Response) => {
  const all: Record<string, unknown>[] = [];
  for await (const l of lines(res)) all.push(l);
  return all;
};

it('streams progress page by page up to the total, then the result with every verdict reproduced', async () => {
  const all = await drain(await start());
  const progress = all.filter((l) => l.progress).map((l) => l.progress as { done: number; total: number });
  expect(progress[0]).toEqual({ done: 0, total: ENROLLMENTS });
  expect(progress.at(-1)).toEqual({ done: ENROLLMENTS, total: ENROLLMENTS });
  for (let i = 1; i < progress.length; i++) expect(progress[i].done).toBeGreaterThan(progress[i - 1].done);
  const result = all.at(-1)?.result as { enrollments: number; reproduction: { agree: number; disagree: number } };
  expect(result.enrollments).toBe(ENROLLMENTS);
  expect(result.reproduction).toMatchObject({ agree: ENROLLMENTS, disagree: 0 });
}, 120_000);

it('runs two at once and answers a third 429 BACKTEST_BUSY with Retry-After', async () => {
  // Both slots are free: the first test's backtest gave its slot back when it ended.
  const hangUps = [new AbortController(), new AbortController()];
  try {
    const [a, b] = await Promise.all(hangUps.map((c) => start(c.signal)));
    expect([a.status, b.status]).toEqual([200, 200]);
    const third = await start();
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('BACKTEST_BUSY');
  } finally {
    // Hung up (the next test shows what that frees), and never left running into the next test, pass or fail: two
    // whole replays side by side once outlasted the test's time on a busy machine and held both slots.
    for (const c of hangUps) c.abort();
  }
}, 120_000);

it('a caller that hangs up stops the replay: its slot is free long before the replay would have ended', async () => {
  // How long a whole backtest takes here, to compare with.
  const t0 = Date.now();
  await drain(await startWhenFree());
  const whole = Date.now() - t0;

  const hangUps = [new AbortController(), new AbortController()];
  const [a, b] = [await startWhenFree(hangUps[0].signal), await startWhenFree(hangUps[1].signal)];
  // Read the first progress line of each, then hang up.
  for (const res of [a, b]) await lines(res).next();
  for (const c of hangUps) c.abort();
  const t1 = Date.now();
  const res = await startWhenFree();
  const freedAfter = Date.now() - t1;
  await drain(res);
  expect(freedAfter).toBeLessThan(whole / 2);
}, 240_000);
