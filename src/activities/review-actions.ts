/**
 * Resolving a review item, for the API (one item, a person's decision) and for bulk operations (RETRY_REWARD over a
 * selection) alike: RETRY_REWARD starts the review's retry workflow (once per item, `review:{id}`), then the item is
 * marked resolved with its audit line.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { inTransaction, type Db } from '../db/pool';
import { resolveReview, type Review, type ReviewAction } from '../db/reviews';
import type { Enrollment } from '../db/enrollments';
import { reviewRetryWorkflowId, rewardIdempotencyKey } from '../domain/ids';
import type { rewardRetry } from '../workflows/review-retry';

export interface ReviewActionDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  rewardRetryForMs: number;
  /** Wraps each Temporal call (the API gives each a deadline). */
  call?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface ResolveRequest {
  action: ReviewAction;
  note: string;
  resolvedBy?: string;
  operationId?: string;
}

/** Resolves the OPEN item `review` of enrollment `e`; undefined when someone resolved it first. */
export async function resolveReviewItem(
  deps: ReviewActionDeps,
  review: Review,
  e: Enrollment,
  req: ResolveRequest,
): Promise<Review | undefined> {
  const call = deps.call ?? ((fn) => fn());
  let retryWorkflowId: string | undefined;
  if (req.action === 'RETRY_REWARD') {
    const workflowId = (retryWorkflowId = reviewRetryWorkflowId(review.id));
    try {
      await call(() =>
        deps.temporal.workflow.start<typeof rewardRetry>('rewardRetry', {
          workflowId,
          taskQueue: deps.taskQueue,
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          args: [
            {
              reviewId: review.id,
              workflowId: e.workflowId,
              campaignId: e.campaignId,
              memberId: e.memberId,
              points: e.rewardPoints,
              idempotencyKey: rewardIdempotencyKey(e.campaignId, e.memberId),
              rewardRetryForMs: deps.rewardRetryForMs,
              ...(req.resolvedBy ? { requestedBy: req.resolvedBy } : {}),
            },
          ],
        }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  const resolution = {
    action: req.action,
    note: req.note,
    resolvedAt: new Date().toISOString(),
    ...(req.resolvedBy ? { resolvedBy: req.resolvedBy } : {}),
    ...(retryWorkflowId ? { retryWorkflowId } : {}),
    ...(req.operationId ? { operationId: req.operationId } : {}),
  };
  // The item, its audit lines and a slot given back stand or fall together.
  return inTransaction(deps.db, (client) => resolveReview(client, review.id, resolution));
}
