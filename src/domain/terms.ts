/** Campaign terms and the calendar of one enrollment. */

export interface CampaignTerms {
  campaignId: string;
  targetCents: number;
  rewardPoints: number;
  /** ISO-8601 duration, e.g. `P30D`. */
  window: string;
  /** ISO-8601 duration, e.g. `PT48H`. */
  grace: string;
  currency: 'AUD';
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

export function scheduleFor(terms: Pick<CampaignTerms, 'window' | 'grace'>, enrolledAt: string): EnrollmentSchedule {
  const t0 = Date.parse(enrolledAt);
  const windowEnds = t0 + parseDurationMs(terms.window);
  return {
    enrolledAt: new Date(t0).toISOString(),
    windowEndsAt: new Date(windowEnds).toISOString(),
    evaluatesAt: new Date(windowEnds + parseDurationMs(terms.grace)).toISOString(),
  };
}

export const sameTerms = (a: CampaignTerms, b: CampaignTerms): boolean =>
  a.campaignId === b.campaignId &&
  a.targetCents === b.targetCents &&
  a.rewardPoints === b.rewardPoints &&
  parseDurationMs(a.window) === parseDurationMs(b.window) &&
  parseDurationMs(a.grace) === parseDurationMs(b.grace) &&
  a.currency === b.currency;
