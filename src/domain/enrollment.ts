/**
 * The life of one enrollment as a pure state machine: what each piece of news, each deadline, an opt-out and the
 * reward's outcome do to it, and what must be written down because of it. The member workflow holds the state and
 * carries out the effects (audit lines, notifications, review items, search attributes); the rules are all here.
 *
 * Every step takes the state and returns a new one with its effects, in the order they happened; `now` is the time of
 * the step (workflow time in the workflow). The states and their transitions are those of `lifecycle.ts`, the
 * verdict that of `evaluation.ts`, the ledger that of `ledger.ts`, late news that of `late.ts`.
 */
import {
  decideVerdict,
  disqualifyingWithdrawal,
  inWindow,
  totals,
  verdictAsExplained,
  windowState,
  type Verdict,
} from './evaluation';
import { lateImpact, type ReviewKind } from './late';
import { rewardIdempotencyKey } from './ids';
import { applyEvent, type ApplyOutcome, type Ledger } from './ledger';
import { assertReviewTransition, assertTransition, isWindowState } from './lifecycle';
import { hasVerdict, type ActivationState, type NotificationType, type TransactionEvent } from './model';
import type { AuditSource, AuditType, RewardReceipt } from './records';
import { movedSchedule, type ScheduleChange, type ScheduleChangeRequest } from './schedule';
import type { CampaignTerms, EnrollmentSchedule } from './terms';
import type { ExperimentGroup } from './holdout';
import { validateTransactionEvent } from './validation';
import type { RewardView } from './view';

/**
 * What the rules need to know about the enrollment besides its state: fixed for its whole life. `schedule` is the
 * calendar the campaign gave it at enrollment; an operator may move its deadlines later (`EnrollmentState.schedule`).
 */
export interface EnrollmentTerms {
  campaign: CampaignTerms;
  memberId: string;
  schedule: EnrollmentSchedule;
  /**
   * The member's group, assigned at enrollment (domain/holdout.ts). A HOLDOUT member is judged like any other but
   * never rewarded and never told: no notification, no review item, HOLDOUT_QUALIFIED where others are rewarded.
   * Absent (every run begun before holdouts existed): TREATMENT.
   */
  group?: ExperimentGroup;
}

export const isHoldout = (terms: Pick<EnrollmentTerms, 'group'>): boolean => terms.group === 'HOLDOUT';

/** A transaction heard after the verdict: recorded, never applied to the ledger the verdict was made on. */
export interface LateEvent {
  /** (Runs of older code carried `heardAt` and `stateAtArrival` beside it; nothing reads them.) */
  event: TransactionEvent;
}

/** The state the rules act on. */
export interface EnrollmentState {
  state: ActivationState;
  ledger: Ledger;
  /** How often the count has crossed the target upwards (a return can drop it back): numbers the notifications. */
  goalAchievedTimes: number;
  verdict?: Verdict;
  reward?: RewardView;
  late: LateEvent[];
  /** The deadlines as an operator moved them (absent: the enrollment's own, `EnrollmentTerms.schedule`). */
  schedule?: EnrollmentSchedule;
  /** Every change of the deadlines, oldest first (absent: none). */
  scheduleChanges?: ScheduleChange[];
}

/** The deadlines the rules apply now: as moved, or as enrolled. The window rule uses them for every transaction. */
export const scheduleOf = (terms: EnrollmentTerms, e: Pick<EnrollmentState, 'schedule'>): EnrollmentSchedule =>
  e.schedule ?? terms.schedule;

/** What one piece of news did. */
export type NewsOutcome = ApplyOutcome | 'LATE';

/** An audit line to write (the workflow numbers and dates it), and the review item it opens, if any. */
export interface AuditLine {
  type: AuditType;
  source: AuditSource;
  payload: Record<string, unknown>;
  review?: { kind: ReviewKind; reason: string; details: Record<string, unknown> };
}

/** A notification to send to the member; `suffix` makes its id (one notification per id, ever). */
export interface NotificationLine {
  type: NotificationType;
  suffix: string;
  data: Record<string, unknown>;
}

export interface Transition {
  from: ActivationState;
  to: ActivationState;
  why: string;
}

