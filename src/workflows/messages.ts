/**
 * The one definition of every message the member workflow accepts; the API, the settlement batch and
 * the tests import these, never the names as strings.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CancelRequest, NewsOutcome } from '../domain/enrollment';
import type { Explanation } from '../domain/evaluation';
import type { Ledger } from '../domain/ledger';
import type { TransactionEvent } from '../domain/model';
import type { AuditEntry } from '../domain/records';
import type { ScheduleChangeRequest } from '../domain/schedule';
import type { MemberView } from '../domain/view';

/** Fast path: a real-time transaction or a settlement record; the caller needs no answer. */
export const transactionSignal = defineSignal<[TransactionEvent]>('transaction');

/** What a piece of news did (src/domain/enrollment.ts). */
export type TransactionOutcome = NewsOutcome;

/** The same news when the caller must know what it did (the settlement batch counts outcomes). */
export const applyTransactionUpdate = defineUpdate<TransactionOutcome, [TransactionEvent]>('applyTransaction');

/**
 * Several of one member's records at once, applied in order; one answer per record. The settlement batch uses it:
 * one workflow task for a member's lines of a chunk instead of one per line.
 */
/** Records per `applyTransactions` update: keeps each update's payload well under Temporal's limits. */
export const MAX_EVENTS_PER_UPDATE = 100;

export const applyTransactionsUpdate = defineUpdate<TransactionOutcome[], [TransactionEvent[]]>('applyTransactions');

export type { CancelRequest };

/** Opt-out before `evaluatesAt`; rejected with `ALREADY_DECIDED` once the enrollment has a verdict. */
export const cancelUpdate = defineUpdate<MemberView, [CancelRequest]>('cancel');

export type { ScheduleChangeRequest };

/**
 * An operator moves the deadlines later (domain.md, "Moving deadlines"); answered with the member view. Refused by
 * its validator, changing nothing: ALREADY_DECIDED (a verdict, or evaluatesAt passed), WINDOW_CLOSED (the window can
 * no longer move), EXTENSION_LIMIT, INVALID_SCHEDULE_CHANGE.
 */
export const changeScheduleUpdate = defineUpdate<MemberView, [ScheduleChangeRequest]>('changeSchedule');

/**
 * What a bulk operation's change answers: the member view, and the audit lines for the operation to write (the run's
 * unwritten lines through the SCHEDULE_CHANGED line, in order), or none when the run writes them itself at once.
 */
export interface OperationChangeAnswer {
  view: MemberView;
  audit: AuditEntry[];
}

/**
 * The same change on behalf of a bulk operation (`operationId` required): the run does not write the operator's line
 * itself at once (a durable activity and a second workflow task per member) but hands the lines to the operation,
 * which writes them with the member's outcome. The answer is given only once the run has committed it, so the lines
 * are never speculative; the run keeps them until its own next record, which adds nothing if they are there.
 */
export const changeScheduleForOperationUpdate = defineUpdate<OperationChangeAnswer, [ScheduleChangeRequest]>(
  'changeScheduleForOperation',
);

export const memberViewQuery = defineQuery<MemberView>('memberView');
export const explanationQuery = defineQuery<Explanation>('explanation');
/** The run's ledger, whole (what the stored ledger must be: api/ledgers.ts repairs one that is not). */
export const ledgerQuery = defineQuery<Ledger>('ledger');
