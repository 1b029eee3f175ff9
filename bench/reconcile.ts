/**
 * Every accepted piece of news accounted for, at scale (`npm run bench -- reconcile`): a campaign's store grown to each
 * level of a series (default 10k, 100k and 1M decided enrollments, about 23k, 233k and 2.3M pieces of news), seeded as
 * the verify benchmark seeds them, with each enrollment's stored ledger and the record of the news it accepted: its two
 * real-time loads and, for a third of them, the settlement of the first; plus a known number of lost pieces (one
 * enrollment in `lostEvery` was accepted a load it never applied). At each level, in the same run: (1) the baseline,
 * reading the same pages of the record (1,000 a page, keyset) and the stored ledger entries they name, nothing checked:
 * what the data costs to fetch; (2) ours, the compiled CLI's `reconcile <c> --settle 0 --json` through the API. Pieces
 * of news per second for each, the ratio, the missing found against the lost injected (they must be equal, and every
 * one listed must be a lost one), and the peak resident memory of the CLI and of the product process, which must not
 * grow with the store. At one level (`repairAt`) a `--repair` run delivers the missing again (late news for closed
 * enrollments, written to PostgreSQL): later levels then find only the lost pieces seeded after it.
 */
import { acceptedPage, entriesOf, type AcceptedCursor } from '../src/db/accepted-news';
import { NEWS_LINE_TYPES, newsKey } from '../src/domain/reconcile';
import type { TransactionEvent } from '../src/domain/model';
import type { CampaignTerms } from '../src/domain/terms';
import { mb, perSecond, say } from './lib/common';
import { runMeasuredCli, seedDecided, type SeededMember } from './lib/decided';
import { api, startProduct, type CodeTree, type Product } from './lib/product';
import type pg from 'pg';

export interface ReconcileOptions {
  levels: number[];
  seedBatch: number;
  /** One enrollment in this many gets a piece of news it never applied (lost on its way). */
  lostEvery: number;
  /** One enrollment in this many had its first load settled by the bank's file. */
  settleEvery: number;
  /** The level at which a `--repair` run follows the check (none: never). */
  repairAt?: number;
}

/**
 * Each enrollment has about 2.33 pieces of news on record (two loads, a third of them a settlement, one in `lostEvery`
 * a lost load): 10,000, 100,000 and 1,000,000 enrollments (the sizes the issue names: 100k and 1M enrollments) hold
 * about 23k, 233k and 2.3M pieces of news.
 */
export const RECONCILE_DEFAULTS: ReconcileOptions = {
  levels: [10_000, 100_000, 1_000_000],
  seedBatch: 1_000,
  lostEvery: 1_000,
  settleEvery: 3,
  repairAt: 100_000,
};
export const RECONCILE_QUICK: ReconcileOptions = {
  levels: [300, 900],
  seedBatch: 150,
  lostEvery: 100,
  settleEvery: 3,
  repairAt: 300,
};

const CAMPAIGN = 'bench-reconcile';
/** The API's page (api/reconcile.ts RECONCILE_PAGE). */
const PAGE = 1_000;

const isLost = (o: ReconcileOptions, i: number) => i % o.lostEvery === o.lostEvery - 1;
const lostBelow = (o: ReconcileOptions, n: number) => Math.floor(n / o.lostEvery);

export interface ReconcileLevel {
  enrollments: number;
  /** Pieces of news on record for the campaign. */
  news: number;
  /** Lost pieces seeded so far, and those a repair run has delivered since. */
  injected: number;
  repairedBefore: number;
  baseline: { perSecond: number; ms: number; news: number; ledgerEntries: number };
  ours: {
    perSecond: number;
    ms: number;
    exitCode: number | null;
    checked: number;
    missing: number;
    listed: number;
    /** Listed missing news that is not one of the lost pieces (must be 0). */
    listedNotLost: number;
  };
  cliPeakRssMb: number;
  productPeakRssMb: number;
  repair?: {
    ms: number;
    exitCode: number | null;
    missing: number;
    repaired: number;
    cliPeakRssMb: number;
    productPeakRssMb: number;
  };
}

export interface ReconcileResult {
  tree: { commit: string; label: string };
  levels: ReconcileLevel[];
}

interface Reconciliation {
  checked: number;
  missing: number;
  repaired: number;
  missingNews: { transactionId: string }[];
}

