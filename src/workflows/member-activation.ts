/**
 * One enrollment, start to finish: hears loads and withdrawals, sleeps durably through the window and the
 * grace period, decides the verdict and issues the reward exactly once.
 *
 * The rules are the pure state machine of src/domain/enrollment.ts; this file holds the state, hands each message
 * and deadline to the rules and carries out what they ask: handlers, timers, the reward activity (rewarding.ts),
 * continue-as-new. What is to be written down goes through the write-behind of member-recording.ts; the state and
 * the patches are in member-state.ts.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  log,
  patched,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  apply,
  cancel,
  cancelRefusal,
  enroll,
  evaluate,
  rewardOutcome,
  windowEnded,
  type EnrollmentState,
  type EnrollmentTerms,
  type LateEvent,
  type RewardResult,
  type Step,
} from '../domain/enrollment';
import { ErrorType } from '../domain/errors';
import { explain } from '../domain/evaluation';
import { isWindowState } from '../domain/lifecycle';
import { hasVerdict, type TransactionEvent } from '../domain/model';
import { validateTransactionEvent } from '../domain/validation';
import { memberView, type MemberView } from '../domain/view';
import { enrolledNotification } from './enrolled';
import {
  applyTransactionUpdate,
  applyTransactionsUpdate,
  MAX_EVENTS_PER_UPDATE,
  cancelUpdate,
  explanationQuery,
  memberViewQuery,
  transactionSignal,
  type TransactionOutcome,
} from './messages';
import { createRecording } from './member-recording';
import { ANSWERS_KEPT, PATCHES, type ActivationInput, type ActivationResult, type CarriedState } from './member-state';
import { describeRewardFailure, rewardActivity } from './rewarding';

export { ANSWERS_KEPT, PATCHES, type ActivationInput, type ActivationResult, type CarriedState } from './member-state';
export type { LateEvent };

export async function memberActivation(input: ActivationInput): Promise<ActivationResult> {
  const { campaign, memberId, schedule } = input;
  const { workflowId } = workflowInfo();
  const nowIso = (): string => new Date().toISOString();

  // How this run records, decided once at its start (docs/versioning.md): runs begun before a patch keep its old path.
  const lean = patched(PATCHES.leanRecording);
  const startedAt = workflowInfo().startTime.toISOString();
  // The API recorded the start (lean recording): nothing to write until the first news.
  const startRecorded = lean && !input.carried && input.recordedAtEnrollment === true;

  const s: CarriedState = input.carried ?? {
    state: 'ENROLLED',
    ledger: {},
    changed: [],
    seq: 0,
    outbox: [],
    viewDirty: !startRecorded,
    notifyQueue: [],
    notified: startRecorded ? [enrolledNotification(workflowId, memberId, campaign, schedule, startedAt).id] : [],
    goalAchievedTimes: 0,
    late: [],
    updatedAt: nowIso(),
    ...(startRecorded ? { rowUnconfirmed: true } : {}),
  };

  const terms: EnrollmentTerms = { campaign, memberId, schedule };
  const enrollment = (): EnrollmentState => ({
    state: s.state,
    ledger: s.ledger,
    goalAchievedTimes: s.goalAchievedTimes,
    late: s.late,
    ...(s.verdict ? { verdict: s.verdict } : {}),
    ...(s.reward ? { reward: s.reward } : {}),
  });

  /** Takes the step's state and writes down its effects, in the order the rules produced them. */
  const carryOut = <O>(step: Step<O>): O => {
    const e = step.enrollment;
    s.state = e.state;
    s.ledger = e.ledger;
    s.goalAchievedTimes = e.goalAchievedTimes;
    s.late = e.late;
    if (e.verdict) s.verdict = e.verdict;
    if (e.reward) s.reward = e.reward;
    for (const line of step.audit) recording.audit(line);
    for (const n of step.notifications) recording.notify(n);
    for (const t of step.transitions) log.info('state changed', { ...t });
    if (step.changedEntry !== undefined && !s.changed.includes(step.changedEntry)) s.changed.push(step.changedEntry);
    if (step.publish) recording.publish();
    return step.outcome;
  };

  const view = (): MemberView => memberView(terms, enrollment(), s.updatedAt);
  const recording = createRecording({
    s,
    workflowId,
    memberId,
    campaign,
    schedule,
    startedAt,
    lean,
    // A run on the lean recording (newer) coalesces too, without a marker of its own for this older patch.
    coalesced: () => lean || patched(PATCHES.coalesceSearchAttributeUpserts),
    view,
  });

  const accept = (ev: TransactionEvent): TransactionOutcome => {
    // For the read model's freshness figure (activation_read_model_lag_seconds): when our edge heard it.
    if (typeof ev?.receivedAt === 'string') (s.heard ??= []).push(ev.receivedAt);
    return carryOut(apply(terms, enrollment(), ev, nowIso()));
  };

  // ---- handlers --------------------------------------------------------------------------------

  setHandler(transactionSignal, (ev) => {
    accept(ev);
  });
  /** Answers a repeated update id with its first answer (see `answers`), else runs `apply` and remembers. */
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
  setHandler(applyTransactionUpdate, (ev) => answerOnce(() => accept(ev)), {
    validator: (ev) => {
      const problem = validateTransactionEvent(ev, memberId);
      if (problem) throw ApplicationFailure.create({ type: ErrorType.INVALID_TRANSACTION, message: problem });
    },
  });
  // An invalid record among several is answered CONFLICT (and audited as rejected) instead of refusing them all.
  setHandler(applyTransactionsUpdate, (events) => answerOnce(() => events.map((ev) => accept(ev))), {
    validator: (events) => {
      if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS_PER_UPDATE) {
        throw ApplicationFailure.create({
          type: ErrorType.INVALID_TRANSACTION,
          message: `send 1 to ${MAX_EVENTS_PER_UPDATE} records per update`,
        });
      }
    },
  });
  setHandler(
    cancelUpdate,
    (req) => {
      carryOut(cancel(terms, enrollment(), req, nowIso()));
      return view();
    },
    {
      validator: (_req) => {
        const refusal = cancelRefusal(enrollment());
        if (refusal) {
          throw ApplicationFailure.create({ type: ErrorType.ALREADY_DECIDED, message: refusal, details: [s.state] });
        }
      },
    },
  );
  setHandler(memberViewQuery, view);
  setHandler(explanationQuery, () => explain(s.ledger, schedule, campaign.targetCents, s.verdict));

  recording.start();

  /** Before returning: everything recorded, every notification handed over, every handler done. */
  const drain = async (): Promise<void> => {
    await condition(() => recording.idle() && allHandlersFinished());
  };

  const shouldContinueAsNew = (): boolean => {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      (input.historyEventLimit !== undefined && info.historyLength > input.historyEventLimit)
    );
  };

  const continueAsNewNow = async (): Promise<never> => {
    recording.stop();
    // Whatever is still queued travels in the carried state; only in-flight work must finish here.
    await condition(() => recording.quiet() && allHandlersFinished());
    recording.audit({
      type: 'CONTINUED_AS_NEW',
      source: 'WORKFLOW',
      payload: { historyLength: workflowInfo().historyLength, runId: workflowInfo().runId },
    });
    return continueAsNew<typeof memberActivation>({ ...input, carried: s });
  };

  /** Sleeps durably until `deadline`; wakes early only to finish (a verdict came) or to continue-as-new. */
  const waitUntil = async (deadline: string): Promise<'DEADLINE' | 'DECIDED'> => {
    let due = false;
    const ms = Date.parse(deadline) - Date.now();
    if (ms > 0) {
      sleep(ms).then(
        () => (due = true),
        () => undefined,
      );
    } else {
      due = true;
    }
    for (;;) {
      await condition(() => due || hasVerdict(s.state) || shouldContinueAsNew());
      if (hasVerdict(s.state)) return 'DECIDED';
      if (due) return 'DEADLINE';
      await continueAsNewNow();
    }
  };

  // ---- the life of the enrollment --------------------------------------------------------------

  if (!input.carried && !startRecorded) carryOut(enroll(terms, enrollment(), nowIso()));
  recording.publish();

  if (isWindowState(s.state) && (await waitUntil(schedule.windowEndsAt)) === 'DEADLINE') {
    carryOut(windowEnded(terms, enrollment(), nowIso()));
  }
  if (s.state === 'CONFIRMING' && (await waitUntil(schedule.evaluatesAt)) === 'DEADLINE') {
    carryOut(evaluate(terms, enrollment(), nowIso()));
  }
  if (s.state === 'PENDING_REWARD') await rewardTheMember();

  await drain();
  return { state: s.state, ...(s.verdict ? { verdict: s.verdict } : {}), ...(s.reward ? { reward: s.reward } : {}) };

  async function rewardTheMember(): Promise<void> {
    const reward = s.reward!;
    const { issueReward } = rewardActivity(
      `Credit ${reward.points} points (idempotency key ${reward.idempotencyKey})`,
      input.rewardRetryForMs,
    );
    // Awaited here, not through a helper: an extra await would move this continuation by a microtask against the
    // recorder's, and the order of their commands is in every recorded history.
    let result: RewardResult;
    try {
      const receipt = await issueReward({
        workflowId,
        campaignId: campaign.campaignId,
        memberId,
        points: reward.points,
        idempotencyKey: reward.idempotencyKey,
      });
      result = { status: 'ISSUED', ...receipt };
    } catch (err) {
      result = { status: 'FAILED', failure: describeRewardFailure(err, input.rewardRetryForMs) };
    }
    carryOut(rewardOutcome(terms, enrollment(), result, nowIso()));
  }
}
