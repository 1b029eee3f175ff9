/**
 * Real-time transactions (`npm run bench -- transactions`): open-loop load on `POST /v1/transactions`, stepped up to
 * the knee, side by side with the raw Temporal client signalling the same member workflows (interleaved rounds, the
 * order alternating per step); at 70 % of the API's knee, a longer round for freshness (202 → the read model shows the
 * transaction) and one with member-view reads at a fixed rate alongside. Per round: ack latency from the schedule,
 * freshness, history events per transaction (from a sample of the members' histories, by event type) and CPU per
 * 1,000 transactions of the product's node process (API and worker), the Temporal dev server and PostgreSQL.
 */
import type { TransactionEvent } from '../src/domain/model';
import { transactionSignal } from '../src/workflows/messages';
import { childUsage, delay, perSecond, pool, say, settle } from './lib/common';
import { FreshnessWatcher, historyBreakdown, openLoop, stats, type Stats } from './lib/load';
import { api, startProduct, type CodeTree, type Product } from './lib/product';

export interface TransactionsOptions {
  members: number;
  rates: number[];
  stepMs: number;
  at70Ms: number;
  readRate: number;
  /** Histories fetched per round to count events by type. */
  historySample: number;
  env?: NodeJS.ProcessEnv;
}

export const TRANSACTIONS_DEFAULTS: TransactionsOptions = {
  members: 500,
  rates: [10, 20, 30, 45, 60, 80, 100, 130, 170],
  stepMs: 20_000,
  at70Ms: 40_000,
  readRate: 20,
  historySample: 25,
};

export const TRANSACTIONS_QUICK: TransactionsOptions = {
  members: 30,
  rates: [5, 10],
  stepMs: 3_000,
  at70Ms: 3_000,
  readRate: 5,
  historySample: 5,
};

export const CAMPAIGN = 'bench-tx';
/** A round whose ack p99 passes this, or that answers under 80 % of what it was offered, is past the knee. */
const PAST_KNEE_P99_MS = 2_000;
/** The knee: the highest rate whose every request succeeded with an ack p99 within this. */
export const KNEE_P99_MS = 200;

export type Path = 'api' | 'raw';

export interface Round {
  path: Path;
  rate: number;
  durationMs: number;
  offered: number;
  ok: number;
  errors: number;
  firstErrors: string[];
  throughput: number;
  fireLagP99Ms: number;
  ack: Stats | null;
  freshness: Stats | null;
  /** Acknowledged transactions the read model did not show within a minute. */
  unseen: number;
  /** CPU seconds per 1,000 acknowledged transactions, by process name (node: API and worker). */
  cpuSecondsPer1000: Record<string, number>;
  /** History events per transaction over the sampled members, by event type, and in all. */
  eventsPerTransaction: Record<string, number>;
  eventsPerTransactionTotal: number;
  reads?: { rate: number; latency: Stats | null; errors: number };
}

