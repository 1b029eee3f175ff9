/**
 * What-if terms at scale (`npm run bench -- backtest`): a campaign's store grown to each level of a series (default
 * 10k, 100k, 1M decided enrollments, each with the audit trail the rules write for it, as the verify benchmark seeds
 * them), then, at each level and in the same run: (1) the baseline, reading the same pages the backtest reads
 * (enrollments and the audit lines of their facts, 1,000 a page), replaying nothing: what the data costs to fetch; (2)
 * ours, the compiled CLI's `backtest --target 30000` through the API, streamed, every trail replayed twice (the actual
 * terms and the what-if). Enrollments per second for each, their ratio, the time of the whole backtest (the target: 100k
 * within a minute on this machine), whether every verdict was reproduced, and the peak resident memory of the CLI and
 * of the product process during the backtest, which must not grow with the store.
 */
import { HISTORY_TYPES } from '../src/db/backtest';
import type { CampaignTerms } from '../src/domain/terms';
import { mb, perSecond, say } from './lib/common';
import { runMeasuredCli, seedDecided, walkPages, SERIES_DEFAULTS, SERIES_QUICK, type StoreSeries } from './lib/decided';
import { api, startProduct, type CodeTree, type Product } from './lib/product';

export type BacktestOptions = StoreSeries;
export const BACKTEST_DEFAULTS = SERIES_DEFAULTS;
export const BACKTEST_QUICK = SERIES_QUICK;

const CAMPAIGN = 'bench-backtest';
/** The API's page (api/backtest.ts BACKTEST_PAGE). */
const PAGE = 1_000;

export interface BacktestLevel {
  enrollments: number;
  auditLines: number;
  baseline: { perSecond: number; ms: number };
  ours: {
    perSecond: number;
    ms: number;
    exitCode: number | null;
    reproduced: number;
    disagree: number;
    flips: number;
  };
  cliPeakRssMb: number;
  productPeakRssMb: number;
}

export interface BacktestResult {
  tree: { commit: string; label: string };
  levels: BacktestLevel[];
}

/** The baseline: the pages the backtest reads, fetched and parsed, nothing replayed. */
const readPages = (product: Product): Promise<number> =>
  walkPages(product.db, CAMPAIGN, PAGE, async (workflowIds) => {
    await product.db.query(
      `SELECT workflow_id, type, payload, occurred_at FROM audit_events
       WHERE workflow_id = ANY($1::text[]) AND type = ANY($2::text[]) ORDER BY workflow_id, position`,
      [workflowIds, HISTORY_TYPES],
    );
  });

export async function measureBacktest(tree: CodeTree, o: BacktestOptions): Promise<BacktestResult> {
  say(`backtest on ${tree.label}: starting the product…`);
  const product = await startProduct(tree);
  const levels: BacktestLevel[] = [];
  try {
    const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };
    const put = await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, terms);
    if (put.status !== 201) throw new Error(`campaign: ${put.status}`);
    const campaign: CampaignTerms = { campaignId: CAMPAIGN, currency: 'AUD', ...terms };
    let seeded = 0;
    let auditLines = 0;
    for (const level of o.levels) {
      auditLines += await seedDecided(product.db, campaign, 'W', seeded, level, o.seedBatch);
      seeded = level;
      say(`backtest: ${level} decided enrollments seeded (${auditLines} audit lines)`);

      const b0 = Date.now();
      const read = await readPages(product);
      const baselineMs = Date.now() - b0;
      const run = await runMeasuredCli(tree, product, ['backtest', CAMPAIGN, '--target', '30000']);
      const b = JSON.parse(run.stdout) as {
        enrollments: number;
        flips: { total: number };
        reproduction: { agree: number; disagree: number };
      };
      const result: BacktestLevel = {
        enrollments: level,
        auditLines,
        baseline: { perSecond: perSecond(read, baselineMs), ms: baselineMs },
        ours: {
          perSecond: perSecond(b.enrollments, run.ms),
          ms: run.ms,
          exitCode: run.code,
          reproduced: b.reproduction.agree,
          disagree: b.reproduction.disagree,
          flips: b.flips.total,
        },
        cliPeakRssMb: mb(run.peakRss),
        productPeakRssMb: mb(run.productPeakRss),
      };
      levels.push(result);
      say(
        `backtest at ${level}: baseline ${result.baseline.perSecond}/s, ours ${result.ours.perSecond}/s ` +
          `(${(run.ms / 1000).toFixed(1)} s), reproduced ${b.reproduction.agree}, flips ${b.flips.total}, ` +
          `CLI peak ${result.cliPeakRssMb} MB, product peak ${result.productPeakRssMb} MB`,
      );
    }
  } finally {
    await product.stop();
  }
  return { tree: { commit: tree.commit, label: tree.label }, levels };
}
