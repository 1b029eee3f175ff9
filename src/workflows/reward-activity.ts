/**
 * The reward activity's options, one policy for the member workflow's reward and a review's RETRY_REWARD: 20 s per
 * attempt, transient failures retried with backoff for `rewardRetryForMs` (REWARD_RETRY_FOR), a refusal of the points
 * API never retried (it becomes a review item).
 */
import type { ActivityOptions } from '@temporalio/workflow';
import { ErrorType } from './messages';

export const rewardActivityOptions = (summary: string, rewardRetryForMs: number): ActivityOptions => ({
  summary,
  startToCloseTimeout: '20s',
  scheduleToCloseTimeout: rewardRetryForMs,
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10m',
    nonRetryableErrorTypes: [ErrorType.REWARD_REJECTED],
  },
});