/** A step of the machine: the new state and what must be written down because of it, in order. */
export interface Step<O = undefined> {
  enrollment: EnrollmentState;
  outcome: O;
  audit: AuditLine[];
  notifications: NotificationLine[];
  transitions: Transition[];
  /** The ledger entry the step changed, if any. */
  changedEntry?: string;
  /** The state or the counted amount may have changed: the search attributes and the details are to be refreshed. */
  publish: boolean;
}

export const initialEnrollment = (): EnrollmentState => ({
  state: 'ENROLLED',
  ledger: {},
  goalAchievedTimes: 0,
  late: [],
});

/** The opt-out or cancellation an operator or the member asks for. */
export interface CancelRequest {
  requestedBy?: string;
  reason?: string;
  /** The bulk operation that asked, if one did (in the audit line). */
  operationId?: string;
}

/**
 * How the reward attempt ended: the points API's receipt, why it could not be issued, or no slot left in the campaign's
 * budget (the database refused it before the points API was asked).
 */
export type RewardResult =
  | ({ status: 'ISSUED' } & RewardReceipt)
  | { status: 'FAILED'; failure: string }
  | { status: 'BUDGET_EXHAUSTED'; failure: string };

/** Builds a step: the mutable scratch of one call, never visible outside it. */
class StepBuilder {
  readonly audit: AuditLine[] = [];
  readonly notifications: NotificationLine[] = [];
  readonly transitions: Transition[] = [];
  changedEntry?: string;
  publish = false;

  constructor(
    readonly terms: EnrollmentTerms,
    public e: EnrollmentState,
    readonly now: string,
  ) {}

  get schedule(): EnrollmentSchedule {
    return scheduleOf(this.terms, this.e);
  }

  line(type: AuditType, source: AuditSource, payload: Record<string, unknown>, review?: AuditLine['review']): void {
    this.audit.push(review ? { type, source, payload, review } : { type, source, payload });
  }

  notify(type: NotificationType, suffix: string, data: Record<string, unknown>): void {
    // A holdout member is never told of the campaign.
    if (!isHoldout(this.terms)) this.notifications.push({ type, suffix, data });
  }

  moveTo(next: ActivationState, why: string): void {
    const from = this.e.state;
    if (next === from) return;
    assertTransition(from, next);
    this.line('TRANSITION', 'WORKFLOW', { from, to: next, why });
    this.transitions.push({ from, to: next, why });
    this.e = { ...this.e, state: next };
  }

  /** The verdict, and the state and notification it brings. */
  decide(verdict: Verdict): void {
    const { campaign, memberId } = this.terms;
    const { schedule } = this;
    this.e = { ...this.e, verdict };
    this.line('VERDICT', 'WORKFLOW', { ...verdict });
    const t = totals(this.e.ledger, schedule);
    switch (verdict.outcome) {
      case 'DISQUALIFIED':
        this.moveTo('DISQUALIFIED', verdict.reason);
        this.notify('DISQUALIFIED', 'DISQUALIFIED', { reason: verdict.reason });
        break;
      case 'NOT_ELIGIBLE':
        this.moveTo('NOT_ELIGIBLE', verdict.reason);
        this.notify('NOT_ELIGIBLE', 'NOT_ELIGIBLE', {
          countedCents: t.countedCents,
          targetCents: campaign.targetCents,
        });
        break;
      case 'ELIGIBLE':
        if (isHoldout(this.terms)) {
          this.moveTo('HOLDOUT_QUALIFIED', verdictAsExplained(verdict, 'HOLDOUT').reason);
          break;
        }
        this.moveTo('PENDING_REWARD', verdict.reason);
        this.e = {
          ...this.e,
          reward: {
            status: 'PENDING',
            points: campaign.rewardPoints,
            idempotencyKey: rewardIdempotencyKey(campaign.campaignId, memberId),
          },
        };
        break;
      case 'CANCELLED':
        this.moveTo('CANCELLED', verdict.reason);
        break;
    }
    this.publish = true;
  }

  /** Brings the state in line with the ledger; a withdrawal in the window decides at once. */
  reconcile(countedBefore: number): void {
    const { campaign } = this.terms;
    const { schedule } = this;
    if (hasVerdict(this.e.state)) return;
    const t = totals(this.e.ledger, schedule);
    if (disqualifyingWithdrawal(this.e.ledger, schedule)) {
      this.decide(decideVerdict(this.e.ledger, schedule, campaign.targetCents, this.now));
      return;
    }
    if (isWindowState(this.e.state))
      this.moveTo(windowState(t.countedCents, campaign.targetCents), 'the count changed');
    if (countedBefore < campaign.targetCents && t.countedCents >= campaign.targetCents) {
      const goalAchievedTimes = this.e.goalAchievedTimes + 1;
      this.e = { ...this.e, goalAchievedTimes };
      this.notify('GOAL_ACHIEVED', `GOAL_ACHIEVED:${goalAchievedTimes}`, {
        countedCents: t.countedCents,
        targetCents: campaign.targetCents,
      });
    }
    this.publish = true;
  }

