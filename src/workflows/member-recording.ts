/**
 * The member workflow's write-behind: what the rules asked to write down (audit lines, notifications, review items,
 * the member view and the ledger) goes to PostgreSQL by a background recorder, which batches whatever accumulated
 * while the previous write was in flight, so a burst of signals costs one record, not one each; the search attributes
 * by a publisher, once per workflow task; notifications of runs older than the lean recording by a notifier.
 */
import {
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { MemberActivities as Activities } from './activity-contracts';
import { currentDetails, recordSummary, webUiText } from '../domain/describe';
import type { AuditLine, EnrollmentTerms, NotificationLine } from '../domain/enrollment';
import type { ExperimentGroup } from '../domain/holdout';
import { totals } from '../domain/evaluation';
import { hasVerdict, type NotificationType } from '../domain/model';
import type { AuditEntry } from '../domain/records';
import type { CampaignTerms, EnrollmentSchedule } from '../domain/terms';
import type { MemberView } from '../domain/view';
import { enrolledAudit, enrolledNotifications } from './enrolled';
import { recordVersion, type CarriedState } from './member-state';
import { ActivationStateKey, CountedCentsKey, EvaluatesAtKey } from './search-attributes';

/**
 * A record's activity, its summary naming what it carries (the Web UI shows it in the timeline, right after the
 * signal or update that brought the news, which can carry no summary of its own). A summary is no command's
 * content: replay does not compare it, so runs recorded with the fixed summaries of before replay unchanged.
 */
const recordProgressWith = (durable: boolean, summary: string, safe: boolean) => {
  if (safe) {
    return durable
      ? proxyActivities<Activities>({ summary, ...SAFE_DURABLE_RECORD }).recordProgress
      : proxyLocalActivities<Activities>({ summary, ...SAFE_FAST_RECORD }).recordProgress;
  }
  // The audit trail must not lose a line: retry for as long as PostgreSQL is away (a local activity, after a minute
  // of local retries, backs off on timers).
  const options = {
    summary,
    startToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '1m' },
  } as const;
  return durable
    ? proxyActivities<Activities>(options).recordProgress
    : proxyLocalActivities<Activities>(options).recordProgress;
};

/**
 * The fast record on the safe-seams path: a healthy write takes milliseconds, so a few seconds in all is a database in
 * trouble. It then fails (well inside the workflow task's timeout, so the task never heartbeats or times out for it) and
 * the run records durably instead: a worker never holds its workflow task slots waiting for PostgreSQL.
 */
export const SAFE_FAST_RECORD = {
  startToCloseTimeout: '2s',
  scheduleToCloseTimeout: '4s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s', maximumAttempts: 3 },
} as const;

/**
 * The durable record: retried by the server for as long as PostgreSQL is away (the audit trail must not lose a line),
 * at most 15 s apart, so a database that is back is written to within seconds.
 */
export const SAFE_DURABLE_RECORD = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s' },
} as const;

