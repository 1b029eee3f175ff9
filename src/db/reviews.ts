/**
 * The manual review queue. The rules open items (late news that would change a verdict, a reward that could not be
 * issued) with the audit line that caused them, so their ids derive from that line: recording the same line twice
 * opens one item. This module stores them; it decides nothing.
 */
import { createHash } from 'node:crypto';
import { rewardRetried, type RewardResult } from '../domain/enrollment';
import type { ActivationState } from '../domain/model';
import type { AuditEntry, RetriedReward, ReviewItem } from '../domain/records';
import type { ExperimentGroup } from '../domain/holdout';
import type { LateImpact, ReviewKind } from '../domain/late';
import { appendAudit, type AuditSubject } from './audit';
import { markRewardFailed, releaseRewardSlot } from './rewards';
import { inTransaction, type Db } from './pool';
import type { Queryable } from './queryable';

export type ReviewState = 'OPEN' | 'RESOLVED';
export type ReviewAction = 'RETRY_REWARD' | 'DISMISS';

export interface Resolution {
  action: ReviewAction;
  note: string;
  resolvedBy?: string;
  resolvedAt: string;
  /** RETRY_REWARD: the workflow issuing the reward again. */
  retryWorkflowId?: string;
  /** The bulk operation that resolved it, if one did. */
  operationId?: string;
}

export interface Review {
  id: string;
  workflowId: string;
  campaignId: string;
  memberId: string;
  kind: ReviewKind;
  reason: string;
  details: Record<string, unknown>;
  state: ReviewState;
  createdAt: string;
  resolution?: Resolution;
}

export const reviewIdFor = (workflowId: string, causeKey: string): string =>
  `rv-${createHash('sha256').update(`${workflowId}|${causeKey}`).digest('hex').slice(0, 16)}`;

/**
 * The review items older workflow code decided inside its audit payloads: records it sent without `reviews` (an
 * activity scheduled before the deploy and retried after it) still open theirs. New records carry them typed (an empty
 * list when there are none). Late news of a HOLDOUT member opens none, whatever its payload says: code before the
 * holdout's late lines lost their review left one there.
 */
export function legacyReviewsFromAudit(entries: readonly AuditEntry[], group?: ExperimentGroup): ReviewItem[] {
  const out: ReviewItem[] = [];
  for (const a of entries) {
    if (a.type === 'LATE_EVENT') {
      if (group === 'HOLDOUT') continue;
      const impact = a.payload.impact as LateImpact | undefined;
      if (impact?.review) {
        out.push({
          kind: impact.review.kind,
          reason: impact.review.reason,
          causeKey: a.key,
          details: { event: a.payload.event, actual: impact.actual, wouldBe: impact.wouldBe },
        });
      }
    } else if (a.type === 'REWARD_OUTCOME' && a.payload.status === 'FAILED') {
      out.push({
        kind: 'REWARD_FAILED',
        reason: `the reward could not be issued: ${String(a.payload.failure)}`,
        causeKey: a.key,
        details: { failure: a.payload.failure },
      });
    }
  }
  return out;
}

/** Opens the review items (idempotent by their cause), each with its own REVIEW_OPENED audit line. */
export async function openReviews(db: Queryable, subject: AuditSubject, items: readonly ReviewItem[]): Promise<void> {
  for (const r of items) {
    const id = reviewIdFor(subject.workflowId, r.causeKey);
    const { rowCount } = await db.query(
      `INSERT INTO reviews (id, workflow_id, campaign_id, member_id, kind, reason, details, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'OPEN') ON CONFLICT (id) DO NOTHING`,
      [id, subject.workflowId, subject.campaignId, subject.memberId, r.kind, r.reason, JSON.stringify(r.details)],
    );
    if (rowCount === 1) {
      await appendAudit(db, subject, [
        {
          key: `review-opened:${id}`,
          type: 'REVIEW_OPENED',
          source: 'WORKFLOW',
          occurredAt: new Date().toISOString(),
          payload: { reviewId: id, kind: r.kind, reason: r.reason, cause: r.causeKey },
        },
      ]);
    }
  }
}

interface ReviewRow {
  id: string;
  workflow_id: string;
  campaign_id: string;
  member_id: string;
  kind: ReviewKind;
  reason: string;
  details: Record<string, unknown>;
  state: ReviewState;
  resolution: Resolution | null;
  created_at: Date;
}

const toReview = (r: ReviewRow): Review => ({
  id: r.id,
  workflowId: r.workflow_id,
  campaignId: r.campaign_id,
  memberId: r.member_id,
  kind: r.kind,
  reason: r.reason,
  details: r.details,
  state: r.state,
  createdAt: r.created_at.toISOString(),
  ...(r.resolution ? { resolution: r.resolution } : {}),
});

export async function listReviews(
  db: Queryable,
  filter: { state?: ReviewState; campaignId?: string; limit?: number },
): Promise<Review[]> {
  const { rows } = await db.query<ReviewRow>(
    `SELECT * FROM reviews
     WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR campaign_id = $2)
     ORDER BY created_at, id LIMIT $3`,
    [filter.state ?? null, filter.campaignId ?? null, filter.limit ?? 1000],
  );
  return rows.map(toReview);
}

