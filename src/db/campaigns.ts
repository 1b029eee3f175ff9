import type { Queryable } from './queryable';
import { sameTerms, type CampaignTerms } from '../domain/terms';
import type { ActivationState } from '../domain/model';

interface CampaignRow {
  campaign_id: string;
  target_cents: number;
  reward_points: number;
  window: string;
  grace: string;
  currency: 'AUD';
  holdout_percent: number;
  max_rewards: number | null;
  rewards_reserved: number;
  created_at: Date;
}

/** A campaign's budget as it stands: the cap, the slots held (credited or in flight), and those left. */
export interface BudgetFigures {
  maxRewards: number;
  reserved: number;
  remaining: number;
}

export interface Campaign extends CampaignTerms {
  createdAt: string;
  /** With maxRewards: its slots, counted on the campaign's row (migration reward-budget). */
  budget?: BudgetFigures;
}

const toCampaign = (r: CampaignRow): Campaign => ({
  campaignId: r.campaign_id,
  targetCents: r.target_cents,
  rewardPoints: r.reward_points,
  window: r.window,
  grace: r.grace,
  currency: r.currency,
  holdoutPercent: r.holdout_percent,
  ...(r.max_rewards !== null ? { maxRewards: r.max_rewards } : {}),
  createdAt: r.created_at.toISOString(),
  ...(r.max_rewards !== null
    ? {
        budget: {
          maxRewards: r.max_rewards,
          reserved: r.rewards_reserved,
          remaining: r.max_rewards - r.rewards_reserved,
        },
      }
    : {}),
});

/**
 * The campaign's terms as an enrollment keeps them (its workflow's input, its ENROLLED line): the optional terms only
 * where the campaign has them, so the snapshot of a campaign without a holdout or a budget stays as it always was.
 */
export const snapshotOf = (c: Campaign): CampaignTerms => ({
  campaignId: c.campaignId,
  targetCents: c.targetCents,
  rewardPoints: c.rewardPoints,
  window: c.window,
  grace: c.grace,
  currency: c.currency,
  ...(c.holdoutPercent ? { holdoutPercent: c.holdoutPercent } : {}),
  ...(c.maxRewards ? { maxRewards: c.maxRewards } : {}),
});

export async function getCampaign(db: Queryable, campaignId: string): Promise<Campaign | undefined> {
  const { rows } = await db.query<CampaignRow>('SELECT * FROM campaigns WHERE campaign_id = $1', [campaignId]);
  return rows[0] && toCampaign(rows[0]);
}

/** The campaign's budget as it stands; undefined without maxRewards (or without the campaign). */
export const budgetOf = async (db: Queryable, campaignId: string): Promise<BudgetFigures | undefined> =>
  (await getCampaign(db, campaignId))?.budget;

export type PutCampaignResult =
  | { outcome: 'CREATED'; campaign: Campaign }
  | { outcome: 'UNCHANGED'; campaign: Campaign }
  | { outcome: 'CONFLICT'; campaign: Campaign };

/** Creates the campaign, or confirms identical terms; terms are immutable once created. */
export async function putCampaign(db: Queryable, terms: CampaignTerms): Promise<PutCampaignResult> {
  const { rows } = await db.query<CampaignRow>(
    `INSERT INTO campaigns (campaign_id, target_cents, reward_points, "window", grace, currency, holdout_percent,
                            max_rewards)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (campaign_id) DO NOTHING
     RETURNING *`,
    [
      terms.campaignId,
      terms.targetCents,
      terms.rewardPoints,
      terms.window,
      terms.grace,
      terms.currency,
      terms.holdoutPercent ?? 0,
      terms.maxRewards ?? null,
    ],
  );
  if (rows[0]) return { outcome: 'CREATED', campaign: toCampaign(rows[0]) };
  const existing = await getCampaign(db, terms.campaignId);
  if (!existing) throw new Error(`campaign ${terms.campaignId} vanished`); // campaigns are never deleted
  return { outcome: sameTerms(existing, terms) ? 'UNCHANGED' : 'CONFLICT', campaign: existing };
}

export async function countByState(
  db: Queryable,
  campaignId: string,
): Promise<Partial<Record<ActivationState, number>>> {
  const { rows } = await db.query<{ state: ActivationState; n: number }>(
    'SELECT state, count(*)::int AS n FROM enrollments WHERE campaign_id = $1 GROUP BY state',
    [campaignId],
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}