  done<O>(outcome: O): Step<O> {
    return {
      enrollment: this.e,
      outcome,
      audit: this.audit,
      notifications: this.notifications,
      transitions: this.transitions,
      ...(this.changedEntry !== undefined ? { changedEntry: this.changedEntry } : {}),
      publish: this.publish,
    };
  }
}

/**
 * The enrollment begins: its ENROLLED line and notification (written by the API instead when it started the run in the
 * transaction that wrote the enrollment's row).
 */
export function enroll(terms: EnrollmentTerms, e: EnrollmentState, now: string): Step {
  const b = new StepBuilder(terms, e, now);
  b.line('ENROLLED', 'WORKFLOW', enrolledPayload(terms));
  b.notify('ENROLLED', 'ENROLLED', enrolledNotificationData(terms));
  return b.done(undefined);
}

/** What the ENROLLED line says (the proof's terms): the campaign, the calendar, and the group when one was assigned. */
export const enrolledPayload = (terms: EnrollmentTerms): Record<string, unknown> => ({
  campaign: terms.campaign,
  schedule: terms.schedule,
  ...(terms.group ? { group: terms.group } : {}),
});

/** The data of the ENROLLED notification: one definition for the workflow and the API. */
export const enrolledNotificationData = (
  terms: Pick<EnrollmentTerms, 'campaign' | 'schedule'>,
): Record<string, unknown> => ({
  ...terms.schedule,
  targetCents: terms.campaign.targetCents,
});

/**
 * A piece of news (a real-time transaction or a settlement record). Invalid news is recorded as rejected and changes
 * nothing ('CONFLICT'); news after the verdict is recorded as late, judged against the verdict's ledger, and opens a
 * review when it would have changed the verdict; anything else goes into the ledger (de-duplicated by transaction id)
 * and the state follows the count.
 */
export function apply(
  terms: EnrollmentTerms,
  e: EnrollmentState,
  ev: TransactionEvent,
  now: string,
): Step<NewsOutcome> {
  const { campaign, memberId } = terms;
  const schedule = scheduleOf(terms, e);
  const b = new StepBuilder(terms, e, now);
  const problem = validateTransactionEvent(ev, memberId);
  if (problem) {
    // A signal cannot be refused; record why it was ignored so nothing disappears silently.
    b.line('TRANSACTION_REJECTED', ev.source === 'SETTLEMENT' ? 'SETTLEMENT' : 'REALTIME', { event: ev, problem });
    return b.done<NewsOutcome>('CONFLICT');
  }
  if (hasVerdict(e.state)) {
    b.e = { ...e, late: [...e.late, { event: ev }] };
    b.audit.push(lateLine(e, ev, schedule, campaign.targetCents, {}, terms.group));
    return b.done<NewsOutcome>('LATE');
  }
  const countedBefore = totals(e.ledger, schedule).countedCents;
  const result = applyEvent(e.ledger[ev.transactionId], ev);
  b.e = { ...e, ledger: { ...e.ledger, [ev.transactionId]: result.entry } };
  b.changedEntry = ev.transactionId;
  b.line('TRANSACTION_RECEIVED', ev.source, { event: ev, outcome: result.outcome, status: result.entry.status });
  if (result.delayedLoadSettled && inWindow(result.entry.occurredAt, schedule)) {
    b.notify('LOAD_SETTLED', `LOAD_SETTLED:${ev.transactionId}`, {
      transactionId: ev.transactionId,
      amountCents: result.entry.amountCents,
      channel: result.entry.channel,
    });
  }
  b.reconcile(countedBefore);
  return b.done<NewsOutcome>(result.outcome);
}

