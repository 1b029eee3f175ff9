/**
 * Moving an open enrollment's deadlines (domain.md, "Moving deadlines"): later, never earlier; only before the
 * deadline being moved has passed; at most MAX_TOTAL_EXTENSION past the campaign's own calendar in all. The campaign's
 * terms never change: the change is per enrollment, audited with who, why, and the old and new times.
 */
import { hasVerdict, type ActivationState } from './model';
import { isWindowState } from './lifecycle';
import { durationProblem, parseDurationMs, type EnrollmentSchedule } from './terms';

/** An operator's request: extend the window (the grace period moves with it), the grace period, or both. */
export interface ScheduleChangeRequest {
  /** ISO-8601 duration added to `windowEndsAt`; `evaluatesAt` moves by the same, so the grace period keeps its length. */
  extendWindowBy?: string;
  /** ISO-8601 duration added to `evaluatesAt` (after any window extension). */
  extendGraceBy?: string;
  reason: string;
  /** Who asked (the caller's `X-Caller-Id`). */
  requestedBy?: string;
  /** The bulk operation that asked, if one did. */
  operationId?: string;
  /**
   * The request's own key (its Idempotency-Key, or the digest of what it asks): asked again, the change is answered,
   * not made twice; asked again with other content, refused (IDEMPOTENCY_KEY_REUSED).
   */
  requestId?: string;
}

/** One change as it is kept in the enrollment's snapshot and shown in the member view. */
export interface ScheduleChange {
  changedAt: string;
  requestedBy?: string;
  reason: string;
  operationId?: string;
  /** The key of the request that made it (ScheduleChangeRequest.requestId), if it had one. */
  requestId?: string;
  extendWindowBy?: string;
  extendGraceBy?: string;
  windowEndsAt: { from: string; to: string };
  evaluatesAt: { from: string; to: string };
}

/** How far an enrollment's `evaluatesAt` may be moved past the campaign's own calendar, all changes together. */
export const MAX_TOTAL_EXTENSION = 'P30D';
export const MAX_REASON_LENGTH = 500;

/** Why `text` cannot be one extension (positive, at most MAX_TOTAL_EXTENSION); read after the field's name. */
export const extensionProblem = (text: unknown): string | undefined =>
  durationProblem(typeof text === 'string' ? text : '', 1, MAX_TOTAL_EXTENSION);

/** Why the request cannot be a schedule change at all (a 400), or undefined. */
export function scheduleRequestProblem(req: Partial<ScheduleChangeRequest>): string | undefined {
  if (req.extendWindowBy === undefined && req.extendGraceBy === undefined) {
    return 'give extendWindowBy, extendGraceBy or both';
  }
  for (const name of ['extendWindowBy', 'extendGraceBy'] as const) {
    const text = req[name];
    const why = text === undefined ? undefined : extensionProblem(text);
    if (why) return `${name} ${why}`;
  }
  if (typeof req.reason !== 'string' || req.reason.trim() === '') return 'reason is required';
  if (req.reason.length > MAX_REASON_LENGTH) return `reason must be at most ${MAX_REASON_LENGTH} characters`;
  return undefined;
}

export type ScheduleRefusalCode = 'WINDOW_CLOSED' | 'ALREADY_DECIDED' | 'EXTENSION_LIMIT';

export interface ScheduleRefusal {
  code: ScheduleRefusalCode;
  message: string;
  state: ActivationState;
}

const addMs = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();

/** The deadlines after the change (the request is valid). */
export function movedSchedule(current: EnrollmentSchedule, req: ScheduleChangeRequest): EnrollmentSchedule {
  const w = req.extendWindowBy ? parseDurationMs(req.extendWindowBy) : 0;
  const g = req.extendGraceBy ? parseDurationMs(req.extendGraceBy) : 0;
  return {
    enrolledAt: current.enrolledAt,
    windowEndsAt: addMs(current.windowEndsAt, w),
    evaluatesAt: addMs(current.evaluatesAt, w + g),
  };
}

