/**
 * The reward retry policy. The reward activity's options, one policy for the member workflow's reward and a review's RETRY_REWARD: 20 s per
 * attempt, transient failures retried with backoff for `rewardRetryForMs` (REWARD_RETRY_FOR), a refusal of the points
 * API never retried (it becomes a review item).
 */
import type { ActivityOptions } from '@temporalio/common';
import { ErrorType } from './errors';

const INITIAL_INTERVAL_MS = 1_000;
const MAXIMUM_INTERVAL_MS = 600_000;
const BACKOFF_COEFFICIENT = 2;

export const rewardActivityOptions = (summary: string, rewardRetryForMs: number): ActivityOptions => ({
  summary,
  startToCloseTimeout: '20s',
  scheduleToCloseTimeout: rewardRetryForMs,
  retry: {
    initialInterval: INITIAL_INTERVAL_MS,
    backoffCoefficient: BACKOFF_COEFFICIENT,
    maximumInterval: MAXIMUM_INTERVAL_MS,
    nonRetryableErrorTypes: [ErrorType.REWARD_REJECTED],
  },
});

/**
 * The wait after failed attempt `attempt` (1-based) when the points API said how long (`Retry-After`): never sooner
 * than it asked, never sooner than the policy's own backoff would wait, and never longer than the policy's maximum
 * interval, so a huge value cannot park a reward for days and `Retry-After: 0` cannot make us hammer the API.
 */
export const rewardRetryDelayMs = (retryAfterMs: number, attempt: number): number => {
  const backoff = INITIAL_INTERVAL_MS * BACKOFF_COEFFICIENT ** Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(Math.max(retryAfterMs, backoff), MAXIMUM_INTERVAL_MS);
};