const { notify } = proxyActivities<Activities>({
  summary: webUiText('Notify the member (recorded, then pushed; best effort)'),
  startToCloseTimeout: '15s',
  // Best effort: a failing push channel never blocks or fails an enrollment.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

/** At most this many audit lines wait for a durable record (bounds the carried state and the audit trail's lag). */
const AUDIT_BATCH = 50;

export interface RecordingOptions {
  /** The run's state; the recording reads and drains its outbox, queues and dirty marks. */
  s: CarriedState;
  workflowId: string;
  memberId: string;
  campaign: CampaignTerms;
  /** The member's group (absent: TREATMENT); a holdout member's run sends no notification. */
  group?: ExperimentGroup;
  /** The calendar the run was enrolled with (its ENROLLED line), and the one the rules apply now (moved deadlines). */
  schedule: EnrollmentSchedule;
  current: () => EnrollmentSchedule;
  startedAt: string;
  /** Whether the run records the lean way (patch lean-recording, decided once at its start). */
  lean: boolean;
  /** Whether the run is on the safe-seams path (patch safe-seams, decided once at its start; implies lean). */
  safe: boolean;
  /** Whether search-attribute upserts are coalesced (asked at the first publish: patch coalesce-search-attribute-upserts). */
  coalesced: () => boolean;
  view: () => MemberView;
}

export interface Recording {
  /** Numbers and dates an audit line, keeps it (and the review item it opens) for the next record. */
  audit(line: AuditLine): void;
  /** Queues a notification, once per id ever. */
  notify(n: NotificationLine): void;
  /** What a message brought, in words, for the next record's summary (describe.ts). */
  note(text: string): void;
  /** The state or the count may have changed: refresh the search attributes and the details the Web UI shows. */
  publish(): void;
  /** Starts the background coroutines (after the handlers are set, so that the order of commands stays as it was). */
  start(): void;
  /** Nothing in flight and nothing left to write. */
  idle(): boolean;
  /** Nothing in flight (what is queued may travel with a continue-as-new). */
  quiet(): boolean;
  /** Writes nothing more (a continue-as-new carries the rest). */
  stop(): void;
  /** The lines a bulk operation writes for its change (see `handOver` below), or none. */
  handOver(operationId: string): AuditEntry[];
}

export function createRecording(o: RecordingOptions): Recording {
  const { s, workflowId, memberId, campaign, group, schedule, current, startedAt, lean, safe, coalesced, view } = o;
  const terms: EnrollmentTerms = { campaign, memberId, schedule, ...(group ? { group } : {}) };
  const nowIso = (): string => new Date().toISOString();

  const audit = (
    type: AuditEntry['type'],
    source: AuditEntry['source'],
    payload: Record<string, unknown>,
    review?: AuditLine['review'],
  ): void => {
    s.seq += 1;
    const key = `seq:${s.seq}`;
    s.outbox.push({ key, type, source, occurredAt: nowIso(), payload });
    if (review) (s.reviews ??= []).push({ ...review, causeKey: key });
    s.updatedAt = nowIso();
    s.viewDirty = true;
  };

  /** Set when the search attributes may be stale; the publisher (below) upserts them once the task's work is done. */
  let publishPending = false;

  /** Search attributes for operators' queries, and the current details the Web UI shows, in words. */
  const publishSearchAttributes = (): void => {
    const t = totals(s.ledger, current());
    if (coalesced()) {
      publishPending = true;
    } else {
      // Runs recorded before the patch upserted here, every time.
      upsertSearchAttributes([
        { key: ActivationStateKey, value: s.state },
        { key: CountedCentsKey, value: t.countedCents },
      ]);
    }
    // Not a command (no history event): safe to set as often as the state changes.
    setCurrentDetails(currentDetails(s.state, t, campaign.targetCents, current(), s.verdict, group));
  };

  const queueNotification = (type: NotificationType, suffix: string, data: Record<string, unknown>): void => {
    const id = `${workflowId}:${suffix}`;
    if (s.notified.includes(id)) return;
    s.notified.push(id);
    s.notifyQueue.push({ id, type, workflowId, memberId, campaignId: campaign.campaignId, occurredAt: nowIso(), data });
  };

  /** What the messages since the last record brought (not carried: a replay or a new run hears them again). */
  const notes: string[] = [];

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
   * verdict, an operator's change, or AUDIT_BATCH of them. They are all written before the run ends.
   */
  /**
   * An operator's change (a moved deadline) is in the audit trail at once, not with the next record: written by this
   * run, or by the bulk operation it was handed over to (see `handOver`).
   */
  const byOperator = (a: AuditEntry): boolean => a.source === 'OPERATOR' && !(s.handedOver ?? []).includes(a.key);
  const durableRecordDue = (): boolean =>
    s.notifyQueue.length > 0 ||
    s.outbox.length >= AUDIT_BATCH ||
    (s.outbox.length > 0 && (hasVerdict(s.state) || s.outbox.some(byOperator)));

  /**
   * The unwritten lines through the operation's SCHEDULE_CHANGED line, for the operation to write: they are the trail's
   * next lines in order, whoever writes them first (a line's key is unique per enrollment; the other write adds
   * nothing). The trail's first line is there: the operation selected the member by its enrollment row, which is
   * written with the ENROLLED line (by the API, or by this run's first record), so an unconfirmed row is no reason
   * to wait. None when the line is written already, or when a line opens a review item (written with its line): then
   * this run writes them at once as ever.
   */
  const handOver = (operationId: string): AuditEntry[] => {
    const at = s.outbox.findIndex(
      (a) => a.type === 'SCHEDULE_CHANGED' && (a.payload as { operationId?: unknown }).operationId === operationId,
    );
    if (at < 0 || !lean) return [];
    const lines = s.outbox.slice(0, at + 1);
    const keys = new Set(lines.map((a) => a.key));
    if ((s.reviews ?? []).some((r) => keys.has(r.causeKey))) return [];
    const key = lines[at].key;
    if (!(s.handedOver ??= []).includes(key)) s.handedOver.push(key);
    return lines;
  };

  // History events since the last record of this run: with `heard`, the cost of news in events.
  let historyAtLastRecord = 0;
  /** The history length of the task of the latest record, and how many records that task has made (safe seams). */
  let recordTask = { historyLength: -1, records: 0 };
  const versionNow = (historyLength: number): number => {
    if (!safe) return s.seq;
    if (recordTask.historyLength !== historyLength) recordTask = { historyLength, records: 0 };
    recordTask.records += 1;
    return recordVersion(s.runIndex ?? 0, historyLength, recordTask.records);
  };
  /** A fast record failed (the database is slow or away): record durably until a durable record has landed. */
  let fastFailed = false;
  const recorder = async (): Promise<void> => {
    for (;;) {
      await condition(
        () => !stopping && (lean ? s.viewDirty || durableRecordDue() : s.outbox.length > 0 || s.viewDirty),
      );
      recording = true;
      const durable = !lean || durableRecordDue() || fastFailed;
      const audited = durable ? s.outbox.length : 0;
      const notified = lean && durable ? s.notifyQueue.length : 0;
      const changed = s.changed.splice(0);
      const heard = (s.heard ??= []).splice(0);
      const summary = recordSummary(
        notes.splice(0),
        s.state,
        totals(s.ledger, current()).countedCents,
        campaign.targetCents,
      );
      const auditedKeys = new Set(s.outbox.slice(0, audited).map((a) => a.key));
      const reviewed = (s.reviews ?? []).filter((r) => auditedKeys.has(r.causeKey));
      const historyLength = workflowInfo().historyLength;
      // A durable record carries the whole ledger (safe seams): it is never speculative, so it puts right whatever a
      // speculative record left in the stored one.
      const wholeLedger = safe && durable;
      s.viewDirty = false;
      try {
        await recordProgressWith(
          durable,
          summary,
          safe,
        )({
          workflowId,
          campaignId: campaign.campaignId,
          memberId,
          rewardPoints: campaign.rewardPoints,
          version: versionNow(historyLength),
          audit: s.outbox.slice(0, audited),
          entries: wholeLedger ? Object.values(s.ledger) : changed.map((id) => s.ledger[id]),
          ...(wholeLedger ? { ledgerComplete: true } : {}),
          view: view(),
          ...(notified > 0 ? { notifications: s.notifyQueue.slice(0, notified) } : {}),
          // Always, none included: a record without `reviews` is read as older code's, whose audit payloads decide.
          reviews: reviewed,
          measures: { heard, historyEvents: historyLength - historyAtLastRecord },
          ...(s.rowUnconfirmed
            ? {
                ifNew: {
                  audit: [enrolledAudit(terms, startedAt)],
                  notifications: enrolledNotifications(workflowId, terms, startedAt),
                },
              }
            : {}),
        });
        s.outbox.splice(0, audited);
        if (s.handedOver) s.handedOver = s.handedOver.filter((key) => !auditedKeys.has(key));
        if (reviewed.length > 0) s.reviews = s.reviews!.filter((r) => !auditedKeys.has(r.causeKey));
        s.notifyQueue.splice(0, notified);
        s.rowUnconfirmed = undefined;
        historyAtLastRecord = historyLength;
        if (durable) fastFailed = false;
      } catch (err) {
        // Keep what was not written for the next try.
        for (const id of changed) if (!s.changed.includes(id)) s.changed.push(id);
        s.heard.unshift(...heard);
        s.viewDirty = true;
        // A bounded fast record that gave up: the next record is durable (it retries for as long as it takes, outside
        // any workflow task). Anything else (the workflow is being cancelled) ends the recorder.
        if (!(safe && !durable && !isCancellation(err))) throw err;
        log.warn('fast record failed; recording durably', { error: String(err) });
        fastFailed = true;
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
      const countedCents = totals(s.ledger, current()).countedCents;
      const attributes = workflowInfo().typedSearchAttributes;
      // Moved deadlines: EvaluatesAt follows. Never moved: not looked at, so runs before change nothing.
      const evaluatesAt = current().evaluatesAt;
      const evaluatesAtMoved =
        s.scheduleChanges !== undefined && attributes.get(EvaluatesAtKey)?.getTime() !== Date.parse(evaluatesAt);
      if (attributes.get(ActivationStateKey) === s.state && !evaluatesAtMoved) {
        if (lean || attributes.get(CountedCentsKey) === countedCents) continue;
      }
      upsertSearchAttributes([
        { key: ActivationStateKey, value: s.state },
        { key: CountedCentsKey, value: countedCents },
        ...(evaluatesAtMoved ? [{ key: EvaluatesAtKey, value: new Date(evaluatesAt) }] : []),
      ]);
    }
  };

  const idle = (): boolean =>
    !recording &&
    notifying === 0 &&
    !publishPending &&
    s.outbox.length === 0 &&
    !s.viewDirty &&
    s.notifyQueue.length === 0;

  return {
    audit: (line) => audit(line.type, line.source, line.payload, line.review),
    notify: (n) => queueNotification(n.type, n.suffix, n.data),
    note: (text) => {
      notes.push(text);
    },
    publish: publishSearchAttributes,
    start() {
      void recorder();
      if (!lean) void notifier();
      void publisher();
    },
    idle,
    quiet: () => !recording && notifying === 0 && !publishPending,
    stop() {
      stopping = true;
    },
    handOver,
  };
}
