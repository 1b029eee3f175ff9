/**
 * Live progress for the app (issue 13) through the real stack: a member's Server-Sent Events carry the member view on
 * every change, from the read model's own change notification (LISTEN/NOTIFY): a load counted, the goal, the window's
 * end, the verdict, the reward. Last-Event-ID resumes from the view's version; a heartbeat keeps an idle stream alive;
 * hundreds of streams share one listening connection, which comes back by itself when PostgreSQL drops it; the stack
 * stops at once with streams open; the CLI's `watch` follows a member until its verdict.
 */
import { Pool } from 'pg';
import { buildCli, runCli } from '../support/cli';
import { loadBody } from '../support/requests';
import { eventually, startTestStack, type TestStack } from '../support/stack';

const C = 'live-e2e';
let stack: TestStack;
let db: Pool;

beforeAll(async () => {
  stack = await startTestStack({ EVENTS_HEARTBEAT: 'PT1S' });
  db = new Pool({ connectionString: stack.databaseUrl, max: 2 });
  buildCli();
  const put = await stack.api('PUT', `/v1/campaigns/${C}`, {
    targetCents: 50_000,
    rewardPoints: 2_000,
    window: 'PT6S',
    // A view the row holds for a moment can be gone by the time a busy machine reads it after its notification (the
    // stream carries the row as it is): 5 s of CONFIRMING is long enough to be seen, 1 s once was not.
    grace: 'PT5S',
  });
  expect(put.status).toBe(201);
}, 180_000);
afterAll(async () => {
  await db?.end();
  await stack?.destroy();
}, 60_000);

interface MemberEvent {
  id: number;
  view: { state: string; countedCents: number; reward?: { status: string }; memberId: string };
  at: number;
}

/** A member stream, read as an EventSource would: events (id, data) and comments, as they come. */
class Stream {
  events: MemberEvent[] = [];
  comments: string[] = [];
  retry?: number;
  readonly done: Promise<void>;
  private readonly abort = new AbortController();
  status = 0;
  contentType = '';

  constructor(memberId: string, lastEventId?: number, campaignId = C) {
    this.done = (async () => {
      const res = await fetch(`${stack.apiUrl}/v1/campaigns/${campaignId}/members/${memberId}/events`, {
        headers: {
          Accept: 'text/event-stream',
          ...(lastEventId !== undefined ? { 'Last-Event-ID': String(lastEventId) } : {}),
        },
        signal: this.abort.signal,
      });
      this.status = res.status;
      this.contentType = res.headers.get('content-type') ?? '';
      if (!res.ok || !res.body) return;
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            this.take(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch {
        // aborted by close()
      }
    })();
  }

  private take(block: string): void {
    let id: number | undefined;
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line);
      else if (line.startsWith('id: ')) id = Number(line.slice(4));
      else if (line.startsWith('data: ')) data += line.slice(6);
      else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7));
    }
    if (id !== undefined) this.events.push({ id, view: JSON.parse(data) as MemberEvent['view'], at: Date.now() });
  }

  next(predicate: (e: MemberEvent) => boolean, what: string, timeoutMs = 20_000): Promise<MemberEvent> {
    return eventually(async () => this.events.find(predicate), timeoutMs, what);
  }

  close(): void {
    this.abort.abort();
  }
}

const enroll = async (memberId: string) =>
  expect((await stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId })).status).toBe(201);
const load = (memberId: string, transactionId: string, amountCents: number) =>
  stack.api('POST', '/v1/transactions', loadBody(memberId, transactionId, amountCents));

it('carries the view on every change: a load counted, the goal, the window, the verdict, the reward', async () => {
  await enroll('L-1');
  const s = new Stream('L-1');
  const first = await s.next(() => true, 'the view as it stands');
  expect(s.status).toBe(200);
  expect(s.contentType).toMatch(/^text\/event-stream/);
  expect(s.retry).toBe(2_000);
  expect(first.view).toMatchObject({ memberId: 'L-1', state: 'ENROLLED', countedCents: 0 });

  const posted = Date.now();
  expect((await load('L-1', 'TX-L-1-a', 20_000)).status).toBe(202);
  const counted = await s.next((e) => e.view.countedCents === 20_000, 'the load counted');
  expect(counted.view.state).toBe('ACTIVE');
  expect(counted.id).toBeGreaterThan(first.id);
  // Measured properly (p99) in the benchmark; here only that it is live, not polled.
  expect(counted.at - posted).toBeLessThan(5_000);

  await load('L-1', 'TX-L-1-b', 40_000);
  await s.next((e) => e.view.state === 'GOAL_ACHIEVED', 'the goal reached');
  // The window's timer, then the grace's and the reward: a minute each at most, on a machine running suites side by side
  // (20 s was once not enough).
  await s.next((e) => e.view.state === 'CONFIRMING', 'the window closed', 60_000);
  const done = await s.next((e) => e.view.state === 'COMPLETED', 'the reward', 60_000);
  expect(done.view.reward).toMatchObject({ status: 'ISSUED' });
  // Versions only ever go up.
  const ids = s.events.map((e) => e.id);
  expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  expect(new Set(ids).size).toBe(ids.length);
  s.close();
}, 180_000);

