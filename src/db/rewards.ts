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

/** Creates the reward row if absent and returns it as it stands. */
export async function claimReward(db: Queryable, r: RewardRequest): Promise<RewardRow> {
  try {
    await db.query(
      `INSERT INTO rewards (workflow_id, campaign_id, member_id, points, idempotency_key, status)
       VALUES ($1, $2, $3, $4, $5, 'PENDING')
       ON CONFLICT (workflow_id) DO NOTHING`,
      [r.workflowId, r.campaignId, r.memberId, r.points, r.idempotencyKey],
    );
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23514' && e.constraint === 'rewards_never_for_holdout') {
      throw new HoldoutNeverRewardedError(r.workflowId);
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
