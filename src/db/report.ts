/**
 * The campaign report: the monitoring figures of the design, straight from the read models and the audit trail.
 * The same figures are exported as Prometheus gauges (api/metrics.ts).
 */
import { INSTANT_LOAD_CHANNELS, DELAYED_LOAD_CHANNELS, VERDICT_STATES } from '../domain/model';
import { liftOf, type ExperimentGroup, type GroupOutcome, type Lift } from '../domain/holdout';
import { countByState, getCampaign, type BudgetFigures } from './campaigns';
import { rewardTotals } from './rewards';
import type { Queryable } from './queryable';

/** Instant total above settled total by more than this, seven days after the load, is a discrepancy. */
export const DISCREPANCY_THRESHOLD_CENTS = 10_000;
export const DISCREPANCY_AFTER_DAYS = 7;
const MEMBERS_LISTED = 100;

export interface CampaignReport {
  campaignId: string;
  generatedAt: string;
  enrollments: number;
  counts: Record<string, number>;
  rewards: { issued: number; pointsIssued: number; failed: number };
  openReviews: number;
  settlementDiscrepancies: {
    thresholdCents: number;
    afterDays: number;
    members: number;
    /** The largest ones, at most 100. */
    top: { memberId: string; instantCents: number; settledCents: number; differenceCents: number }[];
  };
  lateSettlements: { members: number; share: number | null };
  graceEffectiveness: { delayedLoads: number; settledBeforeEvaluation: number; share: number | null };
  /** What the campaign adds over its holdout (domain/holdout.ts); both groups empty without one. */
  lift: Lift & { holdoutPercent: number; pointsIssued: number };
  /** With maxRewards: the slots taken and left, and the eligible members who found none (BUDGET_EXHAUSTED). */
  budget: (BudgetFigures & { exhausted: number }) | null;
}

export async function campaignReport(db: Queryable, campaignId: string, now = new Date()): Promise<CampaignReport> {
  const counts = await countByState(db, campaignId);
  const enrollments = Object.values(counts).reduce((a, b) => a + b, 0);

  const rewards = await rewardTotals(db, campaignId);
  const reviews = await db.query<{ open: number }>(
    `SELECT count(*)::int AS open FROM reviews WHERE campaign_id = $1 AND state = 'OPEN'`,
    [campaignId],
  );

  // In-window instant-channel loads at least 7 days old: what the real-time feed said against what settled.
  const discrepancies = await db.query<{ member_id: string; instant: number; settled: number }>(
    `WITH loads AS (
       SELECT e.member_id,
              CASE WHEN (l.entry->>'heardRealtime')::boolean
                   THEN COALESCE((l.entry->'realtime'->>'amountCents')::bigint, (l.entry->>'amountCents')::bigint)
                   ELSE 0 END AS instant,
              CASE WHEN l.entry->>'status' = 'SETTLED' THEN (l.entry->>'amountCents')::bigint ELSE 0 END AS settled
       FROM enrollments e JOIN ledger_entries l USING (workflow_id)
       WHERE e.campaign_id = $1
         AND l.entry->>'kind' = 'LOAD' AND l.entry->>'channel' = ANY($2)
         AND (l.entry->>'occurredAt')::timestamptz >= e.enrolled_at
         AND (l.entry->>'occurredAt')::timestamptz < e.window_ends_at
         AND COALESCE(l.entry->'realtime'->>'occurredAt', l.entry->>'occurredAt')::timestamptz
             <= $3::timestamptz - make_interval(days => $4)
     )
     SELECT member_id, sum(instant)::bigint AS instant, sum(settled)::bigint AS settled
     FROM loads GROUP BY member_id HAVING sum(instant) - sum(settled) > $5
     ORDER BY sum(instant) - sum(settled) DESC, member_id`,
    [campaignId, [...INSTANT_LOAD_CHANNELS], now.toISOString(), DISCREPANCY_AFTER_DAYS, DISCREPANCY_THRESHOLD_CENTS],
  );

  const late = await db.query<{ members: number }>(
    `SELECT count(DISTINCT member_id)::int AS members FROM audit_events
     WHERE campaign_id = $1 AND type = 'LATE_EVENT' AND source = 'SETTLEMENT'`,
    [campaignId],
  );

  // Delayed loads in the window of enrollments with a verdict: the ledger holds what was heard before the
  // verdict, so a load still PENDING there settled too late (or never).
  const grace = await db.query<{ total: number; settled: number }>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE l.entry->>'status' IN ('SETTLED', 'RETURNED'))::int AS settled
     FROM enrollments e JOIN ledger_entries l USING (workflow_id)
     WHERE e.campaign_id = $1 AND e.state = ANY($2)
       AND l.entry->>'kind' = 'LOAD' AND l.entry->>'channel' = ANY($3)
       AND (l.entry->>'occurredAt')::timestamptz >= e.enrolled_at
       AND (l.entry->>'occurredAt')::timestamptz < e.window_ends_at`,
    [campaignId, [...VERDICT_STATES], [...DELAYED_LOAD_CHANNELS]],
  );

  // The lift's cohorts: every enrollment that has ended (a verdict, an opt-out included: who was offered the campaign
  // counts, whatever they did with it), activated when it reached the target in the window.
  const groups = await db.query<{ experiment_group: ExperimentGroup; members: number; activated: number }>(
    `SELECT experiment_group, count(*)::int AS members,
            count(*) FILTER (WHERE counted_cents >= target_cents)::int AS activated
     FROM enrollments WHERE campaign_id = $1 AND state = ANY($2) GROUP BY experiment_group`,
    [campaignId, [...VERDICT_STATES]],
  );
  const outcome = (g: ExperimentGroup): GroupOutcome => {
    const row = groups.rows.find((x) => x.experiment_group === g);
    return { members: row?.members ?? 0, activated: row?.activated ?? 0 };
  };
  const campaign = await getCampaign(db, campaignId);
  const budget = campaign?.budget;

  const share = (n: number, d: number): number | null => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000);
  const g = grace.rows[0];
  return {
    campaignId,
    generatedAt: now.toISOString(),
    enrollments,
    counts,
    rewards,
    openReviews: reviews.rows[0].open,
    settlementDiscrepancies: {
      thresholdCents: DISCREPANCY_THRESHOLD_CENTS,
      afterDays: DISCREPANCY_AFTER_DAYS,
      members: discrepancies.rows.length,
      top: discrepancies.rows.slice(0, MEMBERS_LISTED).map((d) => ({
        memberId: d.member_id,
        instantCents: d.instant,
        settledCents: d.settled,
        differenceCents: d.instant - d.settled,
      })),
    },
    lateSettlements: { members: late.rows[0].members, share: share(late.rows[0].members, enrollments) },
    graceEffectiveness: { delayedLoads: g.total, settledBeforeEvaluation: g.settled, share: share(g.settled, g.total) },
    lift: {
      holdoutPercent: campaign?.holdoutPercent ?? 0,
      // Every credited reward is a treated member's: the holdout is never rewarded.
      pointsIssued: rewards.pointsIssued,
      ...liftOf(outcome('TREATMENT'), outcome('HOLDOUT'), rewards.pointsIssued),
    },
    budget: budget ? { ...budget, exhausted: counts.BUDGET_EXHAUSTED ?? 0 } : null,
  };
}