export interface TreeResult {
  tree: { commit: string; label: string };
  enrollMs: number;
  rounds: Round[];
  knee: Record<Path, number | null>;
  at70: { rate: number; api: Round; raw: Round; reads: Round } | null;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export async function measureTransactions(tree: CodeTree, o: TransactionsOptions): Promise<TreeResult> {
  say(`transactions on ${tree.label}: starting the product…`);
  const product = await startProduct(tree, { env: o.env });
  try {
    const put = await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, {
      targetCents: 50_000,
      rewardPoints: 2_000,
      window: 'P30D',
      grace: 'PT48H',
    });
    if (put.status !== 201 && put.status !== 200) throw new Error(`PUT campaign: ${put.status}`);
    const members = Array.from({ length: o.members }, (_, i) => `tx-${String(i).padStart(6, '0')}`);
    const t0 = Date.now();
    await pool(members.length, 16, async (i) => {
      const res = await api(product, 'POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: members[i] });
      if (res.status !== 201 && res.status !== 200) throw new Error(`enroll ${members[i]}: ${res.status}`);
    });
    const enrollMs = Date.now() - t0;
    say(`  enrolled ${members.length} members in ${(enrollMs / 1000).toFixed(1)} s; waiting for quiet…`);
    await settle(120_000);

    const ctx: RoundContext = { product, members, next: 0, o };
    const rounds: Round[] = [];
    const past = new Set<Path>();
    for (const [step, rate] of o.rates.entries()) {
      const order: Path[] = step % 2 === 0 ? ['api', 'raw'] : ['raw', 'api'];
      for (const p of order) {
        if (past.has(p)) continue;
        const r = await runRound(ctx, p, rate, o.stepMs);
        rounds.push(r);
        say(`  ${describe(r)}`);
        if (r.ok < 0.8 * r.offered || (r.ack?.p99 ?? Infinity) > PAST_KNEE_P99_MS) past.add(p);
        await settle(120_000);
      }
      if (past.size === 2) break;
    }
    const knee = { api: kneeOf(rounds, 'api'), raw: kneeOf(rounds, 'raw') };
    say(`  knee (every request answered, ack p99 ≤ ${KNEE_P99_MS} ms): API ${knee.api} tx/s, raw ${knee.raw} tx/s`);

    let at70: TreeResult['at70'] = null;
    if (knee.api) {
      const rate = Math.max(1, Math.round(0.7 * knee.api));
      say(`  at 70 % of the API's knee: ${rate} tx/s for ${o.at70Ms / 1000} s per path, then with reads…`);
      const apiRound = await runRound(ctx, 'api', rate, o.at70Ms);
      say(`  ${describe(apiRound)}`);
      await settle(120_000);
      const rawRound = await runRound(ctx, 'raw', rate, o.at70Ms);
      say(`  ${describe(rawRound)}`);
      await settle(120_000);
      const reads = await runRound(ctx, 'api', rate, o.at70Ms, o.readRate);
      say(`  ${describe(reads)}`);
      at70 = { rate, api: apiRound, raw: rawRound, reads };
    }
    return { tree: { commit: tree.commit, label: tree.label }, enrollMs, rounds, knee, at70 };
  } finally {
    await product.stop();
  }
}

interface RoundContext {
  product: Product;
  members: string[];
  /** Round-robin position: each round continues where the last one stopped. */
  next: number;
  o: TransactionsOptions;
}

function kneeOf(rounds: Round[], p: Path): number | null {
  const good = rounds.filter(
    (r) => r.path === p && r.errors === 0 && r.ok === r.offered && (r.ack?.p99 ?? Infinity) <= KNEE_P99_MS,
  );
  return good.length ? Math.max(...good.map((r) => r.rate)) : null;
}

const describe = (r: Round) =>
  `${r.path} ${r.rate}/s${r.reads ? ` + ${r.reads.rate} reads/s` : ''}: ${r.ok}/${r.offered} ok, ${r.throughput}/s, ` +
  `ack p50 ${r.ack?.p50} p99 ${r.ack?.p99} ms, fresh p50 ${r.freshness?.p50} p99 ${r.freshness?.p99} ms` +
  `${r.unseen ? `, ${r.unseen} unseen` : ''}, ${r.eventsPerTransactionTotal} events/tx, CPU s/1000 tx ` +
  JSON.stringify(r.cpuSecondsPer1000) +
  (r.reads ? `, reads p50 ${r.reads.latency?.p50} p99 ${r.reads.latency?.p99} ms` : '');

async function runRound(ctx: RoundContext, p: Path, rate: number, durationMs: number, readRate = 0): Promise<Round> {
  const { product, members } = ctx;
  const tag = `${p}${rate}x${Date.now().toString(36)}`;
  const watcher = new FreshnessWatcher(product.db);
  const perMember = new Map<string, number>();
  const since = Date.now();
  const cpu0 = childUsage();
  const send = async (i: number) => {
    const memberId = members[(ctx.next + i) % members.length];
    const workflowId = `activation:${CAMPAIGN}:${memberId}`;
    const transactionId = `${tag}-${i}`;
    const tx = {
      transactionId,
      memberId,
      kind: 'LOAD' as const,
      amountCents: 100,
      currency: 'AUD' as const,
      channel: 'DEBIT_CARD' as const,
      occurredAt: new Date().toISOString(),
    };
    if (p === 'api') {
      const res = await api(product, 'POST', '/v1/transactions', tx);
      if (res.status !== 202) throw new Error(`POST /v1/transactions answered ${res.status}`);
    } else {
      const event: TransactionEvent = { source: 'REALTIME', ...tx, receivedAt: new Date().toISOString() };
      await product.temporal.workflow.getHandle(workflowId).signal(transactionSignal, event);
    }
    watcher.track(workflowId, transactionId, Date.now());
    perMember.set(workflowId, (perMember.get(workflowId) ?? 0) + 1);
  };
  const reading = readRate > 0 ? readLoad(ctx, readRate, durationMs) : undefined;
  const result = await openLoop(rate, durationMs, send);
  const readResult = await reading;
  ctx.next += result.offered;
  const unseen = await watcher.finish(60_000);
  const cpu1 = childUsage();
  await delay(1_500); // the workflow task that follows the read-model write
  const sample = [...perMember.keys()].slice(0, ctx.o.historySample);
  const breakdown = await historyBreakdown(product.temporal, sample, since);
  const sampledTx = sample.reduce((n, id) => n + (perMember.get(id) ?? 0), 0);
  const eventsPerTransaction = Object.fromEntries(
    Object.entries(breakdown)
      .sort((a, b) => b[1] - a[1])
      .map(([type, n]) => [type, round2(n / Math.max(1, sampledTx))]),
  );
  const cpuSecondsPer1000: Record<string, number> = {};
  for (const [name, after] of Object.entries(cpu1?.cpuMs ?? {})) {
    const used = after - (cpu0?.cpuMs[name] ?? 0);
    if (used >= 10) cpuSecondsPer1000[name] = round2(used / Math.max(1, result.ok));
  }
  return {
    path: p,
    rate,
    durationMs,
    offered: result.offered,
    ok: result.ok,
    errors: result.errors,
    firstErrors: result.firstErrors,
    throughput: result.throughput,
    fireLagP99Ms: result.fireLagP99Ms,
    ack: stats(result.latencies),
    freshness: stats(watcher.freshness),
    unseen,
    cpuSecondsPer1000,
    eventsPerTransaction,
    eventsPerTransactionTotal: round2(Object.values(breakdown).reduce((a, b) => a + b, 0) / Math.max(1, sampledTx)),
    ...(readResult ? { reads: readResult } : {}),
  };
}

/** Member-view reads at a fixed rate, open loop, over the members the load is writing to. */
async function readLoad(ctx: RoundContext, rate: number, durationMs: number) {
  const r = await openLoop(rate, durationMs, async (i) => {
    const memberId = ctx.members[(ctx.next + i * 7) % ctx.members.length];
    const res = await api(ctx.product, 'GET', `/v1/campaigns/${CAMPAIGN}/members/${memberId}`);
    if (res.status !== 200) throw new Error(`GET member answered ${res.status}`);
  });
  return { rate, latency: stats(r.latencies), errors: r.errors, throughput: perSecond(r.ok, r.wallMs) };
}
