/**
 * What the product accepts as a time, everywhere: the API's bodies, the settlement file's columns and the member
 * workflow's guard. One definition, so that a time one edge takes is a time every other layer (PostgreSQL's
 * timestamptz, JavaScript's Date, ISO-8601 text in the read model) holds exactly.
 *
 * A time is ISO-8601 / RFC 3339 text with an offset (`Z` or `±hh:mm`), seconds and fractions optional, and a real
 * calendar date (no 30 February, no 24:00, no leap second). Its instant lies in [EARLIEST_TIME, LATEST_TIME]:
 * PostgreSQL has no year 0 and JavaScript writes years past 9999 as `+010000`, which PostgreSQL cannot read back, so
 * the range is the years 1970 to 9999 in UTC.
 */

export const EARLIEST_TIME = '1970-01-01T00:00:00.000Z';
export const LATEST_TIME = '9999-12-31T23:59:59.999Z';
export const EARLIEST_MS = Date.parse(EARLIEST_TIME);
export const LATEST_MS = Date.parse(LATEST_TIME);

/** The shape of an acceptable time; the calendar and the range are checked after it. */
export const TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

/**
 * The same shape for the OpenAPI document, with the years 1970-9999 spelt out so that a client or a fuzzer generates
 * times in range (an offset can still move an instant across the edge of the range; the API says so then).
 */
export const TIME_DOCUMENT_PATTERN = TIME_PATTERN.source.replace('^(\\d{4})', '^(19[7-9]\\d|[2-9]\\d{3})');

export const TIME_RULE =
  `an ISO-8601 time with an offset (e.g. 2026-11-22T09:30:00Z or 2026-11-22T20:30:00+11:00) ` +
  `between ${EARLIEST_TIME} and ${LATEST_TIME}`;

export type ParsedTime = { ok: true; ms: number } | { ok: false; reason: string };

const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** Parses `text` as an acceptable time; never throws. A `reason` reads after the field's name ("occurredAt is …"). */
export function parseTime(text: unknown): ParsedTime {
  const m = typeof text === 'string' ? TIME_PATTERN.exec(text) : null;
  if (!m) return { ok: false, reason: `is not ${TIME_RULE}` };
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number);
  const fraction = m[7] ?? '';
  const offsetMinutes = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) {
    return { ok: false, reason: `is not a real date (${m[1]}-${m[2]}-${m[3]})` };
  }
  if (hour > 23 || minute > 59 || second > 59) return { ok: false, reason: `is not a real time of day` };
  if (Number(m[10]) > 23 || Number(m[11]) > 59) return { ok: false, reason: `is not a real UTC offset` };
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const local = new Date(
    Date.UTC(2000, month - 1, day, hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0'))),
  );
  local.setUTCFullYear(year);
  const ms = local.getTime() - offsetMinutes * 60_000;
  if (!(ms >= EARLIEST_MS && ms <= LATEST_MS)) {
    return { ok: false, reason: `is outside the accepted range ${EARLIEST_TIME} to ${LATEST_TIME}` };
  }
  return { ok: true, ms };
}

/** The instant of an acceptable time, or undefined. */
export const timeMs = (text: unknown): number | undefined => {
  const parsed = parseTime(text);
  return parsed.ok ? parsed.ms : undefined;
};

export const isAcceptableTime = (text: unknown): text is string => parseTime(text).ok;

/** True when `ms` is an instant the product can store (for computed times such as an enrollment's deadlines). */
export const isStorableMs = (ms: number): boolean => Number.isFinite(ms) && ms >= EARLIEST_MS && ms <= LATEST_MS;

/** The canonical text of an acceptable time (UTC, milliseconds: what PostgreSQL and `toISOString` agree on). */
export function canonicalTime(text: string): string {
  const parsed = parseTime(text);
  if (!parsed.ok) throw new RangeError(`${JSON.stringify(text)} ${parsed.reason}`);
  return new Date(parsed.ms).toISOString();
}
