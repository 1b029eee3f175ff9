/**
 * The member workflow's messages (messages.ts) wired to what the run does with them: news to `accept`, an opt-out to
 * `cancel`, the view and the explanation to the queries. The validators refuse here, before anything is recorded; a
 * repeated update id gets its first answer (see CarriedState.answers).
 */
import { ApplicationFailure, currentUpdateInfo, setHandler } from '@temporalio/workflow';
import type { CancelRequest } from '../domain/enrollment';
import type { ScheduleChangeRequest, ScheduleRefusal } from '../domain/schedule';
import { ErrorType } from '../domain/errors';
import type { Explanation } from '../domain/evaluation';
import type { Ledger } from '../domain/ledger';
import type { TransactionEvent } from '../domain/model';
import { validateTransactionEvent } from '../domain/validation';
import type { MemberView } from '../domain/view';
import {
  applyTransactionUpdate,
  applyTransactionsUpdate,
  cancelUpdate,
  changeScheduleForOperationUpdate,
  changeScheduleUpdate,
  explanationQuery,
  ledgerQuery,
  MAX_EVENTS_PER_UPDATE,
  memberViewQuery,
  transactionSignal,
  type OperationChangeAnswer,
  type TransactionOutcome,
} from './messages';
import { ANSWERS_KEPT, type CarriedState } from './member-state';

export interface MemberHandlers {
  s: CarriedState;
  memberId: string;
  accept(ev: TransactionEvent): TransactionOutcome;
  /** Why an opt-out is refused now (the enrollment has a verdict), or undefined. */
  cancelRefusal(): string | undefined;
  cancel(req: CancelRequest): MemberView;
  /** Why the request is no schedule change (a 400), or why the enrollment refuses it now (a 409), or undefined. */
  scheduleProblem(req: ScheduleChangeRequest): { invalid: string } | { reused: string } | ScheduleRefusal | undefined;
  changeSchedule(req: ScheduleChangeRequest): MemberView;
  /** The same on behalf of a bulk operation: the view, and the lines for the operation to write. */
  changeScheduleForOperation(req: ScheduleChangeRequest & { operationId: string }): OperationChangeAnswer;
  view(): MemberView;
  explanation(): Explanation;
  ledger(): Ledger;
}

export function registerHandlers(h: MemberHandlers): void {
  const { s, memberId } = h;

  /** Answers a repeated update id with its first answer, else runs `run` and remembers its answer. */
  const answerOnce = <T extends TransactionOutcome | TransactionOutcome[]>(run: () => T): T => {
    const updateId = currentUpdateInfo()?.id;
    const answers = (s.answers ??= []);
    const earlier = answers.find(([id]) => id === updateId);
    if (earlier) return earlier[1] as T;
    const outcome = run();
    if (updateId) {
      answers.push([updateId, outcome]);
      if (answers.length > ANSWERS_KEPT) answers.splice(0, answers.length - ANSWERS_KEPT);
    }
    return outcome;
  };

  setHandler(transactionSignal, (ev) => {
    h.accept(ev);
  });
  setHandler(applyTransactionUpdate, (ev) => answerOnce(() => h.accept(ev)), {
    validator: (ev) => {
      const problem = validateTransactionEvent(ev, memberId);
      if (problem) throw ApplicationFailure.create({ type: ErrorType.INVALID_TRANSACTION, message: problem });
    },
  });
  // An invalid record among several is answered CONFLICT (and audited as rejected) instead of refusing them all.
  setHandler(applyTransactionsUpdate, (events) => answerOnce(() => events.map((ev) => h.accept(ev))), {
    validator: (events) => {
      if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS_PER_UPDATE) {
        throw ApplicationFailure.create({
          type: ErrorType.INVALID_TRANSACTION,
          message: `send 1 to ${MAX_EVENTS_PER_UPDATE} records per update`,
        });
      }
    },
  });
  setHandler(cancelUpdate, (req) => h.cancel(req), {
    validator: (_req) => {
      const refusal = h.cancelRefusal();
      if (refusal) {
        throw ApplicationFailure.create({ type: ErrorType.ALREADY_DECIDED, message: refusal, details: [s.state] });
      }
    },
  });
  const validateScheduleChange = (req: ScheduleChangeRequest): void => {
    const problem = h.scheduleProblem(req);
    if (!problem) return;
    if ('invalid' in problem) {
      throw ApplicationFailure.create({ type: ErrorType.INVALID_SCHEDULE_CHANGE, message: problem.invalid });
    }
    if ('reused' in problem) {
      throw ApplicationFailure.create({ type: ErrorType.IDEMPOTENCY_KEY_REUSED, message: problem.reused });
    }
    throw ApplicationFailure.create({ type: problem.code, message: problem.message, details: [problem.state] });
  };
  setHandler(changeScheduleUpdate, (req) => h.changeSchedule(req), { validator: validateScheduleChange });
  setHandler(
    changeScheduleForOperationUpdate,
    (req) => h.changeScheduleForOperation(req as ScheduleChangeRequest & { operationId: string }),
    {
      validator: (req) => {
        if (typeof req?.operationId !== 'string' || req.operationId === '') {
          throw ApplicationFailure.create({
            type: ErrorType.INVALID_SCHEDULE_CHANGE,
            message: 'a bulk operation names itself (operationId)',
          });
        }
        validateScheduleChange(req);
      },
    },
  );
  setHandler(memberViewQuery, h.view);
  setHandler(explanationQuery, h.explanation);
  setHandler(ledgerQuery, h.ledger);
}
