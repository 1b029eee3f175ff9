/**
 * Every effect of the member workflow. Activities run at least once, so each is idempotent: keyed rows in
 * PostgreSQL and the reward's idempotency key sent to the points API on every attempt.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { appendAudit, notificationAudit } from '../db/audit';
import { recordProgress } from '../db/enrollments';
import { markNotification, recordNotification } from '../db/notifications';
import type { Db } from '../db/pool';
import {
  BudgetExhaustedError,
  claimReward,
  HoldoutNeverRewardedError,
  markRewardAttempt,
  markRewardFailed,
  markRewardIssued,
} from '../db/rewards';
import { recordRetriedReward } from '../db/reviews';
import { ErrorType } from '../domain/errors';
import { rewardRetryDelayMs } from '../domain/reward-policy';
import { requestCredit } from './points-client';
import { pushNotification } from './push-client';
import type { RecordingMetrics } from './metrics';
import { Semaphore } from './semaphore';
import type {
  NotificationMessage,
  NotificationReceipt,
  ProgressRecord,
  RetriedReward,
  RewardReceipt,
  RewardRequest,
} from '../domain/records';
import type { MemberActivities } from '../workflows/activity-contracts';

export interface ActivityDeps {
  db: Db;
  pointsApiUrl: string;
  pointsApiTimeoutMs: number;
  /** Push channel webhook; unset → notifications are only recorded. */
  notifyUrl?: string;
  notifyTimeoutMs?: number;
  /**
   * Credit requests this worker process has in flight at most (POINTS_API_MAX_CONCURRENT): the points API's published
   * concurrency limit divided by the worker replicas. Further rewards wait their turn instead of drawing 429s and
   * backing off. Unset: no limit.
   */
  pointsApiMaxConcurrent?: number;
  /** Where the recording's figures go (the worker's /metrics). */
  metrics?: RecordingMetrics;
}

export const createActivities = (deps: ActivityDeps): MemberActivities => {
  const creditSlots = deps.pointsApiMaxConcurrent ? new Semaphore(deps.pointsApiMaxConcurrent) : undefined;
  const credit = (req: Parameters<typeof requestCredit>[2]) =>
    creditSlots
      ? creditSlots.run(() => requestCredit(deps.pointsApiUrl, deps.pointsApiTimeoutMs, req))
      : requestCredit(deps.pointsApiUrl, deps.pointsApiTimeoutMs, req);
  return {
    /** Audit lines, the member view and changed ledger entries, in one transaction. */
    async recordProgress(record: ProgressRecord): Promise<void> {
      await recordProgress(deps.db, record);
      deps.metrics?.observe(record, Date.now());
    },

    /**
     * Credits the reward. Layer 2 of 3: the unique reward row — if it already says ISSUED the points API is
     * not called again. Layer 3: the idempotency key, so a credit the API made before a timeout is replayed,
     * not repeated. Layer 1 is the workflow itself, which calls this once per enrollment.
     */
    async issueReward(req: RewardRequest): Promise<RewardReceipt> {
      const { attempt, activityId, workflowExecution } = Context.current().info;
      const subject = { workflowId: req.workflowId, campaignId: req.campaignId, memberId: req.memberId };
      const auditAttempt = (outcome: string, detail: Record<string, unknown>) =>
        appendAudit(deps.db, subject, [
          {
            key: `reward-attempt:${workflowExecution?.runId ?? 'standalone'}:${activityId}:${attempt}`,
            type: 'REWARD_ATTEMPT',
            source: 'REWARD',
            occurredAt: new Date().toISOString(),
            payload: { attempt, outcome, idempotencyKey: req.idempotencyKey, points: req.points, ...detail },
          },
        ]);

      let row;
      try {
        row = await claimReward(deps.db, req);
      } catch (err) {
        if (err instanceof BudgetExhaustedError) {
          await auditAttempt('BUDGET_EXHAUSTED', { detail: err.message });
          throw ApplicationFailure.create({
            type: ErrorType.BUDGET_EXHAUSTED,
            message: err.message,
            nonRetryable: true,
          });
        }
        if (!(err instanceof HoldoutNeverRewardedError)) throw err;
        await auditAttempt('HOLDOUT_REFUSED', { detail: err.message });
        throw ApplicationFailure.create({
          type: ErrorType.HOLDOUT_NEVER_REWARDED,
          message: err.message,
          nonRetryable: true,
        });
      }
      if (row.status === 'ISSUED' && row.creditId && row.issuedAt) {
        await auditAttempt('ALREADY_ISSUED', { creditId: row.creditId });
        return { creditId: row.creditId, issuedAt: row.issuedAt, alreadyIssued: true };
      }

      const answer = await credit(req);
      switch (answer.kind) {
        case 'CREDITED': {
          await markRewardAttempt(deps.db, req.workflowId, null);
          const issuedAt = await markRewardIssued(deps.db, req.workflowId, answer.creditId);
          await auditAttempt('CREDITED', { creditId: answer.creditId, replay: answer.replay });
          return { creditId: answer.creditId, issuedAt, alreadyIssued: false };
        }
        case 'REJECTED':
          await markRewardAttempt(deps.db, req.workflowId, answer.detail);
          await markRewardFailed(deps.db, req.workflowId, answer.detail);
          await auditAttempt('REJECTED', { status: answer.status, detail: answer.detail });
          throw ApplicationFailure.create({
            type: ErrorType.REWARD_REJECTED,
            message: answer.detail,
            nonRetryable: true,
          });
        case 'UNAVAILABLE':
          await markRewardAttempt(deps.db, req.workflowId, answer.detail);
          await auditAttempt('UNAVAILABLE', {
            detail: answer.detail,
            ...(answer.retryAfterMs === undefined ? {} : { retryAfterMs: answer.retryAfterMs }),
          });
          throw ApplicationFailure.create({
            type: ErrorType.POINTS_API_UNAVAILABLE,
            message: answer.detail,
            // The API said when to come back: honour it (within the policy's bounds) instead of our own backoff.
            ...(answer.retryAfterMs === undefined
              ? {}
              : { nextRetryDelay: rewardRetryDelayMs(answer.retryAfterMs, attempt) }),
          });
      }
    },

    /** The outcome of a review's RETRY_REWARD on the read model and in the audit trail. */
    async recordRetriedReward(r: RetriedReward): Promise<void> {
      await recordRetriedReward(deps.db, r);
    },

    /** Records the notification once, then pushes it if a channel is configured. Any 2xx is delivery. */
    async notify(message: NotificationMessage): Promise<NotificationReceipt> {
      const status = await recordNotification(deps.db, message);
      await appendAudit(deps.db, message, [notificationAudit(message)]);
      if (status === 'DELIVERED') return { delivered: true, detail: 'already delivered' };
      if (!deps.notifyUrl) return { delivered: false, detail: 'no push channel configured; recorded only' };

      const answer = await pushNotification(deps.notifyUrl, message, deps.notifyTimeoutMs ?? 5_000);
      if (answer.delivered) {
        await markNotification(deps.db, message.id, true);
        return { delivered: true };
      }
      const { error } = answer;
      await markNotification(deps.db, message.id, false, error);
      throw ApplicationFailure.create({ type: ErrorType.PUSH_CHANNEL_UNAVAILABLE, message: error });
    },
  };
};

export type Activities = MemberActivities;
