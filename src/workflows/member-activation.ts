/**
 * One enrollment, start to finish: hears loads and withdrawals, sleeps durably through the window and the
 * grace period, decides the verdict and issues the reward exactly once.
 *
 * The rules live in `src/domain`; this file only orchestrates. Every change of state is written to the
 * audit trail and the read model by a background "recorder" that batches whatever accumulated while the
 * previous write was in flight, so a burst of signals costs one activity, not one each.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  setCurrentDetails,
  currentUpdateInfo,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { AuditEntry, NotificationMessage } from '../activities/types';
import {
  decideVerdict,
  disqualifyingWithdrawal,
  explain,
  inWindow,
  totals,
  windowState,
  type Verdict,
} from '../domain/evaluation';
import { currentDetails } from '../domain/describe';
import { lateImpact } from '../domain/late';
import { applyEvent, type Ledger } from '../domain/ledger';
import { assertTransition, isWindowState } from '../domain/lifecycle';
import {
  hasVerdict,
  rewardIdempotencyKey,
  type ActivationState,
  type NotificationType,
  type TransactionEvent,
} from '../domain/model';
import type { CampaignTerms, EnrollmentSchedule } from '../domain/terms';
import { validateTransactionEvent } from '../domain/validation';
import { remainingCents, type MemberView, type RewardView } from '../domain/view';
import {
  ErrorType,
  applyTransactionUpdate,
  applyTransactionsUpdate,
  MAX_EVENTS_PER_UPDATE,
  cancelUpdate,
  explanationQuery,
  memberViewQuery,
  transactionSignal,
  type TransactionOutcome,
} from './messages';
import { enrolledAudit, enrolledNotification } from './enrolled';
import { rewardActivityOptions } from './reward-activity';
import { ActivationStateKey, CountedCentsKey } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;

/**
 * Patch ids: each guards a change of the command sequence so that runs recorded before it still replay
 * (docs/versioning.md). Remove a branch only through `deprecatePatch`, once no run older than the patch is open.
 */
export const PATCHES = {
  /**
   * Search attributes are upserted at most once per workflow task, and not at all when they would not change.
   * Before: one upsert per transaction heard, so a settlement update of 100 lines added 100 history events and 100
   * visibility writes, and a duplicate or an instant load settling (the nightly file's commonest line) one each for
   * nothing.
   */
  coalesceSearchAttributeUpserts: 'coalesce-search-attribute-upserts',
  /**
   * One deploy's worth of cheaper recording (issue 10), decided once at the start of a run (its marker costs one
   * marker and one TemporalChangeVersion upsert per run, so the three changes share it):
   * - a load heard within a state is recorded by a local activity that writes the member view and the ledger: one
   *   marker event instead of an activity's three and the workflow task that follows it, and no trip through the
   *   server's task queue (the read model shows the load within its own workflow task); audit lines and
   *   notifications wait for, and verdicts take, the activity (see durableRecordDue);
   * - notifications go to PostgreSQL with the record that caused them (a transactional outbox the worker's relay
   *   pushes from), not through a `notify` activity each;
   * - search attributes are upserted when the state changes (with the counted amount as of then), not whenever the
   *   counted amount moves: the live amount is in the member view and the workflow's current details.
   * Before: an activity per record and per notification, and an upsert for every transaction that changed the count.
   * A run begun before the patch keeps those paths to its end (or its continue-as-new).
   */
  leanRecording: 'lean-recording',
} as const;

export interface ActivationInput {
  campaign: CampaignTerms;
  memberId: string;
  schedule: EnrollmentSchedule;
  /** How long transient reward failures are retried before the enrollment goes to MANUAL_REVIEW. */
  rewardRetryForMs: number;
  /** Continue-as-new once the history passes this many events, even before the server suggests it. */
  historyEventLimit?: number;
  /** State handed over by the previous run (continue-as-new). */
  carried?: CarriedState;
  /**
   * Set by the API (lean recording): the transaction that started this run wrote its row, its ENROLLED audit line and
   * notification (src/workflows/enrolled.ts), so the run has nothing to record before its first news. Its records
   * still carry them (`ifNew`) until one has landed, for the case where that transaction was lost after the start.
   */
  recordedAtEnrollment?: boolean;
}

