/**
 * The member stream's edges on the real app (PostgreSQL, the Temporal test server, a worker), listening on a socket:
 * an instance holds EVENTS_MAX_STREAMS streams and answers one more 429 with Retry-After, freeing a place as soon as a
 * stream closes; the heartbeat comes at EVENTS_HEARTBEAT; a view written behind the app's back (by any writer of the
 * read model) reaches the stream, because PostgreSQL says so; the app's host closes every stream and its listening
 * connection at shutdown.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';
import { startApiBench, type ApiBench } from '../support/api-bench';

const CAMPAIGN = 'live-api';
let bench: ApiBench;
let server: Server;
let url: string;

beforeAll(async () => {
  bench = await startApiBench('live', { app: { eventsMaxStreams: 2, eventsHeartbeatMs: 200 } });
  server = bench.app.listen(0);
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await request(bench.app)
    .put(`/v1/campaigns/${CAMPAIGN}`)
    .send({ targetCents: 50_000, rewardPoints: 2_000, window: 'P30D' })
    .expect(201);
  for (const m of ['A', 'B']) {
    await request(bench.app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: m }).expect(201);
  }
}, 120_000);
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await bench?.teardown();
});

/** Opens a stream and collects its text until closed. */
function open(memberId: string, query = '', headers: Record<string, string> = {}) {
  const abort = new AbortController();
  let text = '';
  const response = fetch(`${url}/v1/campaigns/${CAMPAIGN}/members/${memberId}/events${query}`, {
    signal: abort.signal,
    headers,
  });
  const done = response.then(async (res) => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk);
    } catch {
      // closed by us
    }
  });
  return { response, done, text: () => text, close: () => abort.abort() };
}

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

it('holds EVENTS_MAX_STREAMS streams; one more is 429 with Retry-After; a closed one frees its place', async () => {
  const a = open('A');
  const b = open('B');
  expect((await a.response).status).toBe(200);
  expect((await b.response).status).toBe(200);
  const third = await fetch(`${url}/v1/campaigns/${CAMPAIGN}/members/A/events`);
  expect(third.status).toBe(429);
  expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(((await third.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
  b.close();
  await b.done;
  let again: Awaited<ReturnType<typeof open>['response']> | undefined;
  const c = open('B');
  await until('a place freed', async () => {
    again = await c.response;
    return true;
  });
  expect(again!.status).toBe(200);
  a.close();
  c.close();
  await Promise.all([a.done, c.done]);
  // Closed by the caller: the places are free again (the gauge operators read says so).
  await until('every stream closed', async () =>
    /^activation_member_streams 0$/m.test((await request(bench.app).get('/metrics')).text),
  );
});

it('beats every EVENTS_HEARTBEAT, and hears a view written by any writer of the read model', async () => {
  const s = open('B');
  await until('the current view', () => /event: member/.test(s.text()));
  await until('heartbeats', () => (s.text().match(/^: heartbeat /gm) ?? []).length >= 3);
  // The operators see it on /metrics.
  expect((await request(bench.app).get('/metrics')).text).toMatch(/^activation_member_streams 1$/m);
  // A writer other than the workflow (here, by hand) changes the view: PostgreSQL tells the stream.
  await bench.db.query(
    `UPDATE enrollments SET counted_cents = 12345, version = version + 100 WHERE campaign_id = $1 AND member_id = 'B'`,
    [CAMPAIGN],
  );
  await until('the new version', () => /"countedCents":12345/.test(s.text()));
  expect(s.text()).toMatch(/^id: 10\d$/m);
  s.close();
});

it('ends the stream after maxSeconds, having sent the view: a bounded watch, or a reconnect at a time of its own', async () => {
  const started = Date.now();
  const s = open('A', '?maxSeconds=1');
  expect((await s.response).status).toBe(200);
  await s.done;
  const took = Date.now() - started;
  expect(took).toBeGreaterThanOrEqual(900);
  expect(took).toBeLessThan(5_000);
  expect(s.text()).toMatch(/^retry: 2000$/m);
  expect(s.text()).toMatch(/^id: \d+\nevent: member\ndata: \{"campaignId":"live-api","memberId":"A",/m);
  // Nothing to send (Last-Event-ID is the current version): the stream still ends on time.
  const version = /^id: (\d+)$/m.exec(s.text())![1];
  const quiet = open('A', '?maxSeconds=1', { 'Last-Event-ID': version });
  await quiet.done;
  expect(quiet.text()).not.toMatch(/event: member/);
});

it.each([
  ['?maxSeconds=0', 'query.maxSeconds'],
  ['?maxSeconds=86401', 'query.maxSeconds'],
  ['?maxSeconds=-1', 'query.maxSeconds'],
  ['?maxSeconds=Infinity', 'query.maxSeconds'],
  ['?maxSeconds=soon', 'query.maxSeconds'],
  ['?maxSeconds=', 'query.maxSeconds'],
  ['?lastEventId=', 'query.lastEventId'],
  ['?lastEventId=x7', 'query.lastEventId'],
])('400s %s, even beside a valid Last-Event-ID header (names %s)', async (query, path) => {
  const s = open('A', query, { 'Last-Event-ID': '1' });
  const res = await s.response;
  if (res.status === 200) s.close();
  await s.done;
  const body =
    res.status === 200 ? undefined : (JSON.parse(s.text()) as { error: { code: string; details: { path: string }[] } });
  expect({ status: res.status, code: body?.error.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
  expect(body!.error.details.map((d) => d.path)).toContain(path);
});