it('Last-Event-ID resumes from the view version: nothing already had, then every newer one; heartbeats meanwhile', async () => {
  await enroll('L-2');
  await load('L-2', 'TX-L-2-a', 10_000);
  const view = await eventually(
    async () => {
      const res = await stack.api<{ countedCents: number }>('GET', `/v1/campaigns/${C}/members/L-2`);
      return res.body.countedCents === 10_000;
    },
    10_000,
    'the load in the view',
  );
  expect(view).toBe(true);
  const s1 = new Stream('L-2');
  const now = await s1.next(() => true, 'the current view');
  s1.close();

  const resumed = new Stream('L-2', now.id);
  await eventually(async () => resumed.comments.length >= 2, 10_000, 'two heartbeats');
  expect(resumed.events).toEqual([]);
  await load('L-2', 'TX-L-2-b', 15_000);
  const next = await resumed.next((e) => e.view.countedCents === 25_000, 'the next change');
  expect(next.id).toBeGreaterThan(now.id);
  resumed.close();

  // An older version: the view as it stands at once.
  const behind = new Stream('L-2', 0);
  expect((await behind.next(() => true, 'the current view')).view.countedCents).toBeGreaterThanOrEqual(25_000);
  behind.close();
}, 60_000);

it('refuses an unknown member (404) and a bad Last-Event-ID (400) in the contract shape', async () => {
  const unknown = await fetch(`${stack.apiUrl}/v1/campaigns/${C}/members/NOBODY/events`);
  expect(unknown.status).toBe(404);
  expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  await enroll('L-3');
  for (const bad of ['-1', 'abc', '1.5', '9'.repeat(20)]) {
    const res = await fetch(`${stack.apiUrl}/v1/campaigns/${C}/members/L-3/events`, {
      headers: { 'Last-Event-ID': bad },
    });
    expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
  }
});

it('hundreds of streams cost one listening connection, which PostgreSQL may drop: it comes back, nothing missed', async () => {
  // A window of a month: on a busy machine, opening 300 streams and dropping the connection took longer than the
  // 6 s window of the other tests, and the last load then fell outside it.
  const long = `${C}-long`;
  const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };
  expect((await stack.api('PUT', `/v1/campaigns/${long}`, terms)).status).toBe(201);
  const members = Array.from({ length: 20 }, (_, i) => `LM-${i}`);
  for (const m of members) {
    expect((await stack.api('POST', `/v1/campaigns/${long}/enrollments`, { memberId: m })).status).toBe(201);
  }
  const streams = members.flatMap((m) => Array.from({ length: 15 }, () => new Stream(m, undefined, long)));
  await eventually(async () => streams.every((s) => s.events.length > 0), 30_000, '300 streams open');
  const listeners = async () =>
    (
      await db.query<{ pid: number; query: string }>(
        `SELECT pid, query FROM pg_stat_activity WHERE application_name = 'cold-member-activation-live'`,
      )
    ).rows;
  const [listener, ...more] = await listeners();
  expect(more).toEqual([]);
  expect(listener.query).toMatch(/LISTEN member_view|SELECT 1/);

  // PostgreSQL drops the listening connection: the API listens again, and reads every followed view again.
  await db.query('SELECT pg_terminate_backend($1)', [listener.pid]);
  await eventually(
    async () => {
      const now = await listeners();
      return now.length === 1 && now[0].pid !== listener.pid;
    },
    30_000,
    'a new listening connection',
  );
  await load('LM-7', 'TX-LM-7', 30_000);
  for (const s of streams.slice(7 * 15, 8 * 15)) await s.next((e) => e.view.countedCents === 30_000, 'LM-7 after');
  for (const s of streams) s.close();
}, 120_000);

it('the CLI watches a member until its final state', async () => {
  await enroll('L-4');
  const watching = runCli(() => stack.apiUrl, ['watch', C, 'L-4', '--until-final']);
  await new Promise((r) => setTimeout(r, 1_000));
  await load('L-4', 'TX-L-4', 60_000);
  const out = await watching;
  expect(out.code).toBe(0);
  expect(out.stdout).toMatch(/L-4\s+v\d+\s+ENROLLED/);
  expect(out.stdout).toMatch(/GOAL_ACHIEVED\s+counted A\$600\.00 of A\$500\.00/);
  expect(out.stdout).toMatch(/COMPLETED/);
}, 60_000);

it('stops at once with streams open', async () => {
  await enroll('L-5');
  const s = new Stream('L-5');
  await s.next(() => true, 'the stream open');
  const t0 = Date.now();
  await stack.stop();
  expect(Date.now() - t0).toBeLessThan(15_000);
  await s.done;
}, 60_000);
