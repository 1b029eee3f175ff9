/**
 * The store as it grows (`npm run bench -- store`): enrollments at a steady, open-loop rate up to each level of a
 * series (default 1k, 10k, 100k), and at each level, once the store is quiet, a freshness round at a fixed transaction
 * rate on members spread over the whole store (most of them long out of the worker's cache), plus what the sleeping
 * enrollments cost: the node process's resident memory (API and worker), PostgreSQL's database size and the Temporal
 * dev server's SQLite files, in all and per enrollment.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TransactionEvent } from '../src/domain/model';
import { childUsage, say, settle } from './lib/common';
import { FreshnessWatcher, openLoop, stats, type Stats } from './lib/load';
import { api, startProduct, type CodeTree, type Product } from './lib/product';

export interface StoreOptions {
  levels: number[];
  enrollRate: number;
  txRate: number;
  roundMs: number;
}

export const STORE_DEFAULTS: StoreOptions = {
  levels: [1_000, 10_000, 100_000],
  // Below the enrollment knee on this machine kind (40/s, `enrollments` benchmark): a steady rate, not a backlog.
  enrollRate: 35,
  txRate: 20,
  roundMs: 30_000,
};
export const STORE_QUICK: StoreOptions = { levels: [50, 150], enrollRate: 25, txRate: 5, roundMs: 3_000 };

const CAMPAIGN = 'bench-store';
const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;

export interface Level {
  enrollments: number;
  enroll: { rate: number; ok: number; errors: number; ack: Stats | null; throughput: number };
  freshness: Stats | null;
  ack: Stats | null;
  unseen: number;
  /** Resident memory of the product's node process (API and worker) while the store sleeps. */
  nodeRssMb: number;
  postgresBytes: number;
  temporalBytes: number;
  postgresBytesPerEnrollment: number;
  temporalBytesPerEnrollment: number;
}

export interface StoreResult {
  tree: { commit: string; label: string };
  levels: Level[];
}

export async function measureStore(tree: CodeTree, o: StoreOptions): Promise<StoreResult> {
  say(`store on ${tree.label}: starting the product…`);
  const product = await startProduct(tree);
  try {
    await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, {
      targetCents: 5_000_000,
      rewardPoints: 100,
      window: 'P30D',
      grace: 'PT48H',
    });
    await settle(60_000);
    const base = sizes(product);
    const levels: Level[] = [];
    let enrolled = 0;
    for (const level of o.levels) {
      const count = level - enrolled;
      const first = enrolled;
      say(`  enrolling ${count} at ${o.enrollRate}/s (to ${level})…`);
      const e = await openLoop(o.enrollRate, (count * 1000) / o.enrollRate, async (i) => {
        const res = await api(product, 'POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, {
          memberId: member(first + i),
        });
        if (res.status !== 201 && res.status !== 200) throw new Error(`enroll answered ${res.status}`);
      });
      enrolled = level;
      say(`    ${e.ok}/${e.offered} ok, ${e.throughput}/s, ack p99 ${stats(e.latencies)?.p99} ms; waiting for quiet…`);
      await settle(600_000);
      const round = await freshnessRound(product, enrolled, o);
      const now = sizes(product);
      const rss = nodeRss();
      const lv: Level = {
        enrollments: enrolled,
        enroll: { rate: o.enrollRate, ok: e.ok, errors: e.errors, ack: stats(e.latencies), throughput: e.throughput },
        ...round,
        nodeRssMb: mb(rss),
        postgresBytes: now.postgres,
        temporalBytes: now.temporal,
        postgresBytesPerEnrollment: Math.round((now.postgres - base.postgres) / enrolled),
        temporalBytesPerEnrollment: Math.round((now.temporal - base.temporal) / enrolled),
      };
      levels.push(lv);
      say(
        `    at ${enrolled}: fresh p50 ${lv.freshness?.p50} p99 ${lv.freshness?.p99} ms, ack p99 ${lv.ack?.p99} ms, ` +
          `node RSS ${lv.nodeRssMb} MB, per enrollment PostgreSQL ${lv.postgresBytesPerEnrollment} B, ` +
          `Temporal ${lv.temporalBytesPerEnrollment} B`,
      );
    }
    return { tree: { commit: tree.commit, label: tree.label }, levels };
  } finally {
    await product.stop();
  }
}

const member = (i: number) => `st-${String(i).padStart(7, '0')}`;

/** Transactions at a fixed rate, each for a member picked across the whole store (a stride, so few repeat). */
async function freshnessRound(product: Product, enrolled: number, o: StoreOptions) {
  const watcher = new FreshnessWatcher(product.db);
  const tag = `s${enrolled}x${Date.now().toString(36)}`;
  const stride = 7_919; // a prime: consecutive transactions land far apart in the store
  const r = await openLoop(o.txRate, o.roundMs, async (i) => {
    const memberId = member((i * stride) % enrolled);
    const tx = {
      transactionId: `${tag}-${i}`,
      memberId,
      kind: 'LOAD' as const,
      amountCents: 100,
      currency: 'AUD' as const,
      channel: 'DEBIT_CARD' as const,
      occurredAt: new Date().toISOString(),
    };
    const res = await api(
      product,
      'POST',
      '/v1/transactions',
      tx satisfies Omit<TransactionEvent, 'source' | 'receivedAt'>,
    );
    if (res.status !== 202) throw new Error(`POST /v1/transactions answered ${res.status}`);
    watcher.track(`activation:${CAMPAIGN}:${memberId}`, tx.transactionId, Date.now());
  });
  const unseen = await watcher.finish(60_000);
  await settle(120_000);
  return { freshness: stats(watcher.freshness), ack: stats(r.latencies), unseen };
}

function sizes(product: Product): { postgres: number; temporal: number } {
  const dirSize = (dir: string): number => {
    let total = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      total += entry.isDirectory() ? dirSize(p) : statSync(p).size;
    }
    return total;
  };
  const temporal = readdirSync(product.dataDir)
    .filter((f) => f.startsWith('temporal.db'))
    .reduce((n, f) => n + statSync(path.join(product.dataDir, f)).size, 0);
  return { postgres: dirSize(path.join(product.dataDir, 'postgres')), temporal };
}

/** The product's node process: the one child of ours named node. */
function nodeRss(): number {
  return childUsage()?.rssByName.node ?? 0;
}
