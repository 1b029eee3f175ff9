/**
 * Issuing a reward from workflow code: the reward activity under the reward retry policy (src/domain/reward-policy.ts),
 * its failure described for a person. One path for the member workflow's reward and a review's RETRY_REWARD, so both
 * send the same request with the same idempotency key and word a failure alike.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities } from '@temporalio/workflow';
import type { MemberActivities as Activities } from './activity-contracts';
import type { RewardResult } from '../domain/enrollment';
import { ErrorType } from '../domain/errors';
import type { RewardRequest } from '../domain/records';
import { rewardActivityOptions } from '../domain/reward-policy';

/** The reward activity under the reward retry policy. */
export const rewardActivity = (summary: string, retryForMs: number): Pick<Activities, 'issueReward'> =>
  proxyActivities<Activities>(rewardActivityOptions(summary, retryForMs));

/** Credits the reward, retrying transient failures for `retryForMs`; never throws for the points API's answers. */
export async function issueTheReward(
  request: RewardRequest,
  summary: string,
  retryForMs: number,
): Promise<RewardResult> {
  const { issueReward } = rewardActivity(summary, retryForMs);
  try {
    return { status: 'ISSUED', ...(await issueReward(request)) };
  } catch (err) {
    return rewardFailure(err, retryForMs);
  }
}

/** The reward activity's failure as a result: the campaign's budget spent, or a failure described for a person. */
export function rewardFailure(err: unknown, retryForMs: number): Exclude<RewardResult, { status: 'ISSUED' }> {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === ErrorType.BUDGET_EXHAUSTED) {
    return { status: 'BUDGET_EXHAUSTED', failure: cause.message };
  }
  return { status: 'FAILED', failure: describeRewardFailure(err, retryForMs) };
}

export function describeRewardFailure(err: unknown, retryForMs: number): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === ErrorType.REWARD_REJECTED) {
    return `the points API refused the credit: ${cause.message}`;
  }
  const last =
    cause instanceof TimeoutFailure ? 'attempts timed out' : cause instanceof Error ? cause.message : String(cause);
  return `the points API kept failing for ${formatDuration(retryForMs)} (last: ${last})`;
}

const formatDuration = (ms: number): string =>
  ms >= 3_600_000
    ? `${+(ms / 3_600_000).toFixed(1)} h`
    : ms >= 60_000
      ? `${+(ms / 60_000).toFixed(1)} min`
      : `${ms / 1000} s`;
