/**
 * The one delivery path for news, used by the real-time API and the settlement batch alike: find the member's
 * enrollments, hand the news to each enrollment's workflow, and, when that workflow has closed (the enrollment has
 * its verdict), record each piece as late news, judged by the rule the workflow itself uses (db/late.ts →
 * `lateLine` in src/domain/enrollment.ts).
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { recordLateArrival } from '../db/late';
import type { NewsTarget } from '../db/enrollments';
import type { Db } from '../db/pool';
import { hasVerdict, type TransactionEvent } from '../domain/model';
import type { EnrollmentAnswer } from '../domain/settlement';
import { applyTransactionsUpdate, transactionSignal } from '../workflows/messages';

export interface DeliveryDeps {
  db: Db;
  temporal: Client;
  /** Wraps each Temporal call (the API gives each a deadline). */
  call?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * The real-time path: one piece of news by signal (no answer awaited). Says whether it is late news: the enrollment
 * already had its verdict, or its workflow has closed (then it is recorded as late here).
 */
export async function signalNews(
  deps: DeliveryDeps,
  target: NewsTarget,
  event: TransactionEvent,
): Promise<{ late: boolean }> {
  const call = deps.call ?? ((fn) => fn());
  try {
    await call(() => deps.temporal.workflow.getHandle(target.workflowId).signal(transactionSignal, event));
    return { late: hasVerdict(target.state) };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    await recordLateArrival(deps.db, target, event);
    return { late: true };
  }
}

/**
 * The settlement path: a member's records in file order, by one update, answered per record. The same `updateId`
 * is answered with the first answer (a chunk applied again after a crash). A record the workflow refuses as a whole
 * is a CONFLICT.
 */
export async function updateWithNews(
  deps: DeliveryDeps,
  target: NewsTarget,
  events: TransactionEvent[],
  updateId: string,
): Promise<EnrollmentAnswer[]> {
  const call = deps.call ?? ((fn) => fn());
  try {
    return await call(() =>
      deps.temporal.workflow
        .getHandle(target.workflowId)
        .executeUpdate(applyTransactionsUpdate, { args: [events], updateId }),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      const late: EnrollmentAnswer[] = [];
      for (const ev of events) late.push(await recordLateArrival(deps.db, target, ev));
      return late;
    }
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      return events.map(() => 'CONFLICT');
    }
    throw err;
  }
}