/** The stored ledger and the record of accepted news of a batch of seeded enrollments, and the lost pieces. */
function newsAlongside(o: ReconcileOptions, campaignId: string) {
  return async (client: pg.PoolClient, members: readonly SeededMember[]): Promise<void> => {
    const ledger: unknown[] = [];
    const news: unknown[] = [];
    const heard = (m: SeededMember, ev: TransactionEvent) =>
      news.push({ workflowId: m.workflowId, memberId: m.memberId, newsKey: newsKey(ev), event: ev });
    for (const m of members) {
      for (const entry of Object.values(m.e.ledger)) ledger.push({ workflowId: m.workflowId, entry });
      for (const line of m.trail) {
        const ev = (line.payload as { event?: TransactionEvent }).event;
        if (ev && (NEWS_LINE_TYPES as readonly string[]).includes(line.type)) heard(m, ev);
      }
      if (isLost(o, m.index)) {
        const at = new Date(Date.parse(m.trail[0].occurredAt) + 15 * 86_400_000).toISOString();
        heard(m, {
          source: 'REALTIME',
          transactionId: `${m.memberId}-LOST`,
          memberId: m.memberId,
          kind: 'LOAD',
          channel: 'DEBIT_CARD',
          amountCents: 7_000,
          currency: 'AUD',
          occurredAt: at,
          receivedAt: at,
        });
      }
    }
    await client.query(
      `INSERT INTO ledger_entries (workflow_id, transaction_id, entry)
       SELECT l."workflowId", l.entry->>'transactionId', l.entry
       FROM jsonb_to_recordset($1::jsonb) AS l("workflowId" text, entry jsonb)`,
      [JSON.stringify(ledger)],
    );
    await client.query(
      `INSERT INTO accepted_news (workflow_id, news_key, campaign_id, member_id, transaction_id, source, kind,
                                  amount_cents, event, heard_at, batch_id)
       SELECT n."workflowId", n."newsKey", $1, n."memberId", n.event->>'transactionId', n.event->>'source',
              n.event->>'kind', (n.event->>'amountCents')::bigint, n.event, (n.event->>'receivedAt')::timestamptz,
              n.event->>'batchId'
       FROM jsonb_to_recordset($2::jsonb) AS n("workflowId" text, "memberId" text, "newsKey" text, event jsonb)`,
      [campaignId, JSON.stringify(news)],
    );
  };
}

/** The baseline: the record's pages as reconciliation reads them, and the stored ledger entries they name. */
async function readPages(product: Product): Promise<{ news: number; ledgerEntries: number }> {
  const until = new Date().toISOString();
  let after: AcceptedCursor | undefined;
  let news = 0;
  let ledgerEntries = 0;
  for (;;) {
    const page = await acceptedPage(product.db, CAMPAIGN, until, after, PAGE);
    if (page.length === 0) break;
    const stored = await entriesOf(
      product.db,
      page.map((n) => ({ workflowId: n.workflowId, transactionId: n.event.transactionId })),
    );
    news += page.length;
    ledgerEntries += stored.size;
    if (page.length < PAGE) break;
    after = { workflowId: page[page.length - 1].workflowId, newsKey: page[page.length - 1].newsKey };
  }
  return { news, ledgerEntries };
}

export async function measureReconcile(tree: CodeTree, o: ReconcileOptions): Promise<ReconcileResult> {
  say(`reconcile on ${tree.label}: starting the product…`);
  const product = await startProduct(tree);
  const levels: ReconcileLevel[] = [];
  try {
    const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };
    const put = await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, terms);
    if (put.status !== 201) throw new Error(`campaign: ${put.status}`);
    const campaign: CampaignTerms = { campaignId: CAMPAIGN, currency: 'AUD', ...terms };
    const seedOptions = {
      settles: (i: number) => i % o.settleEvery === 0,
      alongside: newsAlongside(o, CAMPAIGN),
    };
    let seeded = 0;
    let repaired = 0;
    for (const level of o.levels) {
      await seedDecided(product.db, campaign, 'R', seeded, level, o.seedBatch, seedOptions);
      await product.db.query('ANALYZE accepted_news; ANALYZE ledger_entries');
      seeded = level;
      const injected = lostBelow(o, level);
      say(`reconcile: ${level} decided enrollments seeded, ${injected} lost pieces of news among their record`);

      const b0 = Date.now();
      const read = await readPages(product);
      const baselineMs = Date.now() - b0;
      const run = await runMeasuredCli(tree, product, ['reconcile', CAMPAIGN, '--settle', '0']);
      const r = JSON.parse(run.stdout) as Reconciliation;
      const result: ReconcileLevel = {
        enrollments: level,
        news: read.news,
        injected,
        repairedBefore: repaired,
        baseline: {
          perSecond: perSecond(read.news, baselineMs),
          ms: baselineMs,
          news: read.news,
          ledgerEntries: read.ledgerEntries,
        },
        ours: {
          perSecond: perSecond(r.checked, run.ms),
          ms: run.ms,
          exitCode: run.code,
          checked: r.checked,
          missing: r.missing,
          listed: r.missingNews.length,
          listedNotLost: r.missingNews.filter((n) => !n.transactionId.endsWith('-LOST')).length,
        },
        cliPeakRssMb: mb(run.peakRss),
        productPeakRssMb: mb(run.productPeakRss),
      };
      say(
        `reconcile at ${level}: ${read.news} pieces of news; baseline ${result.baseline.perSecond}/s, ` +
          `ours ${result.ours.perSecond}/s (${(run.ms / 1000).toFixed(1)} s, exit ${run.code}), missing ${r.missing} ` +
          `of ${injected - repaired} lost, CLI peak ${result.cliPeakRssMb} MB, product peak ${result.productPeakRssMb} MB`,
      );
      if (level === o.repairAt) {
        const fix = await runMeasuredCli(tree, product, ['reconcile', CAMPAIGN, '--repair', '--settle', '0']);
        const f = JSON.parse(fix.stdout) as Reconciliation;
        result.repair = {
          ms: fix.ms,
          exitCode: fix.code,
          missing: f.missing,
          repaired: f.repaired,
          cliPeakRssMb: mb(fix.peakRss),
          productPeakRssMb: mb(fix.productPeakRss),
        };
        repaired += f.repaired;
        say(
          `reconcile at ${level}: --repair delivered ${f.repaired} of ${f.missing} in ${(fix.ms / 1000).toFixed(1)} s`,
        );
      }
      levels.push(result);
    }
  } finally {
    await product.stop();
  }
  return { tree: { commit: tree.commit, label: tree.label }, levels };
}
