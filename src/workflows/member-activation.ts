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
  log,
  patched,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  apply,
  cancel,
  cancelRefusal,
  changeSchedule as moveDeadlines,
  enroll,
  evaluate,
  rewardOutcome,
  scheduleOf,
  windowEnded,
  type EnrollmentTerms,
  type LateEvent,
  type RewardResult,
  type Step,
} from '../domain/enrollment';
import { ErrorType } from '../domain/errors';
import { describeNews, describeOptOut, describeScheduleChange, rewardSummary, webUiText } from '../domain/describe';
import { explain } from '../domain/evaluation';
import { isWindowState } from '../domain/lifecycle';
import { hasVerdict, type TransactionEvent } from '../domain/model';
import { appliedBefore, scheduleChangeProblem, type ScheduleChangeRequest } from '../domain/schedule';
import { memberView, type MemberView } from '../domain/view';
import { deadlineWaiter } from './deadlines';
import { enrolledNotificationId } from './enrolled';
import { registerHandlers } from './member-handlers';
import { createRecording } from './member-recording';
import {
  adopt,
  continueAsNewDue,
  enrollmentOf,
  freshState,
  PATCHES,
  resultOf,
  type ActivationInput,
  type ActivationResult,
  type CarriedState,
} from './member-state';
import type { TransactionOutcome } from './messages';
import { rewardActivity, rewardFailure } from './rewarding';

export { ANSWERS_KEPT, PATCHES, type ActivationInput, type ActivationResult, type CarriedState } from './member-state';
export type { LateEvent };

export async function memberActivation(input: ActivationInput): Promise<ActivationResult> {
  const { campaign, memberId, schedule, group } = input;
  const { workflowId } = workflowInfo();
  const nowIso = (): string => new Date().toISOString();

  // How this run records, decided once at its start (docs/versioning.md): runs begun before a patch keep its old path.
  const lean = patched(PATCHES.leanRecording);
  // Asked only on the lean path (every run begun since that patch), and only after it: its marker follows lean's.
  const safe = lean && patched(PATCHES.safeSeams);
  const startedAt = workflowInfo().startTime.toISOString();
  // The API recorded the start (lean recording): nothing to write until the first news.
  const startRecorded = lean && !input.carried && input.recordedAtEnrollment === true;

  const s: CarriedState = input.carried ?? freshState(nowIso(), startRecorded, enrolledNotificationId(workflowId));
  const terms: EnrollmentTerms = { campaign, memberId, schedule, ...(group ? { group } : {}) };
  const enrollment = () => enrollmentOf(s);
  /** The deadlines as they stand (an operator may have moved them). */
  const current = () => scheduleOf(terms, s);

  /** Takes the step's state and writes down its effects, in the order the rules produced them. */
  const carryOut = <O>(step: Step<O>): O => {
    adopt(s, step.enrollment);
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
    ...(group ? { group } : {}),
    schedule,
    current,
    startedAt,
    lean,
    safe,
    // A run on the lean recording (newer) coalesces too, without a marker of its own for this older patch.
    coalesced: () => lean || patched(PATCHES.coalesceSearchAttributeUpserts),
    view,
  });

  const changeSchedule = (req: ScheduleChangeRequest): MemberView => {
    // Code without the patch (runs replayed by older workers) refuses, as that code had no such update.
    if (!patched(PATCHES.movingDeadlines)) {
      throw ApplicationFailure.create({ type: ErrorType.INVALID_SCHEDULE_CHANGE, message: 'not supported' });
    }
    if (!appliedBefore(s.scheduleChanges, req)) {
      carryOut(moveDeadlines(terms, enrollment(), req, nowIso()));
      recording.note(describeScheduleChange(s.scheduleChanges!.at(-1)!));
    }
    return view();
  };

  const accept = (ev: TransactionEvent): TransactionOutcome => {
    // For the read model's freshness figure (activation_read_model_lag_seconds): when our edge heard it.
    if (typeof ev?.receivedAt === 'string') (s.heard ??= []).push(ev.receivedAt);
    const outcome = carryOut(apply(terms, enrollment(), ev, nowIso()));
    recording.note(describeNews(ev, outcome));
    return outcome;
  };

  registerHandlers({
    s,
    memberId,
    accept,
    cancelRefusal: () => cancelRefusal(enrollment()),
    cancel: (req) => {
      carryOut(cancel(terms, enrollment(), req, nowIso()));
      recording.note(describeOptOut(req));
      return view();
    },
    scheduleProblem: (req) => scheduleChangeProblem(s, schedule, current(), req, nowIso()),
    changeSchedule,
    changeScheduleForOperation: (req) => ({ view: changeSchedule(req), audit: recording.handOver(req.operationId) }),
    view,
    explanation: () => explain(s.ledger, current(), campaign.targetCents, s.verdict, s.scheduleChanges, group),
    ledger: () => s.ledger,
  });
  recording.start();

  const continueAsNewNow = async (): Promise<never> => {
    recording.stop();
    // Whatever is still queued travels in the carried state; only in-flight work must finish here.
    await condition(() => recording.quiet() && allHandlersFinished());
    if (safe) {
      // The hand-over in a task of its own, begun by this timer: never in a task that only resolves a local activity
      // (the shape in which a load was once seen missing from the next run; docs/versioning.md, "safe-seams"). News
      // heard meanwhile is taken into the carried state like any other.
      await sleep(1, { summary: webUiText('Hand over to a new run (continue-as-new)') });
      await condition(() => recording.quiet() && allHandlersFinished());
      s.runIndex = (s.runIndex ?? 0) + 1;
    }
    recording.audit({
      type: 'CONTINUED_AS_NEW',
      source: 'WORKFLOW',
      payload: { historyLength: workflowInfo().historyLength, runId: workflowInfo().runId },
    });
    return continueAsNew<typeof memberActivation>({ ...input, carried: s });
  };

  const waitUntil = deadlineWaiter({
    decided: () => hasVerdict(s.state),
    continueAsNewDue: () => continueAsNewDue(workflowInfo(), input.historyEventLimit),
    continueAsNewNow,
  });

  // ---- the life of the enrollment --------------------------------------------------------------

  if (!input.carried && !startRecorded) carryOut(enroll(terms, enrollment(), nowIso()));
  recording.publish();

  if (isWindowState(s.state) && (await waitUntil(() => current().windowEndsAt, 'Window ends')) === 'DEADLINE') {
    carryOut(windowEnded(terms, enrollment(), nowIso()));
  }
  if (
    s.state === 'CONFIRMING' &&
    (await waitUntil(() => current().evaluatesAt, 'Grace period ends, verdict')) === 'DEADLINE'
  ) {
    carryOut(evaluate(terms, enrollment(), nowIso()));
  }
  if (s.state === 'PENDING_REWARD') await rewardTheMember();

  // Before returning: everything recorded, every notification handed over, every handler done.
  await condition(() => recording.idle() && allHandlersFinished());
  return resultOf(s);

  async function rewardTheMember(): Promise<void> {
    const reward = s.reward!;
    const { issueReward } = rewardActivity(rewardSummary(reward.points, reward.idempotencyKey), input.rewardRetryForMs);
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
      result = rewardFailure(err, input.rewardRetryForMs);
    }
    carryOut(rewardOutcome(terms, enrollment(), result, nowIso()));
  }
}
