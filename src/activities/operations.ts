/**
 * A bulk operation's activities: take the selection's snapshot, then apply the action to the next page of members
 * with bounded concurrency, recording each member's outcome (the checkpoint: a member recorded is never sent again),
 * then close the operation. A member is changed once: the update id is operation + member, the member workflow
 * answers a repeat of its operation without changing anything, and a member whose workflow has closed since is
 * looked up in its audit trail.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { getEnrollment } from '../db/enrollments';
import {
  finishOperation,
  loadOperation,
  operationAudited,
  pendingMembers,
  recordMemberOutcomes,
  snapshotSelection,
  type MemberResult,
  type OperationRow,
} from '../db/operations';
import { appendAuditLines, type SubjectLines } from '../db/audit';
import { inTransaction, type Db } from '../db/pool';
import { openReviewsOf } from '../db/reviews';
import { operationUpdateId } from '../domain/ids';
import { OPERATION_CONCURRENCY } from '../domain/operations';
import type { AuditEntry } from '../domain/records';
import type { ScheduleChangeRequest } from '../domain/schedule';
import { cancelUpdate, changeScheduleForOperationUpdate, changeScheduleUpdate } from '../workflows/messages';
import type { OperationActivities, OperationPage, OperationPageResult } from '../workflows/activity-contracts';
import { resolveReviewItem } from './review-actions';

export interface OperationActivityDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  rewardRetryForMs: number;
  /** Member workflows updated at once per page. */
  concurrency?: number;
}

/** A member's outcome, and the audit lines its run handed back for the operation to write. */
type Applied = Omit<MemberResult, 'memberId'> & { audit?: AuditEntry[] };

/** How often a member that cannot be reached is tried within one page before it counts FAILED. */
const ATTEMPTS = 3;

export const createOperationActivities = (deps: OperationActivityDeps): OperationActivities => {
  const { db, temporal } = deps;

  /** What the action does to one member; throws only for what another attempt may cure. */
  const applyTo = async (op: OperationRow, m: { memberId: string; workflowId: string }): Promise<Applied> => {
    const handle: WorkflowHandle = temporal.workflow.getHandle(m.workflowId);
    const updateId = operationUpdateId(op.id, m.memberId);
    const common = {
      reason: op.reason,
      operationId: op.id,
      ...(op.requestedBy ? { requestedBy: op.requestedBy } : {}),
    };
    try {
      switch (op.action) {
        case 'EXTEND_SCHEDULE':
          return await extend(handle, { ...op.args, ...common }, updateId);
        case 'CANCEL':
          await handle.executeUpdate(cancelUpdate, { args: [common], updateId });
          return { outcome: 'CHANGED' };
        case 'RETRY_REWARD':
          return await retryReward(op, m.memberId);
      }
    } catch (err) {
      const refused = err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure;
      if (refused || err instanceof WorkflowNotFoundError) {
        // Changed by this operation before (the run has closed since, or answered a repeat with a refusal)?
        if (await operationAudited(db, m.workflowId, op.id)) return { outcome: 'CHANGED' };
        const type = refused ? (err.cause as ApplicationFailure).type : undefined;
        return { outcome: 'REFUSED', detail: type ?? 'ALREADY_DECIDED' };
      }
      throw err;
    }
  };

  /**
   * The change on behalf of the operation: one workflow task per member, the lines it hands back written with the
   * member's outcome (flush, below). A worker on code from before that update gets the one that writes itself.
   */
  const extend = async (
    handle: WorkflowHandle,
    req: ScheduleChangeRequest & { operationId: string },
    updateId: string,
  ): Promise<Applied> => {
    try {
      const { audit } = await handle.executeUpdate(changeScheduleForOperationUpdate, { args: [req], updateId });
      return { outcome: 'CHANGED', ...(audit.length > 0 ? { audit } : {}) };
    } catch (err) {
      const unknown =
        err instanceof WorkflowUpdateFailedError &&
        /no registered handler for update/i.test(String(err.cause?.message));
      if (!unknown) throw err;
      await handle.executeUpdate(changeScheduleUpdate, { args: [req], updateId });
      return { outcome: 'CHANGED' };
    }
  };

  const retryReward = async (op: OperationRow, memberId: string): Promise<Omit<MemberResult, 'memberId'>> => {
    const e = await getEnrollment(db, op.campaignId, memberId);
    const open = await openReviewsOf(db, op.campaignId, memberId, 'REWARD_FAILED');
    if (!e || open.length === 0) {
      return (await operationAudited(db, e?.workflowId ?? '', op.id))
        ? { outcome: 'CHANGED' }
        : { outcome: 'REFUSED', detail: 'NO_OPEN_REVIEW' };
    }
    for (const review of open) {
      await resolveReviewItem(deps, review, e, {
        action: 'RETRY_REWARD',
        note: op.reason,
        operationId: op.id,
        ...(op.requestedBy ? { resolvedBy: op.requestedBy } : {}),
      });
    }
    return { outcome: 'CHANGED' };
  };

  return {
    async selectOperationMembers({ operationId }: { operationId: string }): Promise<number> {
      return snapshotSelection(db, operationId);
    },

    async applyOperationPage({ operationId, after, limit }: OperationPage): Promise<OperationPageResult> {
      const op = await loadOperation(db, operationId);
      if (!op) throw ApplicationFailure.nonRetryable(`no operation ${operationId}`);
      const todo = await pendingMembers(db, operationId, after, limit);
      if (todo.length === 0) return { processed: 0, done: true };
      const context = Context.current();
      const lines: SubjectLines[] = [];
      const results: MemberResult[] = [];
      let next = 0;
      const lane = async () => {
        for (let i = next++; i < todo.length; i = next++) {
          const m = todo[i];
          for (let attempt = 1; ; attempt++) {
            try {
              const { audit, ...outcome } = await applyTo(op, m);
              results.push({ memberId: m.memberId, ...outcome });
              if (audit) lines.push({ subject: { ...m, campaignId: op.campaignId }, entries: audit });
              break;
            } catch (err) {
              if (attempt >= ATTEMPTS) {
                results.push({ memberId: m.memberId, outcome: 'FAILED', detail: String(err).slice(0, 500) });
                break;
              }
              await new Promise((r) => setTimeout(r, 200 * attempt));
            }
          }
        }
      };
      // Outcomes are checkpointed as they come (every second), with the lines the runs handed back: a worker that dies
      // mid-page loses at most a second's, which the members answer again (the same update id) when the page is retried.
      let flushing = Promise.resolve();
      const flush = () => {
        const batch = results.splice(0);
        const written = lines.splice(0);
        flushing = flushing.then(() =>
          inTransaction(db, async (tx) => {
            await appendAuditLines(tx, written);
            await recordMemberOutcomes(tx, operationId, batch);
          }),
        );
        return flushing;
      };
      const beat = setInterval(() => {
        context.heartbeat({ after: todo[Math.min(next, todo.length) - 1]?.memberId });
        void flush().catch(() => undefined);
      }, 1_000);
      try {
        await Promise.all(
          Array.from({ length: Math.min(deps.concurrency ?? OPERATION_CONCURRENCY, todo.length) }, lane),
        );
      } finally {
        clearInterval(beat);
      }
      await flush();
      return { processed: todo.length, done: todo.length < limit, after: todo[todo.length - 1].memberId };
    },

    async finishOperation({ operationId, failure }: { operationId: string; failure?: string }): Promise<void> {
      await finishOperation(db, operationId, failure);
    },
  };
};
