/**
 * Proving verdicts at scale (`npm run bench -- verify`): a campaign's store grown to each level of a series (default
 * 10k, 100k, 1M decided enrollments, each with the audit trail the rules write for it: enrolled, two loads, the
 * window's end, the verdict, the reward's outcome, about nine chained lines), written straight into PostgreSQL through
 * the chaining trigger. At each level, in the same run: (1) the baseline, reading the same pages of enrollments and
 * trails the proofs read, with nothing checked (what the data costs to fetch); (2) ours, the compiled CLI's `verify`
 * through the API, every chain hashed again and every trail replayed. Enrollments per second for each, the ratio, and
 * the CLI's and the API process's peak resident memory, which must not grow with the store.
 */
import type { CampaignTerms } from '../src/domain/terms';
import { mb, perSecond, say } from './lib/common';
import {
  runMeasuredCli,
  seedDecided,
  statusBytes,
  walkPages,
  SERIES_DEFAULTS,
  SERIES_QUICK,
  type StoreSeries,
} from './lib/decided';
import { api, startProduct, type CodeTree, type Product } from './lib/product';

export type VerifyOptions = StoreSeries;
export const VERIFY_DEFAULTS = SERIES_DEFAULTS;
export const VERIFY_QUICK = SERIES_QUICK;

const CAMPAIGN = 'bench-verify';
const PAGE = 500;

export interface VerifyLevel {
  enrollments: number;
  auditLines: number;
  seedPerSecond: number;
  baseline: { perSecond: number; ms: number };
  ours: { perSecond: number; ms: number; exitCode: number | null; verified: number; failed: number };
  cliPeakRssMb: number;
  apiRssMb: number;
}

export interface VerifyResult {
  tree: { commit: string; label: string };
  levels: VerifyLevel[];
}

/** The baseline: the pages the proofs read, fetched and parsed, nothing checked. */
const readPages = (product: Product): Promise<number> =>
  walkPages(product.db, CAMPAIGN, PAGE, async (workflowIds) => {
    const trails = await product.db.query<{ payload_text: string }>(
      `SELECT workflow_id, position, event_key, type, source, payload::text AS payload_text, prev_hash, hash,
              to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_text
       FROM audit_events WHERE workflow_id = ANY($1::text[]) ORDER BY workflow_id, position`,
      [workflowIds],
    );
    for (const t of trails.rows) JSON.parse(t.payload_text);
  });

export async function measureVerify(tree: CodeTree, o: VerifyOptions): Promise<VerifyResult> {
  say(`verify on ${tree.label}: starting the product…`);
  const product = await startProduct(tree);
  const levels: VerifyLevel[] = [];
  try {
    const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };
    const put = await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, terms);
    if (put.status !== 201) throw new Error(`campaign: ${put.status}`);
    const campaign: CampaignTerms = { campaignId: CAMPAIGN, currency: 'AUD', ...terms };
    let seeded = 0;
    let auditLines = 0;
    for (const level of o.levels) {
      const s0 = Date.now();
      auditLines += await seedDecided(product.db, campaign, 'V', seeded, level, o.seedBatch);
      const seedPerSecond = perSecond(level - seeded, Date.now() - s0);
      seeded = level;
      say(`verify: ${level} decided enrollments seeded (${seedPerSecond}/s, ${auditLines} audit lines)`);

      const b0 = Date.now();
      const read = await readPages(product);
      const baselineMs = Date.now() - b0;
      const run = await runMeasuredCli(tree, product, ['verify', CAMPAIGN]);
      const v = JSON.parse(run.stdout) as {
        checked: number;
        verified: number;
        divergent: number;
        brokenChains: number;
      };
      const level_: VerifyLevel = {
        enrollments: level,
        auditLines,
        seedPerSecond,
        baseline: { perSecond: perSecond(read, baselineMs), ms: baselineMs },
        ours: {
          perSecond: perSecond(v.checked, run.ms),
          ms: run.ms,
          exitCode: run.code,
          verified: v.verified,
          failed: v.divergent + v.brokenChains,
        },
        cliPeakRssMb: mb(run.peakRss),
        apiRssMb: mb(statusBytes(product.child.pid!, 'VmRSS')),
      };
      levels.push(level_);
      say(
        `verify at ${level}: baseline ${level_.baseline.perSecond}/s, ours ${level_.ours.perSecond}/s, ` +
          `verified ${v.verified}, failed ${level_.ours.failed}, CLI peak ${level_.cliPeakRssMb} MB`,
      );
    }
  } finally {
    await product.stop();
  }
  return { tree: { commit: tree.commit, label: tree.label }, levels };
}