/**
 * The audit line of news heard after the verdict (`e` has a verdict): judged against the ledger the verdict was made
 * on plus the late news heard before it, with a review item when it would have changed the verdict. The member
 * workflow and the recording of late news for a closed enrollment (db/late.ts) both judge with it. A holdout member's
 * line records the impact (`wouldBe`, `actual`) and names no review, in its payload either (`lateImpact`): the payload
 * is what the audit trail keeps, and older records are read for the reviews their payloads name (db/reviews.ts).
 */
export function lateLine(
  e: Pick<EnrollmentState, 'state' | 'ledger' | 'late' | 'verdict'>,
  ev: TransactionEvent,
  schedule: EnrollmentSchedule,
  targetCents: number,
  extra: Record<string, unknown> = {},
  group?: ExperimentGroup,
): AuditLine {
  const impact = e.verdict
    ? lateImpact(
        e.ledger,
        e.late.map((l) => l.event),
        ev,
        schedule,
        targetCents,
        e.verdict,
        group,
      )
    : undefined;
  const payload = { event: ev, state: e.state, ...extra, ...(impact ? { impact } : {}) };
  return impact?.review
    ? {
        type: 'LATE_EVENT',
        source: ev.source,
        payload,
        review: { ...impact.review, details: { event: ev, actual: impact.actual, wouldBe: impact.wouldBe } },
      }
    : { type: 'LATE_EVENT', source: ev.source, payload };
}

/**
 * The key of a piece of late news recorded for a closed enrollment: the same news heard twice is recorded once. (A
 * running workflow numbers its lines like all others and records each hearing, as domain.md asks.)
 */
export const lateEventKey = (ev: TransactionEvent): string =>
  `late:${ev.source}:${ev.transactionId}:${ev.source === 'SETTLEMENT' ? ev.status : ev.kind}`;

/** The window has ended without a verdict: wait for late settlements (the grace period). */
export function windowEnded(terms: EnrollmentTerms, e: EnrollmentState, now: string): Step {
  const b = new StepBuilder(terms, e, now);
  b.moveTo('CONFIRMING', 'the window ended; waiting for late settlements');
  b.publish = true;
  return b.done(undefined);
}

/** The grace period has ended: the verdict on the ledger as it stands. */
export function evaluate(terms: EnrollmentTerms, e: EnrollmentState, now: string): Step {
  const b = new StepBuilder(terms, e, now);
  b.decide(decideVerdict(e.ledger, scheduleOf(terms, e), terms.campaign.targetCents, now));
  return b.done(undefined);
}

/** Whether an opt-out is still possible, and why not. */
export const cancelRefusal = (e: EnrollmentState): string | undefined =>
  hasVerdict(e.state) ? `the enrollment already has a verdict (${e.state})` : undefined;

/** The member opts out (or an operator cancels) before the verdict; the caller checks `cancelRefusal` first. */
export function cancel(terms: EnrollmentTerms, e: EnrollmentState, req: CancelRequest, now: string): Step {
  const b = new StepBuilder(terms, e, now);
  b.line('CANCEL_REQUESTED', 'API', { ...req });
  const t = totals(e.ledger, scheduleOf(terms, e));
  b.decide({
    outcome: 'CANCELLED',
    decidedAt: now,
    countedCents: t.countedCents,
    targetCents: terms.campaign.targetCents,
    reason: req.reason ? `cancelled: ${req.reason}` : 'the member opted out',
  });
  return b.done(undefined);
}

/**
 * An operator moves the deadlines (the caller checks `scheduleChangeRefusal` first). The window rule then uses the new
 * `windowEndsAt` for every transaction heard, so the state follows the count at once: a load that only the new window
 * holds counts (and may reach the goal); a withdrawal that only the new window holds disqualifies. The outcome is the
 * new calendar, for the workflow's timers.
 */
export function changeSchedule(
  terms: EnrollmentTerms,
  e: EnrollmentState,
  req: ScheduleChangeRequest,
  now: string,
): Step<EnrollmentSchedule> {
  const b = new StepBuilder(terms, e, now);
  const from = scheduleOf(terms, e);
  const to = movedSchedule(from, req);
  const change: ScheduleChange = {
    changedAt: now,
    ...(req.requestedBy ? { requestedBy: req.requestedBy } : {}),
    reason: req.reason,
    ...(req.operationId ? { operationId: req.operationId } : {}),
    ...(req.requestId ? { requestId: req.requestId } : {}),
    ...(req.extendWindowBy ? { extendWindowBy: req.extendWindowBy } : {}),
    ...(req.extendGraceBy ? { extendGraceBy: req.extendGraceBy } : {}),
    windowEndsAt: { from: from.windowEndsAt, to: to.windowEndsAt },
    evaluatesAt: { from: from.evaluatesAt, to: to.evaluatesAt },
  };
  const countedBefore = totals(e.ledger, from).countedCents;
  b.e = { ...e, schedule: to, scheduleChanges: [...(e.scheduleChanges ?? []), change] };
  b.line('SCHEDULE_CHANGED', 'OPERATOR', { ...change });
  b.reconcile(countedBefore);
  b.publish = true;
  return b.done(to);
}

