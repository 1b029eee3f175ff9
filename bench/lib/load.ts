/**
 * Open-loop load and what it measures: requests scheduled by the clock at a fixed arrival rate (the i-th at
 * t0 + i/rate, whether or not earlier ones have answered), each latency taken from its scheduled time, so a slow
 * server cannot hide its queue by slowing the generator down (no coordinated omission). Freshness: when the read
 * model (the ledger row the recorder writes with the member view) shows a transaction, against its 202.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type pg from 'pg';
import { delay } from './common';

const { EventType } = temporal.api.enums.v1;

export interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Percentiles by the nearest-rank method, in the unit of the samples (ms), one decimal. */
export function stats(samples: readonly number[]): Stats | null {
  if (samples.length === 0) return null;
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return {
    n: s.length,
    p50: round1(at(0.5)),
    p90: round1(at(0.9)),
    p99: round1(at(0.99)),
    max: round1(s[s.length - 1]),
    mean: round1(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

export interface OpenLoopResult {
  offered: number;
  ok: number;
  errors: number;
  firstErrors: string[];
  /** Scheduled → answered, of the requests that succeeded (ms). */
  latencies: number[];
  /** From the first scheduled request to the last answer (ms). */
  wallMs: number;
  /** Answered per second over `wallMs`. */
  throughput: number;
  /** How late the generator fired requests behind their schedule (it must keep up for the numbers to hold). */
  fireLagP99Ms: number;
}

/**
 * Fires `fire(i)` for i = 0 … rate*durationMs/1000 - 1 at the i-th scheduled time. `fire` resolves when the request
 * is answered (and rejects on an error answer); its latency counts from the schedule.
 */
export async function openLoop(
  rate: number,
  durationMs: number,
  fire: (i: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<OpenLoopResult> {
  const count = Math.max(1, Math.round((rate * durationMs) / 1000));
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const fireLags: number[] = [];
  const firstErrors: string[] = [];
  let errors = 0;
  let lastAnswer = 0;
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now() + 5;
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) throw new Error('interrupted');
    const scheduled = t0 + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await delay(wait);
    fireLags.push(Math.max(0, performance.now() - scheduled));
    inFlight.push(
      fire(i).then(
        () => {
          const now = performance.now();
          latencies.push(now - scheduled);
          lastAnswer = Math.max(lastAnswer, now);
        },
        (err: unknown) => {
          errors += 1;
          lastAnswer = Math.max(lastAnswer, performance.now());
          if (firstErrors.length < 5) firstErrors.push(err instanceof Error ? err.message : String(err));
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const wallMs = Math.max(1, lastAnswer - t0);
  return {
    offered: count,
    ok: latencies.length,
    errors,
    firstErrors,
    latencies,
    wallMs: Math.round(wallMs),
    throughput: round1((latencies.length * 1000) / wallMs),
    fireLagP99Ms: stats(fireLags)?.p99 ?? 0,
  };
}

/**
 * Watches the read model for transactions: every `pollMs` one query by primary key for those not seen yet. The
 * freshness of one is the ledger row's write time (PostgreSQL's clock, the same machine's) minus its 202.
 */
export class FreshnessWatcher {
  private readonly pending = new Map<string, { workflowId: string; transactionId: string; ackAt: number }>();
  readonly freshness: number[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly db: pg.Pool,
    pollMs = 20,
  ) {
    this.loop = (async () => {
      while (this.running || this.pending.size > 0) {
        await this.poll().catch(() => undefined);
        await delay(pollMs);
      }
    })();
  }

  /** `ackAt`: Date.now() when the 202 (or the signal's answer) came. */
  track(workflowId: string, transactionId: string, ackAt: number): void {
    this.pending.set(`${workflowId}\u0000${transactionId}`, { workflowId, transactionId, ackAt });
  }

  get outstanding(): number {
    return this.pending.size;
  }

  private async poll(): Promise<void> {
    if (this.pending.size === 0) return;
    const items = [...this.pending.values()].slice(0, 5_000);
    const { rows } = await this.db.query<{ workflow_id: string; transaction_id: string; at: number }>(
      `SELECT workflow_id, transaction_id, extract(epoch FROM updated_at) * 1000 AS at FROM ledger_entries
       WHERE (workflow_id, transaction_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [items.map((i) => i.workflowId), items.map((i) => i.transactionId)],
    );
    for (const r of rows) {
      const key = `${r.workflow_id}\u0000${r.transaction_id}`;
      const item = this.pending.get(key);
      if (!item) continue;
      this.freshness.push(Math.max(0, Number(r.at) - item.ackAt));
      this.pending.delete(key);
    }
  }

  /** Waits until every tracked transaction is seen, or `timeoutMs`; stops watching. Returns how many were not seen. */
  async finish(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline) await delay(50);
    const missing = this.pending.size;
    this.pending.clear();
    this.running = false;
    await this.loop;
    return missing;
  }
}

/** History events by type, per unit of work, over a sample of workflows, counting events from `since` (epoch ms). */
export async function historyBreakdown(
  client: Client,
  workflowIds: readonly string[],
  since: number,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await Promise.all(
    workflowIds.map(async (id) => {
      const history = await client.workflow.getHandle(id).fetchHistory();
      for (const event of history.events ?? []) {
        const secs = event.eventTime?.seconds;
        const s = typeof secs === 'number' ? secs : (secs?.toNumber() ?? 0);
        const ms = s * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);
        if (ms < since) continue;
        const type = (EventType[event.eventType ?? 0] ?? 'UNKNOWN').replace(/^EVENT_TYPE_/, '');
        counts[type] = (counts[type] ?? 0) + 1;
      }
    }),
  );
  return counts;
}