/**
 * Why this enrollment refuses the change now (a 409), or undefined: a verdict is final; the window moves only while
 * it is open, and the grace period only before `evaluatesAt`; and no enrollment is moved more than
 * MAX_TOTAL_EXTENSION past its campaign's calendar (`original`).
 */
export function scheduleChangeRefusal(
  state: ActivationState,
  original: EnrollmentSchedule,
  current: EnrollmentSchedule,
  req: ScheduleChangeRequest,
  now: string,
): ScheduleRefusal | undefined {
  const t = Date.parse(now);
  if (hasVerdict(state)) {
    return { code: 'ALREADY_DECIDED', state, message: `the enrollment already has a verdict (${state})` };
  }
  if (t >= Date.parse(current.evaluatesAt)) {
    return {
      code: 'ALREADY_DECIDED',
      state,
      message: `evaluatesAt (${current.evaluatesAt}) has passed: the verdict is due`,
    };
  }
  if (req.extendWindowBy !== undefined && (!isWindowState(state) || t >= Date.parse(current.windowEndsAt))) {
    return {
      code: 'WINDOW_CLOSED',
      state,
      message: `the window ended at ${current.windowEndsAt}; only the grace period (extendGraceBy) can still move`,
    };
  }
  const next = movedSchedule(current, req);
  const totalMs = Date.parse(next.evaluatesAt) - Date.parse(original.evaluatesAt);
  if (totalMs > parseDurationMs(MAX_TOTAL_EXTENSION)) {
    return {
      code: 'EXTENSION_LIMIT',
      state,
      message:
        `an enrollment's deadlines may move at most ${MAX_TOTAL_EXTENSION} past the campaign's calendar in all; ` +
        `this change would put evaluatesAt at ${next.evaluatesAt} (the campaign's is ${original.evaluatesAt})`,
    };
  }
  return undefined;
}

/**
 * The change this request already made, if it made one: a bulk operation changes a member once, and a request with a
 * key once per key.
 */
export const earlierChange = (
  changes: readonly ScheduleChange[] | undefined,
  req: Pick<ScheduleChangeRequest, 'operationId' | 'requestId'>,
): ScheduleChange | undefined =>
  (changes ?? []).find(
    (c) =>
      (req.operationId !== undefined && c.operationId === req.operationId) ||
      (req.requestId !== undefined && c.requestId === req.requestId),
  );

/** Whether this request (a bulk operation, or a request with the same key) already moved these deadlines. */
export const appliedBefore = (
  changes: readonly ScheduleChange[] | undefined,
  req: Pick<ScheduleChangeRequest, 'operationId' | 'requestId'>,
): boolean => earlierChange(changes, req) !== undefined;

/** Whether `change` is what `req` asks: the same extensions and reason (a repeat, not another request). */
export const asksFor = (change: ScheduleChange, req: ScheduleChangeRequest): boolean =>
  change.extendWindowBy === req.extendWindowBy &&
  change.extendGraceBy === req.extendGraceBy &&
  change.reason === req.reason;

/**
 * What the changeSchedule update's validator answers: the request's own problem, a refusal, a key used before for
 * another change (`reused`), or nothing (go ahead). A repeat (the same bulk operation, or the same key and content)
 * is answered, not refused: it changes nothing the second time.
 */
export function scheduleChangeProblem(
  e: { state: ActivationState; scheduleChanges?: readonly ScheduleChange[] },
  original: EnrollmentSchedule,
  current: EnrollmentSchedule,
  req: ScheduleChangeRequest,
  now: string,
): { invalid: string } | { reused: string } | ScheduleRefusal | undefined {
  const invalid = scheduleRequestProblem(req);
  if (invalid) return { invalid };
  const earlier = earlierChange(e.scheduleChanges, req);
  if (earlier && req.operationId === undefined && !asksFor(earlier, req)) {
    return {
      reused: `the key ${req.requestId} was used for another change of these deadlines (${earlier.changedAt}); send this one with a new key`,
    };
  }
  if (earlier) return undefined;
  return scheduleChangeRefusal(e.state, original, current, req, now);
}