/**
 * What the reward attempt ended in: COMPLETED with the credit; BUDGET_EXHAUSTED when every reward the campaign's budget
 * allows was taken first (the member is told; nothing for a person to do); or MANUAL_REVIEW with the failure (and a
 * review item for a person to retry or dismiss it).
 */
export function rewardOutcome(terms: EnrollmentTerms, e: EnrollmentState, result: RewardResult, now: string): Step {
  const b = new StepBuilder(terms, e, now);
  const reward = e.reward!;
  if (result.status === 'ISSUED') {
    b.e = { ...e, reward: { ...reward, status: 'ISSUED', creditId: result.creditId, issuedAt: result.issuedAt } };
    b.line('REWARD_OUTCOME', 'WORKFLOW', { ...result });
    b.moveTo('COMPLETED', `${reward.points} points credited (${result.creditId})`);
    b.notify('REWARD_ISSUED', 'REWARD_ISSUED', { points: reward.points, creditId: result.creditId });
  } else if (result.status === 'BUDGET_EXHAUSTED') {
    const { failure } = result;
    b.e = { ...e, reward: { ...reward, status: 'FAILED', failure } };
    b.line('REWARD_OUTCOME', 'WORKFLOW', { status: 'BUDGET_EXHAUSTED', failure });
    b.moveTo('BUDGET_EXHAUSTED', failure);
    b.notify('BUDGET_EXHAUSTED', 'BUDGET_EXHAUSTED', { points: reward.points, reason: failure });
  } else {
    const { failure } = result;
    b.e = { ...e, reward: { ...reward, status: 'FAILED', failure } };
    b.line(
      'REWARD_OUTCOME',
      'WORKFLOW',
      { status: 'FAILED', failure },
      {
        kind: 'REWARD_FAILED',
        reason: `the reward could not be issued: ${failure}`,
        details: { failure },
      },
    );
    b.moveTo('MANUAL_REVIEW', failure);
  }
  b.publish = true;
  return b.done(undefined);
}

/** What a person's retry of the reward (a review resolved with RETRY_REWARD, the workflow closed) does. */
export interface RetriedReward {
  to: ActivationState;
  reward: RewardView;
  /** Set when the state changes. */
  transition?: Transition;
  /** Set when the retry failed: a new review item for it. */
  review?: AuditLine['review'];
}

export function rewardRetried(
  from: ActivationState,
  reward: Pick<RewardView, 'points' | 'idempotencyKey'>,
  result: RewardResult,
  reviewId: string,
): RetriedReward {
  const issued = result.status === 'ISSUED';
  const to: ActivationState =
    issued || from === 'COMPLETED'
      ? 'COMPLETED'
      : result.status === 'BUDGET_EXHAUSTED'
        ? 'BUDGET_EXHAUSTED'
        : 'MANUAL_REVIEW';
  assertReviewTransition(from, to);
  const view: RewardView = issued
    ? {
        status: 'ISSUED',
        points: reward.points,
        idempotencyKey: reward.idempotencyKey,
        creditId: result.creditId,
        issuedAt: result.issuedAt,
      }
    : { status: 'FAILED', points: reward.points, idempotencyKey: reward.idempotencyKey, failure: result.failure };
  return {
    to,
    reward: view,
    ...(from !== to
      ? { transition: { from, to, why: `review ${reviewId}: ${issued ? 'reward issued on retry' : result.failure}` } }
      : {}),
    // A retry that failed is a person's to look at again; one that found the budget spent has nothing left to retry.
    ...(result.status === 'FAILED'
      ? {
          review: {
            kind: 'REWARD_FAILED' as const,
            reason: `the reward could not be issued: ${result.failure}`,
            details: { failure: result.failure },
          },
        }
      : {}),
  };
}
