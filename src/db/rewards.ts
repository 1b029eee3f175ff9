/** The reward row: the second layer of reward idempotency (one row per enrollment, ever). */
import type { RewardRequest } from '../domain/records';
import type { Queryable } from './queryable';

export interface RewardRow {
  status: 'PENDING' | 'ISSUED' | 'FAILED';
  creditId?: string;
  issuedAt?: string;
  attempts: number;
  lastError?: string;
}

/** The database refused a reward row: the enrollment is in the holdout group (trigger rewards_never_for_holdout). */
export class HoldoutNeverRewardedError extends Error {
  constructor(readonly workflowId: string) {
    super(`enrollment ${workflowId} is in the holdout group: never rewarded`);
    this.name = 'HoldoutNeverRewardedError';
  }
}

/** The campaign's budget is spent: the database refused the slot (constraint campaigns_rewards_within_budget). */
export class BudgetExhaustedError extends Error {
  constructor(
    readonly campaignId: string,
    readonly maxRewards: number | undefined,
  ) {
    super(
      `campaign ${campaignId}'s budget` +
        `${maxRewards === undefined ? '' : ` of ${maxRewards.toLocaleString('en-AU')} rewards`} was spent before this reward`,
    );
    this.name = 'BudgetExhaustedError';
  }
}

/**
 * Creates the reward row if absent and returns it as it stands. For a budgeted campaign the row holds one of its slots
 * (migration reward-budget): the first claim takes it, atomically, or fails with BudgetExhaustedError when none is left;
 * a repeat finds the row and takes nothing more. A row tried again after it FAILED is PENDING again (an attempt is in
 * flight: its slot cannot be given back meanwhile), and one that gave its slot back takes one again before any credit.
 */
export async function claimReward(db: Queryable, r: RewardRequest): Promise<RewardRow> {
  try {
    await db.query(
      `INSERT INTO rewards (workflow_id, campaign_id, member_id, points, idempotency_key, status)
       VALUES ($1, $2, $3, $4, $5, 'PENDING')
       ON CONFLICT (workflow_id) DO NOTHING`,
      [r.workflowId, r.campaignId, r.memberId, r.points, r.idempotencyKey],
    );
    await db.query(
      `UPDATE rewards SET status = 'PENDING', updated_at = now(),
              holds_slot = holds_slot OR EXISTS (
                SELECT 1 FROM campaigns c WHERE c.campaign_id = rewards.campaign_id AND c.max_rewards IS NOT NULL)
       WHERE workflow_id = $1 AND status = 'FAILED'`,
      [r.workflowId],
    );
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23514' && e.constraint === 'rewards_never_for_holdout') {
      throw new HoldoutNeverRewardedError(r.workflowId);
    }
    if (e.code === '23514' && e.constraint === 'campaigns_rewards_within_budget') {
      const { rows } = await db.query<{ max_rewards: number | null }>(
        'SELECT max_rewards FROM campaigns WHERE campaign_id = $1',
        [r.campaignId],
      );
      throw new BudgetExhaustedError(r.campaignId, rows[0]?.max_rewards ?? undefined);
    }
    throw err;
  }
  const { rows } = await db.query<{
    status: RewardRow['status'];
    credit_id: string | null;
    issued_at: Date | null;
    attempts: number;
    last_error: string | null;
  }>('SELECT status, credit_id, issued_at, attempts, last_error FROM rewards WHERE workflow_id = $1', [r.workflowId]);
  const row = rows[0];
  return {
    status: row.status,
    attempts: row.attempts,
    ...(row.credit_id ? { creditId: row.credit_id } : {}),
    ...(row.issued_at ? { issuedAt: row.issued_at.toISOString() } : {}),
    ...(row.last_error ? { lastError: row.last_error } : {}),
  };
}

export async function markRewardAttempt(db: Queryable, workflowId: string, error: string | null): Promise<void> {
  await db.query(
    `UPDATE rewards SET attempts = attempts + 1, last_error = $2, updated_at = now()
     WHERE workflow_id = $1 AND status <> 'ISSUED'`,
    [workflowId, error],
  );
}

/** Marks the reward issued; returns the row's issue time (the first one wins if it was already issued). */
export async function markRewardIssued(db: Queryable, workflowId: string, creditId: string): Promise<string> {
  const { rows } = await db.query<{ issued_at: Date }>(
    `UPDATE rewards SET status = 'ISSUED', credit_id = COALESCE(credit_id, $2),
            issued_at = COALESCE(issued_at, now()), last_error = NULL, updated_at = now()
     WHERE workflow_id = $1
     RETURNING issued_at`,
    [workflowId, creditId],
  );
  return rows[0].issued_at.toISOString();
}

export async function markRewardFailed(db: Queryable, workflowId: string, error: string): Promise<void> {
  await db.query(
    `UPDATE rewards SET status = 'FAILED', last_error = $2, updated_at = now()
     WHERE workflow_id = $1 AND status <> 'ISSUED'`,
    [workflowId, error],
  );
}

/**
 * Gives the reward's slot back to its campaign's budget: only for a reward that was never issued and has no attempt in
 * flight (FAILED), when a person dismisses its review. Returns whether a slot was given back.
 */
export async function releaseRewardSlot(db: Queryable, workflowId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE rewards SET holds_slot = false, updated_at = now()
     WHERE workflow_id = $1 AND holds_slot AND status = 'FAILED'`,
    [workflowId],
  );
  return rowCount === 1;
}

/** The campaign's rewards so far: credited (and their points), and failed. */
export async function rewardTotals(
  db: Queryable,
  campaignId: string,
): Promise<{ issued: number; pointsIssued: number; failed: number }> {
  const { rows } = await db.query<{ issued: number; points: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE status = 'ISSUED')::int AS issued,
            COALESCE(sum(points) FILTER (WHERE status = 'ISSUED'), 0)::bigint AS points,
            count(*) FILTER (WHERE status = 'FAILED')::int AS failed
     FROM rewards WHERE campaign_id = $1`,
    [campaignId],
  );
  const r = rows[0];
  return { issued: r.issued, pointsIssued: Number(r.points), failed: r.failed };
}
