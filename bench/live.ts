/**
 * Live progress (`npm run bench -- live`): how soon a load shows on a member's stream (GET …/members/{m}/events),
 * against how soon a client polling the member view sees it, in the same run. Members are enrolled; half of them are
 * followed by several open streams each (thousands in all), the other half are polled. Transactions go out open loop,
 * at the same rate to each half, one after the other; each one's latency runs from its scheduled send to the moment the
 * member's stream carried (or the poll first read) a view that counts it. Also: the database connections the API holds
 * with every stream open (one listening connection is the point), and the product's memory with them. Each round
 * starts once the product is quiet: a round begun while the enrollments' first workflow tasks are still queued measures
 * that queue (seconds, on this machine), not the path to the app.
 */
import http from 'node:http';
import { sseParser } from '../src/cli/client';
import { delay, mb, pool, say, settle } from './lib/common';
import { statusBytes } from './lib/decided';
import { openLoop, stats, type OpenLoopResult, type Stats } from './lib/load';
import { api, startProduct, type CodeTree, type Product } from './lib/product';

export interface LiveOptions {
  /** Members enrolled; the first half followed by streams, the second half polled. */
  members: number;
  streamsPerMember: number;
  /** Transactions per second, each half in its turn. */
  rate: number;
  durationMs: number;
  /** How often the polling client asks for the view. */
  pollMs: number;
}

export const LIVE_DEFAULTS: LiveOptions = {
  members: 1_000,
  streamsPerMember: 4,
  rate: 20,
  durationMs: 60_000,
  pollMs: 25,
};
export const LIVE_QUICK: LiveOptions = { members: 40, streamsPerMember: 2, rate: 5, durationMs: 4_000, pollMs: 25 };

const CAMPAIGN = 'bench-live';
const AMOUNT = 100;

export interface LiveResult {
  tree: { commit: string; label: string };
  streams: number;
  /** Database connections of the product while every stream was open, and how many of them listen. */
  connections: { total: number; listening: number };
  productRssMb: { before: number; withStreams: number };
  stream: { load: Omit<OpenLoopResult, 'latencies'>; latency: Stats | null; perStream: Stats | null; missed: number };
  poll: { load: Omit<OpenLoopResult, 'latencies'>; latency: Stats | null; missed: number };
}

interface Waiter {
  expected: number;
  scheduled: number;
  left: number;
  resolve: () => void;
}

/** One member's open streams: each event's countedCents, as each stream hears it. */
class Followed {
  readonly waiters: Waiter[] = [];
  readonly perStream: number[] = [];
  private readonly requests: http.ClientRequest[] = [];
  private opened = 0;

