/** The wait before the next reward attempt when the points API said `Retry-After` (issue 9, point 7). */
import fc from 'fast-check';
import { rewardActivityOptions, rewardRetryDelayMs } from '../../src/domain/reward-policy';

const TEN_MINUTES = 600_000;
/** The retry policy's own wait after failed attempt `attempt`: 1 s, doubling, at most 10 min. */
const backoff = (attempt: number) => Math.min(1_000 * 2 ** (attempt - 1), TEN_MINUTES);

describe('the reward retry delay after a Retry-After', () => {
  it.each([
    [4_000, 1, 4_000],
    [4_000, 4, 8_000],
    [0, 1, 1_000],
    [0, 3, 4_000],
    [1_000, 1, 1_000],
    [86_400_000, 1, TEN_MINUTES],
    [0, 100, TEN_MINUTES],
  ])('waits after Retry-After %d ms on attempt %d: %d ms', (retryAfterMs, attempt, ms) =>
    expect(rewardRetryDelayMs(retryAfterMs, attempt)).toBe(ms),
  );

  it('is never below Retry-After nor the backoff for the attempt, and never above 10 minutes', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 * 86_400_000 }), fc.integer({ min: 1, max: 10_000 }), (retryAfterMs, attempt) => {
        const ms = rewardRetryDelayMs(retryAfterMs, attempt);
        expect(ms).toBeGreaterThanOrEqual(Math.min(retryAfterMs, TEN_MINUTES));
        expect(ms).toBeGreaterThanOrEqual(backoff(attempt));
        expect(ms).toBeLessThanOrEqual(TEN_MINUTES);
        expect(Number.isInteger(ms)).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('uses the bounds of the retry policy itself', () => {
    expect(rewardActivityOptions('s', 86_400_000).retry).toMatchObject({
      initialInterval: 1_000,
      backoffCoefficient: 2,
      maximumInterval: TEN_MINUTES,
    });
  });
});
