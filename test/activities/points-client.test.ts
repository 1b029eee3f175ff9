/** The points API client's reading of `Retry-After` (RFC 9110: delay-seconds or an HTTP-date). */
import { parseRetryAfter } from '../../src/activities/points-client';

const NOW = Date.parse('2026-11-22T07:28:00Z');

describe('Retry-After', () => {
  it.each([
    ['4', 4_000],
    [' 4 ', 4_000],
    ['0', 0],
    ['120', 120_000],
  ])('reads delay-seconds %p as %d ms', (value, ms) => expect(parseRetryAfter(value, NOW)).toBe(ms));

  it('reads an HTTP-date as the time left until it', () => {
    expect(parseRetryAfter('Sun, 22 Nov 2026 07:28:04 GMT', NOW)).toBe(4_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 08:28:00 GMT', NOW)).toBe(3_600_000);
  });

  it('reads an HTTP-date in the past as no wait at all', () => {
    expect(parseRetryAfter('Sat, 21 Nov 2026 07:28:00 GMT', NOW)).toBe(0);
  });

  it.each([null, '', 'soon', '-1', '1.5', '4s', '2026-11-22T07:28:04Z', 'Sun, 32 Nov 2026 07:28:04 GMT'])(
    'ignores %p',
    (value) => expect(parseRetryAfter(value, NOW)).toBeUndefined(),
  );
});
