/**
 * RETRY_REWARD on a review item (`review:{reviewId}`): issues the enrollment's reward again through the same
 * activity and idempotency key as the member workflow, so a credit that already happened is replayed by the points
 * API, never repeated. The outcome goes to the enrollment, the audit trail, and, on failure, a new review item.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import { rewardActivityOptions } from './reward-activity';
import type { Activities } from '../activities';
import type { RewardRequest } from '../activities/types';
import { ErrorType } from './messages';

export interface RewardRetryInput extends RewardRequest {
  reviewId: string;
  rewardRetryForMs: number;
  requestedBy?: string;
}

export const rewardRetryWorkflowId = (reviewId: string): string => `review:${reviewId}`;

// Activity summaries are user metadata, not part of the command the replayer compares: adding or rewording them needs
// no patch (docs/versioning.md).
const { recordRetriedReward } = proxyActivities<Activities>({
  summary: 'Record the outcome on the enrollment, the audit trail and the review queue',
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});

export async function rewardRetry(input: RewardRetryInput): Promise<{ status: 'ISSUED' | 'FAILED' }> {
  const { issueReward } = proxyActivities<Activities>(
    rewardActivityOptions(
      `Credit ${input.points} points again for review ${input.reviewId} (idempotency key ${input.idempotencyKey})`,
      input.rewardRetryForMs,
    ),
  );
  const { reviewId, rewardRetryForMs: _r, requestedBy, ...request } = input;
  try {
    const receipt = await issueReward(request);
    await recordRetriedReward({ reviewId, request, ...(requestedBy ? { requestedBy } : {}), receipt });
    return { status: 'ISSUED' };
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const failure =
      cause instanceof ApplicationFailure && cause.type === ErrorType.REWARD_REJECTED
        ? `the points API refused the credit: ${cause.message}`
        : `the points API kept failing (last: ${cause instanceof Error ? cause.message : String(cause)})`;
    await recordRetriedReward({ reviewId, request, ...(requestedBy ? { requestedBy } : {}), failure });
    return { status: 'FAILED' };
  }
}