  constructor(
    product: Product,
    readonly memberId: string,
    streams: number,
    onFirst: () => void,
  ) {
    const url = new URL(`${product.apiUrl}/v1/campaigns/${CAMPAIGN}/members/${memberId}/events`);
    for (let s = 0; s < streams; s++) {
      const heard = new Set<Waiter>();
      const req = http.get(url, { agent: false, headers: { Accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8');
        res.on(
          'data',
          sseParser((e) => {
            if (e.event !== 'member') return;
            if (this.opened < streams && ++this.opened === streams) onFirst();
            const counted = (JSON.parse(e.data) as { countedCents: number }).countedCents;
            const now = performance.now();
            for (const w of [...this.waiters]) {
              if (counted < w.expected || heard.has(w)) continue;
              heard.add(w);
              this.perStream.push(now - w.scheduled);
              if (--w.left === 0) {
                this.waiters.splice(this.waiters.indexOf(w), 1);
                w.resolve();
              }
            }
          }),
        );
      });
      req.on('error', () => undefined);
      this.requests.push(req);
    }
  }

  close(): void {
    for (const r of this.requests) r.destroy();
  }
}

export async function measureLive(tree: CodeTree, o: LiveOptions): Promise<LiveResult> {
  say(`live on ${tree.label}: starting the product…`);
  const product = await startProduct(tree);
  const followedIds = Array.from({ length: Math.floor(o.members / 2) }, (_, i) => `LS-${i}`);
  const polledIds = Array.from({ length: o.members - followedIds.length }, (_, i) => `LP-${i}`);
  const followed: Followed[] = [];
  try {
    const put = await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, {
      targetCents: 50_000_000,
      rewardPoints: 2_000,
      window: 'P30D',
    });
    if (put.status !== 201) throw new Error(`campaign: ${put.status}`);
    await pool(o.members, 16, async (i) => {
      const memberId = i < followedIds.length ? followedIds[i] : polledIds[i - followedIds.length];
      const res = await api(product, 'POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId });
      if (res.status !== 201) throw new Error(`enroll ${memberId}: ${res.status}`);
    });
    const rssBefore = statusBytes(product.child.pid!, 'VmRSS');

    let ready = 0;
    for (const m of followedIds) followed.push(new Followed(product, m, o.streamsPerMember, () => (ready += 1)));
    const deadline = Date.now() + 120_000;
    while (ready < followed.length && Date.now() < deadline) await delay(100);
    if (ready < followed.length) throw new Error(`only ${ready} of ${followed.length} members' streams opened`);
    const streams = followed.length * o.streamsPerMember;
    say(`live: ${streams} streams open on ${followed.length} members`);
    const { rows } = await product.db.query<{ total: number; listening: number }>(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE application_name = 'cold-member-activation-live')::int AS listening
       FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    const rssWith = statusBytes(product.child.pid!, 'VmRSS');
    // The enrollments' first workflow tasks and the streams' first reads are done before anything is measured.
    say(`live: settled in ${await settle(180_000)} ms`);

    const sent = new Map<string, number>();
    const post = async (memberId: string, i: number) => {
      const res = await fetch(`${product.apiUrl}/v1/transactions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          transactionId: `TX-${memberId}-${i}`,
          memberId,
          kind: 'LOAD',
          amountCents: AMOUNT,
          currency: 'AUD',
          channel: 'DEBIT_CARD',
          occurredAt: new Date().toISOString(),
        }),
      });
      if (res.status !== 202) throw new Error(`POST /v1/transactions: ${res.status}`);
      await res.arrayBuffer();
    };
    /** The amount the member's view counts once this transaction is in. */
    const expectedAfter = (memberId: string) => {
      const total = (sent.get(memberId) ?? 0) + AMOUNT;
      sent.set(memberId, total);
      return total;
    };
    const within = 30_000;
    const timeout = () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not seen')), within));

    // Ours: the stream carries it.
    let streamMissed = 0;
    const streamLatency: number[] = [];
    const streamRun = await openLoop(o.rate, o.durationMs, async (i) => {
      const f = followed[i % followed.length];
      const scheduled = performance.now();
      const seen = new Promise<void>((resolve) =>
        f.waiters.push({ expected: expectedAfter(f.memberId), scheduled, left: o.streamsPerMember, resolve }),
      );
      await post(f.memberId, i);
      try {
        await Promise.race([seen, timeout()]);
        streamLatency.push(performance.now() - scheduled);
      } catch {
        streamMissed += 1;
      }
    });
    say(`live: streams ${JSON.stringify(stats(streamLatency))}`);
    await settle(60_000);

    // The baseline: a client polling the member view.
    let pollMissed = 0;
    const pollLatency: number[] = [];
    const pollRun = await openLoop(o.rate, o.durationMs, async (i) => {
      const memberId = polledIds[i % polledIds.length];
      const scheduled = performance.now();
      const expected = expectedAfter(memberId);
      await post(memberId, i);
      const until = Date.now() + within;
      for (;;) {
        const view = await api<{ countedCents: number }>(
          product,
          'GET',
          `/v1/campaigns/${CAMPAIGN}/members/${memberId}`,
        );
        if (view.body.countedCents >= expected) break;
        if (Date.now() > until) {
          pollMissed += 1;
          return;
        }
        await delay(o.pollMs);
      }
      pollLatency.push(performance.now() - scheduled);
    });
    say(`live: polling ${JSON.stringify(stats(pollLatency))}`);

    const { latencies: _s, ...streamLoad } = streamRun;
    const { latencies: _p, ...pollLoad } = pollRun;
    return {
      tree: { commit: tree.commit, label: tree.label },
      streams,
      connections: rows[0],
      productRssMb: { before: mb(rssBefore), withStreams: mb(rssWith) },
      stream: {
        load: streamLoad,
        latency: stats(streamLatency),
        perStream: stats(followed.flatMap((f) => f.perStream)),
        missed: streamMissed,
      },
      poll: { load: pollLoad, latency: stats(pollLatency), missed: pollMissed },
    };
  } finally {
    for (const f of followed) f.close();
    await product.stop();
  }
}
