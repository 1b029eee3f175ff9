/**
 * RETRY_REWARD on a review item (`review:{reviewId}`): issues the enrollment's reward again through the same
 * activity and idempotency key as the member workflow, so a credit that already happened is replayed by the points
 * API, never repeated. The outcome goes to the enrollment, the audit trail, and, on failure, a new review item.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { MemberActivities as Activities } from './activity-contracts';
import { rewardSummary, webUiText } from '../domain/describe';
import type { RewardResult } from '../domain/enrollment';
import type { RewardRequest } from '../domain/records';
import { issueTheReward } from './rewarding';

export interface RewardRetryInput extends RewardRequest {
  reviewId: string;
  rewardRetryForMs: number;
  requestedBy?: string;
}

// Activity summaries are user metadata, not part of the command the replayer compares: adding or rewording them needs
// no patch (docs/versioning.md).
const { recordRetriedReward } = proxyActivities<Activities>({
  summary: webUiText('Record the outcome on the enrollment, the audit trail and the review queue'),
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});

export async function rewardRetry(input: RewardRetryInput): Promise<{ status: RewardResult['status'] }> {
  const { reviewId, rewardRetryForMs, requestedBy, ...request } = input;
  const result = await issueTheReward(
    request,
    rewardSummary(input.points, input.idempotencyKey, reviewId),
    rewardRetryForMs,
  );
  const by = requestedBy ? { requestedBy } : {};
  if (result.status === 'ISSUED') {
    const { status: _s, ...receipt } = result;
    await recordRetriedReward({ reviewId, request, ...by, receipt });
  } else {
    const budget = result.status === 'BUDGET_EXHAUSTED' ? { budgetExhausted: true } : {};
    await recordRetriedReward({ reviewId, request, ...by, failure: result.failure, ...budget });
  }
  return { status: result.status };
}
