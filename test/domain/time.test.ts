/**
 * What the product accepts as a time (src/domain/time.ts), everywhere: the API, the settlement file, the workflow's
 * guard. Before it, year 0000 got in and broke PostgreSQL (issue 9, point 4).
 */
import fc from 'fast-check';
import { canonicalTime, EARLIEST_MS, isAcceptableTime, LATEST_MS, parseTime } from '../../src/domain/time';

const rejection = (text: unknown): string => {
  const parsed = parseTime(text);
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(text)} to be refused`);
  return parsed.reason;
};

describe('an acceptable time', () => {
  it.each([
    ['year 0000, which PostgreSQL has not', '0000-01-01T00:00:00Z', /outside the accepted range/],
    ['30 February', '2026-02-30T00:00:00Z', /not a real date \(2026-02-30\)/],
    ['29 February of a year that is not a leap year', '2100-02-29T00:00:00Z', /not a real date/],
    ['month 13', '2026-13-01T00:00:00Z', /not a real date/],
    ['day 0', '2026-01-00T00:00:00Z', /not a real date/],
    ['24:00', '2026-11-22T24:00:00Z', /not a real time of day/],
    ['minute 60', '2026-11-22T23:60:00Z', /not a real time of day/],
    ['a leap second', '2016-12-31T23:59:60Z', /not a real time of day/],
    ['an offset of 24 hours', '2026-11-22T09:30:00+24:00', /not a real UTC offset/],
    ['an offset minute of 60', '2026-11-22T09:30:00+10:60', /not a real UTC offset/],
    ['one minute before 1970 (an offset east of UTC)', '1970-01-01T00:00:00+00:01', /outside the accepted range/],
    ['one millisecond before 1970', '1969-12-31T23:59:59.999Z', /outside the accepted range/],
    ['one minute past 9999 (an offset west of UTC)', '9999-12-31T23:59:59.999-00:01', /outside the accepted range/],
    ['an extended year', '+010000-01-01T00:00:00Z', /is not an ISO-8601 time with an offset/],
    ['a negative year', '-000001-01-01T00:00:00Z', /is not an ISO-8601 time/],
    ['no offset', '2026-11-22T09:30:00', /is not an ISO-8601 time/],
    ['a date alone', '2026-11-22', /is not an ISO-8601 time/],
    ['a space instead of T', '2026-11-22 09:30:00Z', /is not an ISO-8601 time/],
    ['an empty string', '', /is not an ISO-8601 time/],
  ])('refuses %s (%s)', (_what, text, reason) => {
    expect(rejection(text)).toMatch(reason);
  });

  it.each([undefined, null, 0, 1_700_000_000_000, {}, ['2026-11-22T09:30:00Z']])(
    'refuses %p, which is not text',
    (value) => {
      expect(rejection(value)).toMatch(/is not an ISO-8601 time/);
    },
  );

  it('takes the range bounds themselves', () => {
    expect(parseTime('1970-01-01T00:00:00Z')).toEqual({ ok: true, ms: 0 });
    expect(parseTime('1970-01-01T01:00:00+01:00')).toEqual({ ok: true, ms: 0 });
    expect(parseTime('9999-12-31T23:59:59.999Z')).toEqual({ ok: true, ms: Date.UTC(9999, 11, 31, 23, 59, 59, 999) });
    expect([EARLIEST_MS, LATEST_MS]).toEqual([0, Date.UTC(9999, 11, 31, 23, 59, 59, 999)]);
  });

  it('accepts lowercase t and z, offsets with or without a colon, no seconds, up to nine fraction digits', () => {
    const ms = Date.UTC(2026, 10, 22, 9, 30);
    for (const text of [
      '2026-11-22T09:30:00Z',
      '2026-11-22t09:30:00z',
      '2026-11-22T09:30Z',
      '2026-11-22T20:30:00+11:00',
      '2026-11-22T20:30:00+1100',
      '2026-11-22T09:30:00-00:00',
      '2026-11-22T09:30:00.000000000Z',
    ]) {
      expect([text, parseTime(text)]).toEqual([text, { ok: true, ms }]);
    }
    expect(parseTime('2026-11-22T09:30:00.123456789Z')).toEqual({ ok: true, ms: ms + 123 });
    expect(parseTime('2024-02-29T00:00:00Z').ok).toBe(true);
    expect(parseTime('2000-02-29T00:00:00Z').ok).toBe(true);
  });

  it('has one canonical text: UTC with milliseconds', () => {
    expect(canonicalTime('2026-11-22t20:30+11:00')).toBe('2026-11-22T09:30:00.000Z');
    expect(() => canonicalTime('0000-01-01T00:00:00Z')).toThrow(RangeError);
  });

  /**
   * The workflow and the window rule read times with Date.parse (src/domain/evaluation.ts): every text parseTime
   * takes must mean the same instant there, and its canonical text must be taken again.
   */
  it('means to Date.parse what it means to parseTime, for any text of the accepted shape', () => {
    const two = (n: number) => String(n).padStart(2, '0');
    const text = fc
      .record({
        year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1969, 1970, 9999)),
        month: fc.integer({ min: 0, max: 13 }),
        day: fc.integer({ min: 0, max: 32 }),
        hour: fc.integer({ min: 0, max: 24 }),
        minute: fc.integer({ min: 0, max: 60 }),
        second: fc.option(fc.integer({ min: 0, max: 60 })),
        fraction: fc.option(fc.stringMatching(/^\d{1,9}$/)),
        t: fc.constantFrom('T', 't'),
        offset: fc.oneof(
          fc.constantFrom('Z', 'z'),
          fc
            .record({
              sign: fc.constantFrom('+', '-'),
              h: fc.integer({ min: 0, max: 24 }),
              m: fc.integer({ min: 0, max: 60 }),
              colon: fc.boolean(),
            })
            .map(({ sign, h, m, colon }) => `${sign}${two(h)}${colon ? ':' : ''}${two(m)}`),
        ),
      })
      .map(
        (p) =>
          `${String(p.year).padStart(4, '0')}-${two(p.month)}-${two(p.day)}${p.t}${two(p.hour)}:${two(p.minute)}` +
          `${p.second === null ? '' : `:${two(p.second)}${p.fraction === null ? '' : `.${p.fraction}`}`}${p.offset}`,
      );
    fc.assert(
      fc.property(text, (t) => {
        const parsed = parseTime(t);
        if (!parsed.ok) return;
        expect(parsed.ms).toBeGreaterThanOrEqual(EARLIEST_MS);
        expect(parsed.ms).toBeLessThanOrEqual(LATEST_MS);
        expect(Date.parse(t)).toBe(parsed.ms);
        expect(isAcceptableTime(canonicalTime(t))).toBe(true);
        expect(Date.parse(canonicalTime(t))).toBe(parsed.ms);
      }),
      { numRuns: 2_000 },
    );
  });
});