/** A transaction heard after the verdict: recorded, never applied to the ledger the verdict was made on. */
export interface LateEvent {
  event: TransactionEvent;
  heardAt: string;
  stateAtArrival: ActivationState;
}

/** Everything the enrollment knows; carried whole across continue-as-new. */
export interface CarriedState {
  state: ActivationState;
  ledger: Ledger;
  /** Ledger entries changed since the last record. */
  changed: string[];
  /** Audit sequence number; also the read model's version. */
  seq: number;
  /** Audit entries not yet written. */
  outbox: AuditEntry[];
  viewDirty: boolean;
  /** Notifications not yet handed to the notifier, and the ids of every notification ever queued. */
  notifyQueue: NotificationMessage[];
  notified: string[];
  goalAchievedTimes: number;
  verdict?: Verdict;
  reward?: RewardView;
  late: LateEvent[];
  updatedAt: string;
  /**
   * The answers to the latest transaction updates, by update id (oldest first, at most ANSWERS_KEPT). The server
   * can deliver an update again on the next run when it completed in the task that continued as new
   * (temporalio/temporal#6375); the repeat gets the first answer and changes nothing. Absent in older runs.
   */
  answers?: [updateId: string, outcome: TransactionOutcome | TransactionOutcome[]][];
  /** Lean runs the API recorded at enrollment: set until a record has landed (see `recordedAtEnrollment`). */
  rowUnconfirmed?: boolean;
  /** `receivedAt` of the news heard since the last record: the recorder's freshness and cost figures. */
  heard?: string[];
}

/** At most this many audit lines wait for a durable record (bounds the carried state and the audit trail's lag). */
const AUDIT_BATCH = 50;

// A repeat comes within minutes (a retried activity, an update redelivered after continue-as-new); 100 answers of
// up to 100 outcomes each keep the carried state small.
const ANSWERS_KEPT = 100;

export interface ActivationResult {
  state: ActivationState;
  verdict?: Verdict;
  reward?: RewardView;
}

const { recordProgress } = proxyActivities<Activities>({
  summary: 'Record progress in PostgreSQL: audit lines, member view, ledger',
  startToCloseTimeout: '30s',
  // The audit trail must not lose a line: retry for as long as PostgreSQL is away.
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});

const { recordProgress: recordProgressLocally } = proxyLocalActivities<Activities>({
  summary: 'Record progress in PostgreSQL: audit lines, member view, ledger, notifications',
  startToCloseTimeout: '30s',
  // As above: for as long as PostgreSQL is away (after a minute of local retries, the worker backs off on timers).
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
});