/** The member's OPEN items of one kind in one campaign (a bulk RETRY_REWARD looks for REWARD_FAILED ones). */
export async function openReviewsOf(
  db: Queryable,
  campaignId: string,
  memberId: string,
  kind: ReviewKind,
): Promise<Review[]> {
  const { rows } = await db.query<ReviewRow>(
    `SELECT * FROM reviews WHERE campaign_id = $1 AND member_id = $2 AND kind = $3 AND state = 'OPEN'
     ORDER BY created_at, id`,
    [campaignId, memberId, kind],
  );
  return rows.map(toReview);
}

export async function getReview(db: Queryable, id: string): Promise<Review | undefined> {
  const { rows } = await db.query<ReviewRow>('SELECT * FROM reviews WHERE id = $1', [id]);
  return rows[0] ? toReview(rows[0]) : undefined;
}

/**
 * Resolves an OPEN item; returns undefined when it was not OPEN (someone resolved it first). The audit line goes in
 * with it, in the caller's transaction. Dismissing a reward that could not be issued gives its slot back to the
 * campaign's budget (if it holds one), with a line of its own.
 */
export async function resolveReview(db: Queryable, id: string, resolution: Resolution): Promise<Review | undefined> {
  const { rows } = await db.query<ReviewRow>(
    `UPDATE reviews SET state = 'RESOLVED', resolution = $2, resolved_at = $3
     WHERE id = $1 AND state = 'OPEN' RETURNING *`,
    [id, JSON.stringify(resolution), resolution.resolvedAt],
  );
  if (!rows[0]) return undefined;
  const review = toReview(rows[0]);
  await appendAudit(db, review, [
    {
      key: `review-resolved:${id}`,
      type: 'REVIEW_RESOLVED',
      source: 'OPERATOR',
      occurredAt: resolution.resolvedAt,
      payload: { reviewId: id, kind: review.kind, ...resolution },
    },
  ]);
  if (
    resolution.action === 'DISMISS' &&
    review.kind === 'REWARD_FAILED' &&
    (await releaseRewardSlot(db, review.workflowId))
  ) {
    await appendAudit(db, review, [
      {
        key: `reward-slot-released:${id}`,
        type: 'REWARD_SLOT_RELEASED',
        source: 'OPERATOR',
        occurredAt: resolution.resolvedAt,
        payload: { reviewId: id, ...(resolution.resolvedBy ? { resolvedBy: resolution.resolvedBy } : {}) },
      },
    ]);
  }
  return review;
}

/**
 * The outcome of a RETRY_REWARD: the reward and state on the enrollment's read model (the member workflow has
 * closed), the audit lines, and a new REWARD_FAILED review when it failed again. Idempotent per review.
 */
export async function recordRetriedReward(pool: Db, r: RetriedReward): Promise<void> {
  const subject = { workflowId: r.request.workflowId, campaignId: r.request.campaignId, memberId: r.request.memberId };
  await inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ state: ActivationState }>(
      'SELECT state FROM enrollments WHERE workflow_id = $1 FOR UPDATE',
      [subject.workflowId],
    );
    const from = rows[0]?.state;
    const now = new Date().toISOString();
    const result: RewardResult = r.receipt
      ? { status: 'ISSUED', ...r.receipt }
      : { status: r.budgetExhausted ? 'BUDGET_EXHAUSTED' : 'FAILED', failure: r.failure ?? '' };
    const retried = rewardRetried(
      from ?? 'MANUAL_REVIEW',
      { points: r.request.points, idempotencyKey: r.request.idempotencyKey },
      result,
      r.reviewId,
    );
    await client.query(
      `UPDATE enrollments SET state = $2, reward = $3, version = version + 1, updated_at = now() WHERE workflow_id = $1`,
      [subject.workflowId, retried.to, JSON.stringify(retried.reward)],
    );
    const outcome: AuditEntry = {
      key: `review-retry:${r.reviewId}:outcome`,
      type: 'REWARD_OUTCOME',
      source: 'OPERATOR',
      occurredAt: now,
      payload: {
        reviewId: r.reviewId,
        ...retried.reward,
        // The proof tells a spent budget from a failure by the status (the view says FAILED with the reason).
        ...(result.status === 'BUDGET_EXHAUSTED' ? { status: 'BUDGET_EXHAUSTED' } : {}),
        ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}),
      },
    };
    const entries: AuditEntry[] = [outcome];
    if (from && retried.transition) {
      entries.push({
        key: `review-retry:${r.reviewId}:transition`,
        type: 'TRANSITION',
        source: 'OPERATOR',
        occurredAt: now,
        payload: { ...retried.transition },
      });
    }
    await appendAudit(client, subject, entries);
    // No attempt in flight any more: the row says so, and its slot may be given back by a dismissal.
    if (result.status !== 'ISSUED') await markRewardFailed(client, subject.workflowId, result.failure);
    if (retried.review) await openReviews(client, subject, [{ ...retried.review, causeKey: outcome.key }]);
  });
}
