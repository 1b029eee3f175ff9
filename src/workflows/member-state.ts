/**
 * The member workflow's state and its inputs: what a run starts with, what it carries across continue-as-new, and
 * the patches that decide how a run records, and the few plain functions that move between the carried state and the
 * rules' EnrollmentState. No Temporal calls; the workflow is member-activation.ts.
 */
import type { EnrollmentState, LateEvent } from '../domain/enrollment';
import type { Verdict } from '../domain/evaluation';
import type { ExperimentGroup } from '../domain/holdout';
import type { Ledger } from '../domain/ledger';
import type { ActivationState } from '../domain/model';
import type { AuditEntry, NotificationMessage, ReviewItem } from '../domain/records';
import type { ScheduleChange } from '../domain/schedule';
import type { CampaignTerms, EnrollmentSchedule } from '../domain/terms';
import type { RewardView } from '../domain/view';
import type { TransactionOutcome } from './messages';

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
  /**
   * Operators move an open enrollment's deadlines (issue 12): the `changeSchedule` update, whose handler asks this
   * patch before it changes anything, so its marker precedes the new commands (a cancelled timer and a new one, the
   * EvaluatesAt upsert). Runs recorded before it never received the update; code without it refuses the update.
   */
  movingDeadlines: 'moving-deadlines',
  /**
   * Safe seams (issue 23), decided once at the start of a run:
   * - a record's version orders by (run, history length, record within the task) instead of the audit sequence, so a
   *   record of a workflow task that is retried (UnhandledCommand, a timeout) is always newer than what the failed
   *   attempt's local activity wrote speculatively; before, both could carry the same sequence number with other news,
   *   the newer one was dropped as "not newer", and its ledger entries with it;
   * - a durable record carries the whole ledger, which replaces the stored one (what a speculative record left behind
   *   is gone at the latest at the verdict);
   * - the fast record is bounded (seconds, a few attempts): a slow or stalled database makes it fail fast, and the run
   *   records durably instead (an activity, retried by the server, holding no workflow task) until a durable record
   *   lands; before, the local activity retried for a minute inside its workflow task, which held a task slot and
   *   timed out, and a slow database wedged every slot of the worker;
   * - continue-as-new waits for a timer first, so that the hand-over happens in a task of its own, never in one that
   *   only resolves a local activity.
   */
  safeSeams: 'safe-seams',
} as const;

export interface ActivationInput {
  campaign: CampaignTerms;
  memberId: string;
  schedule: EnrollmentSchedule;
  /**
   * The member's group, assigned by the API at enrollment (domain/holdout.ts) and fixed for the enrollment's life.
   * Absent (campaigns without a holdout, and every run begun before holdouts): TREATMENT.
   */
  group?: ExperimentGroup;
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
  /**
   * Keys of operators' lines still in the outbox that a bulk operation writes (changeScheduleForOperation): they do not
   * call for a durable record at once. Absent in older runs.
   */
  handedOver?: string[];
  /** Review items the rules opened with audit lines still in the outbox (absent in older runs). */
  reviews?: ReviewItem[];
  /** The deadlines as moved by operators, and every change (absent: never moved; see EnrollmentState). */
  schedule?: EnrollmentSchedule;
  scheduleChanges?: ScheduleChange[];
  /** How many times the enrollment has continued as new before this run (absent: never, or an older run). */
  runIndex?: number;
}

// A repeat comes within minutes (a retried activity, an update redelivered after continue-as-new); 100 answers of
// up to 100 outcomes each keep the carried state small.
export const ANSWERS_KEPT = 100;

export interface ActivationResult {
  state: ActivationState;
  verdict?: Verdict;
  reward?: RewardView;
}

/**
 * The state a run begins with when nothing is carried. `startRecorded`: the API wrote the enrollment row, its ENROLLED
 * audit line and notification (`recordedAtEnrollment` on a lean run), so the view is clean and that notification is
 * already queued once.
 */
export function freshState(now: string, startRecorded: boolean, enrolledNotificationId: string): CarriedState {
  return {
    state: 'ENROLLED',
    ledger: {},
    changed: [],
    seq: 0,
    outbox: [],
    viewDirty: !startRecorded,
    notifyQueue: [],
    notified: startRecorded ? [enrolledNotificationId] : [],
    goalAchievedTimes: 0,
    late: [],
    updatedAt: now,
    ...(startRecorded ? { rowUnconfirmed: true } : {}),
  };
}

/** What the rules see of the carried state. */
export function enrollmentOf(s: CarriedState): EnrollmentState {
  return {
    state: s.state,
    ledger: s.ledger,
    goalAchievedTimes: s.goalAchievedTimes,
    late: s.late,
    ...(s.verdict ? { verdict: s.verdict } : {}),
    ...(s.reward ? { reward: s.reward } : {}),
    ...(s.schedule ? { schedule: s.schedule } : {}),
    ...(s.scheduleChanges ? { scheduleChanges: s.scheduleChanges } : {}),
  };
}

/** Takes the rules' new state into the carried state (a verdict and a reward, once set, stay). */
export function adopt(s: CarriedState, e: EnrollmentState): void {
  s.state = e.state;
  s.ledger = e.ledger;
  s.goalAchievedTimes = e.goalAchievedTimes;
  s.late = e.late;
  if (e.verdict) s.verdict = e.verdict;
  if (e.reward) s.reward = e.reward;
  if (e.schedule) s.schedule = e.schedule;
  if (e.scheduleChanges) s.scheduleChanges = e.scheduleChanges;
}

export function resultOf(s: CarriedState): ActivationResult {
  return { state: s.state, ...(s.verdict ? { verdict: s.verdict } : {}), ...(s.reward ? { reward: s.reward } : {}) };
}

/**
 * A record's version on the safe-seams path: the run, the history length of the workflow task that made the record, and
 * the record's place in that task. Every retried workflow task starts later in the history than its failed attempt, so
 * its records are newer than anything the attempt wrote; a new run is newer than its predecessor. Fits the 15 digits a
 * view version may have (Last-Event-ID): runs below 4,096, histories below 65,536 events (Temporal stops at 51,200).
 */
export function recordVersion(runIndex: number, historyLength: number, recordInTask: number): number {
  const RUN = 2 ** 37;
  const TASK = 2 ** 21;
  return Math.min(runIndex, 4_095) * RUN + Math.min(historyLength, 65_535) * TASK + Math.min(recordInTask, TASK - 1);
}

/** Continue-as-new when the server suggests it, or once the history passes the input's own limit. */
export function continueAsNewDue(
  info: { continueAsNewSuggested: boolean; historyLength: number },
  historyEventLimit: number | undefined,
): boolean {
  return info.continueAsNewSuggested || (historyEventLimit !== undefined && info.historyLength > historyEventLimit);
}