const { notify } = proxyActivities<Activities>({
  summary: 'Notify the member (recorded, then pushed; best effort)',
  startToCloseTimeout: '15s',
  // Best effort: a failing push channel never blocks or fails an enrollment.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

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

  // ---- recording -------------------------------------------------------------------------------

  const audit = (type: AuditEntry['type'], source: AuditEntry['source'], payload: Record<string, unknown>): void => {
    s.seq += 1;
    s.outbox.push({ key: `seq:${s.seq}`, type, source, occurredAt: nowIso(), payload });
    s.updatedAt = nowIso();
    s.viewDirty = true;
  };

  /** Set when the search attributes may be stale; the publisher (below) upserts them once the task's work is done. */
  let publishPending = false;

  /** Search attributes for operators' queries, and the current details the Web UI shows, in words. */
  const publishSearchAttributes = (): void => {
    const t = totals(s.ledger, schedule);
    // A run on the lean recording (newer) coalesces too, without a marker of its own for this older patch.
    if (lean || patched(PATCHES.coalesceSearchAttributeUpserts)) {
      publishPending = true;
    } else {
      // Runs recorded before the patch upserted here, every time.
      upsertSearchAttributes([
        { key: ActivationStateKey, value: s.state },
        { key: CountedCentsKey, value: t.countedCents },
      ]);
    }
    // Not a command (no history event): safe to set as often as the state changes.
    setCurrentDetails(currentDetails(s.state, t, campaign.targetCents, schedule, s.verdict));
  };

  const moveTo = (next: ActivationState, why: string): void => {
    if (next === s.state) return;
    assertTransition(s.state, next);
    audit('TRANSITION', 'WORKFLOW', { from: s.state, to: next, why });
    log.info('state changed', { from: s.state, to: next, why });
    s.state = next;
  };

  const queueNotification = (type: NotificationType, suffix: string, data: Record<string, unknown>): void => {
    const id = `${workflowId}:${suffix}`;
    if (s.notified.includes(id)) return;
    s.notified.push(id);
    s.notifyQueue.push({ id, type, workflowId, memberId, campaignId: campaign.campaignId, occurredAt: nowIso(), data });
  };

  const view = (): MemberView => {
    const t = totals(s.ledger, schedule);
    const withdrawal = s.state === 'DISQUALIFIED' ? disqualifyingWithdrawal(s.ledger, schedule) : undefined;
    return {
      campaignId: campaign.campaignId,
      memberId,
      state: s.state,
      ...schedule,
      targetCents: campaign.targetCents,
      ...t,
      remainingCents: remainingCents(campaign.targetCents, t.countedCents),
      ...(withdrawal
        ? {
            disqualifiedBy: {
              transactionId: withdrawal.transactionId,
              amountCents: withdrawal.amountCents,
              channel: withdrawal.channel,
              occurredAt: withdrawal.occurredAt,
            },
          }
        : {}),
      ...(s.reward ? { reward: s.reward } : {}),
      ...(s.verdict ? { verdict: s.verdict } : {}),
      updatedAt: s.updatedAt,
    };
  };

  // ---- the rules applied to news ---------------------------------------------------------------

  /** Brings the state in line with the ledger; a withdrawal in the window decides at once. */
  const reconcile = (countedBefore: number): void => {
    if (hasVerdict(s.state)) return;
    const t = totals(s.ledger, schedule);
    const withdrawal = disqualifyingWithdrawal(s.ledger, schedule);
    if (withdrawal) {
      decide(decideVerdict(s.ledger, schedule, campaign.targetCents, nowIso()));
      return;
    }
    if (isWindowState(s.state)) moveTo(windowState(t.countedCents, campaign.targetCents), 'the count changed');
    if (countedBefore < campaign.targetCents && t.countedCents >= campaign.targetCents) {
      s.goalAchievedTimes += 1;
      queueNotification('GOAL_ACHIEVED', `GOAL_ACHIEVED:${s.goalAchievedTimes}`, {
        countedCents: t.countedCents,
        targetCents: campaign.targetCents,
      });
    }
    publishSearchAttributes();
  };

  const accept = (ev: TransactionEvent): TransactionOutcome => {
    // For the read model's freshness figure (activation_read_model_lag_seconds): when our edge heard it.
    if (typeof ev?.receivedAt === 'string') (s.heard ??= []).push(ev.receivedAt);
    const problem = validateTransactionEvent(ev, memberId);
    if (problem) {
      // A signal cannot be refused; record why it was ignored so nothing disappears silently.
      audit('TRANSACTION_REJECTED', ev.source === 'SETTLEMENT' ? 'SETTLEMENT' : 'REALTIME', { event: ev, problem });
      return 'CONFLICT';
    }
    if (hasVerdict(s.state)) {
      const impact = s.verdict
        ? lateImpact(
            s.ledger,
            s.late.map((l) => l.event),
            ev,
            schedule,
            campaign.targetCents,
            s.verdict,
          )
        : undefined;
      s.late.push({ event: ev, heardAt: nowIso(), stateAtArrival: s.state });
      // The recorder opens the review when `impact.review` is set (see db/late.ts).
      audit('LATE_EVENT', ev.source, { event: ev, state: s.state, ...(impact ? { impact } : {}) });
      return 'LATE';
    }
    const countedBefore = totals(s.ledger, schedule).countedCents;
    const result = applyEvent(s.ledger[ev.transactionId], ev);
    s.ledger[ev.transactionId] = result.entry;
    if (!s.changed.includes(ev.transactionId)) s.changed.push(ev.transactionId);
    audit('TRANSACTION_RECEIVED', ev.source, { event: ev, outcome: result.outcome, status: result.entry.status });
    if (result.delayedLoadSettled && inWindow(result.entry.occurredAt, schedule)) {
      queueNotification('LOAD_SETTLED', `LOAD_SETTLED:${ev.transactionId}`, {
        transactionId: ev.transactionId,
        amountCents: result.entry.amountCents,
        channel: result.entry.channel,
      });
    }
    reconcile(countedBefore);
    return result.outcome;
  };

  const decide = (verdict: Verdict): void => {
    s.verdict = verdict;
    audit('VERDICT', 'WORKFLOW', { ...verdict });
    const t = totals(s.ledger, schedule);
    switch (verdict.outcome) {
      case 'DISQUALIFIED':
        moveTo('DISQUALIFIED', verdict.reason);
        queueNotification('DISQUALIFIED', 'DISQUALIFIED', { reason: verdict.reason });
        break;
      case 'NOT_ELIGIBLE':
        moveTo('NOT_ELIGIBLE', verdict.reason);
        queueNotification('NOT_ELIGIBLE', 'NOT_ELIGIBLE', {
          countedCents: t.countedCents,
          targetCents: campaign.targetCents,
        });
        break;
      case 'ELIGIBLE':
        moveTo('PENDING_REWARD', verdict.reason);
        s.reward = {
          status: 'PENDING',
          points: campaign.rewardPoints,
          idempotencyKey: rewardIdempotencyKey(campaign.campaignId, memberId),
        };
        break;
      case 'CANCELLED':
        moveTo('CANCELLED', verdict.reason);
        break;
    }
    publishSearchAttributes();
  };

  // ---- handlers --------------------------------------------------------------------------------

  setHandler(transactionSignal, (ev) => {
    accept(ev);
  });
  /** Answers a repeated update id with its first answer (see `answers`), else runs `apply` and remembers. */
  const answerOnce = <T extends TransactionOutcome | TransactionOutcome[]>(apply: () => T): T => {
    const updateId = currentUpdateInfo()?.id;
    const answers = (s.answers ??= []);
    const earlier = answers.find(([id]) => id === updateId);
    if (earlier) return earlier[1] as T;
    const outcome = apply();
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
      audit('CANCEL_REQUESTED', 'API', { ...req });
      const t = totals(s.ledger, schedule);
      decide({
        outcome: 'CANCELLED',
        decidedAt: nowIso(),
        countedCents: t.countedCents,
        targetCents: campaign.targetCents,
        reason: req.reason ? `cancelled: ${req.reason}` : 'the member opted out',
      });
      return view();
    },
    {
      validator: (_req) => {
        if (hasVerdict(s.state)) {
          throw ApplicationFailure.create({
            type: ErrorType.ALREADY_DECIDED,
            message: `the enrollment already has a verdict (${s.state})`,
            details: [s.state],
          });
        }
      },
    },
  );
  setHandler(memberViewQuery, view);
  setHandler(explanationQuery, () => explain(s.ledger, schedule, campaign.targetCents, s.verdict));

  // ---- background: the recorder and the notifier -----------------------------------------------

  let stopping = false;
  let recording = false;
  let notifying = 0;

  /**
   * Lean recording writes a record one of two ways. Durable: the ordinary activity, scheduled by a completed workflow
   * task, so what it writes is what the run has committed: every audit line, every notification, anything at or after
   * the verdict. Fast: a local activity writing only the member view and the changed ledger entries (version-guarded:
   * a newer view always wins). A local activity runs before its workflow task is committed, and a task that fails (a
   * crashed worker, a signal arriving as the run completes) is retried with the news in a new order; the fast record
   * is then speculative, which the view and the ledger survive (the retry writes a newer version of both at once),
   * but an append-only audit trail and a sent notification would not. So until the verdict, audit lines wait in the
   * outbox for the next durable record: the next notification (enrolled, goal achieved, a delayed load settled), the
   * verdict, or AUDIT_BATCH of them. They are all written before the run ends.
   */
  const durableRecordDue = (): boolean =>
    s.notifyQueue.length > 0 || s.outbox.length >= AUDIT_BATCH || (s.outbox.length > 0 && hasVerdict(s.state));

  // History events since the last record of this run: with `heard`, the cost of news in events.
  let historyAtLastRecord = 0;
  const recorder = async (): Promise<void> => {
    for (;;) {
      await condition(
        () => !stopping && (lean ? s.viewDirty || durableRecordDue() : s.outbox.length > 0 || s.viewDirty),
      );
      recording = true;
      const durable = !lean || durableRecordDue();
      const audited = durable ? s.outbox.length : 0;
      const notified = lean && durable ? s.notifyQueue.length : 0;
      const changed = s.changed.splice(0);
      const heard = (s.heard ??= []).splice(0);
      const historyLength = workflowInfo().historyLength;
      s.viewDirty = false;
      try {
        await (durable ? recordProgress : recordProgressLocally)({
          workflowId,
          campaignId: campaign.campaignId,
          memberId,
          rewardPoints: campaign.rewardPoints,
          version: s.seq,
          audit: s.outbox.slice(0, audited),
          entries: changed.map((id) => s.ledger[id]),
          view: view(),
          ...(notified > 0 ? { notifications: s.notifyQueue.slice(0, notified) } : {}),
          measures: { heard, historyEvents: historyLength - historyAtLastRecord },
          ...(s.rowUnconfirmed
            ? {
                ifNew: {
                  audit: [enrolledAudit(campaign, schedule, startedAt)],
                  notifications: [enrolledNotification(workflowId, memberId, campaign, schedule, startedAt)],
                },
              }
            : {}),
        });
        s.outbox.splice(0, audited);
        s.notifyQueue.splice(0, notified);
        s.rowUnconfirmed = undefined;
        historyAtLastRecord = historyLength;
      } catch (err) {
        // Only reachable if the workflow is being cancelled; keep what was not written for the next try.
        for (const id of changed) if (!s.changed.includes(id)) s.changed.push(id);
        s.heard.unshift(...heard);
        s.viewDirty = true;
        throw err;
      } finally {
        recording = false;
      }
    }
  };

  const notifier = async (): Promise<void> => {
    for (;;) {
      await condition(() => !stopping && s.notifyQueue.length > 0);
      const message = s.notifyQueue.shift()!;
      notifying += 1;
      void notify(message)
        .catch((err: unknown) => log.warn('notification not delivered', { id: message.id, error: String(err) }))
        .finally(() => {
          notifying -= 1;
        });
    }
  };

  /**
   * Upserts the search attributes after the work of a workflow task: its condition is checked after each job of an
   * activation, but it resumes only once every job has run (microtasks wait for the job loop), so a burst of news
   * costs one upsert with the final values. Values the execution already has (set at start, carried over by
   * continue-as-new, or upserted before) cost none.
   */
  const publisher = async (): Promise<void> => {
    for (;;) {
      await condition(() => publishPending);
      publishPending = false;
      const countedCents = totals(s.ledger, schedule).countedCents;
      const current = workflowInfo().typedSearchAttributes;
      if (current.get(ActivationStateKey) === s.state) {
        if (lean || current.get(CountedCentsKey) === countedCents) continue;
      }
      upsertSearchAttributes([
        { key: ActivationStateKey, value: s.state },
        { key: CountedCentsKey, value: countedCents },
      ]);
    }
  };

  void recorder();
  if (!lean) void notifier();
  void publisher();

  const idle = (): boolean =>
    !recording &&
    notifying === 0 &&
    !publishPending &&
    s.outbox.length === 0 &&
    !s.viewDirty &&
    s.notifyQueue.length === 0;

  /** Before returning: everything recorded, every notification handed over, every handler done. */
  const drain = async (): Promise<void> => {
    await condition(() => idle() && allHandlersFinished());
  };

  const shouldContinueAsNew = (): boolean => {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      (input.historyEventLimit !== undefined && info.historyLength > input.historyEventLimit)
    );
  };

  const continueAsNewNow = async (): Promise<never> => {
    stopping = true;
    // Whatever is still queued travels in the carried state; only in-flight work must finish here.
    await condition(() => !recording && notifying === 0 && !publishPending && allHandlersFinished());
    audit('CONTINUED_AS_NEW', 'WORKFLOW', { historyLength: workflowInfo().historyLength, runId: workflowInfo().runId });
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

  if (!input.carried && !startRecorded) {
    audit('ENROLLED', 'WORKFLOW', { campaign, schedule });
    queueNotification('ENROLLED', 'ENROLLED', { ...schedule, targetCents: campaign.targetCents });
  }
  publishSearchAttributes();

  if (isWindowState(s.state) && (await waitUntil(schedule.windowEndsAt)) === 'DEADLINE') {
    moveTo('CONFIRMING', 'the window ended; waiting for late settlements');
    publishSearchAttributes();
  }
  if (s.state === 'CONFIRMING' && (await waitUntil(schedule.evaluatesAt)) === 'DEADLINE') {
    decide(decideVerdict(s.ledger, schedule, campaign.targetCents, nowIso()));
  }
  if (s.state === 'PENDING_REWARD') await issueTheReward();

  await drain();
  return { state: s.state, ...(s.verdict ? { verdict: s.verdict } : {}), ...(s.reward ? { reward: s.reward } : {}) };

  async function issueTheReward(): Promise<void> {
    const reward = s.reward!;
    const { issueReward } = proxyActivities<Activities>(
      rewardActivityOptions(
        `Credit ${reward.points} points (idempotency key ${reward.idempotencyKey})`,
        input.rewardRetryForMs,
      ),
    );
    try {
      const receipt = await issueReward({
        workflowId,
        campaignId: campaign.campaignId,
        memberId,
        points: reward.points,
        idempotencyKey: reward.idempotencyKey,
      });
      s.reward = { ...reward, status: 'ISSUED', creditId: receipt.creditId, issuedAt: receipt.issuedAt };
      audit('REWARD_OUTCOME', 'WORKFLOW', { status: 'ISSUED', ...receipt });
      moveTo('COMPLETED', `${reward.points} points credited (${receipt.creditId})`);
      queueNotification('REWARD_ISSUED', 'REWARD_ISSUED', { points: reward.points, creditId: receipt.creditId });
    } catch (err) {
      const failure = describeRewardFailure(err, input.rewardRetryForMs);
      s.reward = { ...reward, status: 'FAILED', failure };
      audit('REWARD_OUTCOME', 'WORKFLOW', { status: 'FAILED', failure });
      moveTo('MANUAL_REVIEW', failure);
    }
    publishSearchAttributes();
  }
}

function describeRewardFailure(err: unknown, retryForMs: number): string {
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
