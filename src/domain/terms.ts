/** Campaign terms and the calendar of one enrollment. */
import { EARLIEST_TIME, isStorableMs, LATEST_TIME } from './time';

export interface CampaignTerms {
  campaignId: string;
  targetCents: number;
  rewardPoints: number;
  /** ISO-8601 duration, e.g. `P30D`. */
  window: string;
  /** ISO-8601 duration, e.g. `PT48H`. */
  grace: string;
  currency: 'AUD';
  /**
   * The share of enrollments (whole percent, 0 to 50) kept as a holdout: tracked, never rewarded, never told
   * (domain/holdout.ts). Absent: 0, every member treated.
   */
  holdoutPercent?: number;
  /**
   * The most enrollments of the campaign ever credited (the budget). Each eligible enrollment takes a slot before its
   * reward is credited, first come first served; one that finds none left ends BUDGET_EXHAUSTED. Absent: no limit.
   */
  maxRewards?: number;
}

export interface EnrollmentSchedule {
  enrolledAt: string;
  windowEndsAt: string;
  evaluatesAt: string;
}

const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

/**
 * Parses the fixed-length subset of ISO-8601 durations (weeks, days, hours, minutes, seconds) into
 * milliseconds. Years and months are refused: their length depends on the calendar, and a campaign
 * window must mean the same thing for every member. A day is 24 hours.
 */
export function parseDurationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) {
    throw new RangeError(
      `"${text}" is not an ISO-8601 duration of weeks, days, hours, minutes or seconds (e.g. P30D, PT48H)`,
    );
  }
  const [, w, d, h, min, s] = m;
  const ms =
    Number(w ?? 0) * 604_800_000 +
    Number(d ?? 0) * 86_400_000 +
    Number(h ?? 0) * 3_600_000 +
    Number(min ?? 0) * 60_000 +
    Math.round(Number(s ?? 0) * 1000);
  return ms;
}

export function isValidDuration(text: string): boolean {
  try {
    parseDurationMs(text);
    return true;
  } catch {
    return false;
  }
}

/** The longest window and grace period a campaign may have: a deadline must stay a date people plan for. */
export const MAX_WINDOW = 'P366D';
export const MAX_GRACE = 'P31D';

/**
 * Why `text` cannot be a campaign's window (positive, at most MAX_WINDOW), or undefined. Problems read after the
 * setting's name: "window must be at most P366D".
 */
export const windowProblem = (text: string): string | undefined => durationProblem(text, 1, MAX_WINDOW);

/** Why `text` cannot be a campaign's grace period (zero to MAX_GRACE), or undefined. */
export const graceProblem = (text: string): string | undefined => durationProblem(text, 0, MAX_GRACE);

/** Why `text` cannot be a duration of at least `minMs` and at most `max`, or undefined; read after the field's name. */
export function durationProblem(text: string, minMs: number, max: string): string | undefined {
  if (!isValidDuration(text)) {
    return 'must be an ISO-8601 duration of weeks, days, hours, minutes or seconds (e.g. P30D, PT48H)';
  }
  const ms = parseDurationMs(text);
  if (ms < minMs) return 'must be longer than zero';
  if (ms > parseDurationMs(max)) return `must be at most ${max}`;
  return undefined;
}

/** The deadlines of an enrollment; throws a RangeError when one would fall outside the times the product stores. */
export function scheduleFor(terms: Pick<CampaignTerms, 'window' | 'grace'>, enrolledAt: string): EnrollmentSchedule {
  const t0 = Date.parse(enrolledAt);
  const windowEnds = t0 + parseDurationMs(terms.window);
  const evaluates = windowEnds + parseDurationMs(terms.grace);
  if (!isStorableMs(t0) || !isStorableMs(evaluates)) {
    throw new RangeError(`an enrollment at ${enrolledAt} would have deadlines outside ${EARLIEST_TIME}–${LATEST_TIME}`);
  }
  return {
    enrolledAt: new Date(t0).toISOString(),
    windowEndsAt: new Date(windowEnds).toISOString(),
    evaluatesAt: new Date(evaluates).toISOString(),
  };
}

export const sameTerms = (a: CampaignTerms, b: CampaignTerms): boolean =>
  a.campaignId === b.campaignId &&
  a.targetCents === b.targetCents &&
  a.rewardPoints === b.rewardPoints &&
  parseDurationMs(a.window) === parseDurationMs(b.window) &&
  parseDurationMs(a.grace) === parseDurationMs(b.grace) &&
  a.currency === b.currency &&
  (a.holdoutPercent ?? 0) === (b.holdoutPercent ?? 0) &&
  (a.maxRewards ?? null) === (b.maxRewards ?? null);
