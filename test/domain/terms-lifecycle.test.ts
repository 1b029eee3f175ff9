import { TRANSITIONS, assertTransition, canTransition } from '../../src/domain/lifecycle';
import { ACTIVATION_STATES, TERMINAL_STATES, hasVerdict } from '../../src/domain/model';
import { parseDurationMs, sameTerms, scheduleFor } from '../../src/domain/terms';
import { validateTransactionEvent } from '../../src/domain/validation';
import { load } from './fixtures';

describe('durations', () => {
  it.each([
    ['P30D', 30 * 86_400_000],
    ['PT48H', 48 * 3_600_000],
    ['PT5S', 5_000],
    ['PT1.5S', 1_500],
    ['P1W', 7 * 86_400_000],
    ['P1DT2H3M4S', 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000],
    ['PT0S', 0],
  ])('%s is %d ms', (text, ms) => expect(parseDurationMs(text)).toBe(ms));

  it.each(['P1M', 'P1Y', '30D', 'P', 'PT', '', 'P-1D', 'PT1H ', 'p30d'])('refuses %p', (text) =>
    expect(() => parseDurationMs(text)).toThrow(RangeError),
  );
});

describe('the schedule of an enrollment', () => {
  it('ends the window after `window` and evaluates after `grace` more', () => {
    expect(scheduleFor({ window: 'P30D', grace: 'PT48H' }, '2026-11-01T10:00:00+10:00')).toEqual({
      enrolledAt: '2026-11-01T00:00:00.000Z',
      windowEndsAt: '2026-12-01T00:00:00.000Z',
      evaluatesAt: '2026-12-03T00:00:00.000Z',
    });
  });

  it('treats equal durations written differently as the same terms', () => {
    const base = { campaignId: 'c', targetCents: 1, rewardPoints: 1, currency: 'AUD' as const };
    expect(sameTerms({ ...base, window: 'P30D', grace: 'PT48H' }, { ...base, window: 'P30D', grace: 'P2D' })).toBe(
      true,
    );
    expect(sameTerms({ ...base, window: 'P30D', grace: 'PT48H' }, { ...base, window: 'P31D', grace: 'P2D' })).toBe(
      false,
    );
  });
});

describe('the lifecycle', () => {
  it('has no way out of a terminal state', () => {
    for (const s of TERMINAL_STATES) expect(TRANSITIONS[s]).toEqual([]);
  });

  it('decides only through CONFIRMING, except a withdrawal or an opt-out', () => {
    expect(canTransition('GOAL_ACHIEVED', 'PENDING_REWARD')).toBe(false);
    expect(canTransition('CONFIRMING', 'PENDING_REWARD')).toBe(true);
    expect(canTransition('ACTIVE', 'DISQUALIFIED')).toBe(true);
    expect(canTransition('CONFIRMING', 'DISQUALIFIED')).toBe(true);
    expect(canTransition('PENDING_REWARD', 'CANCELLED')).toBe(false);
    expect(() => assertTransition('COMPLETED', 'ACTIVE')).toThrow('illegal transition COMPLETED → ACTIVE');
  });

  it('has a verdict from PENDING_REWARD on', () => {
    expect(ACTIVATION_STATES.filter(hasVerdict)).toEqual([
      'PENDING_REWARD',
      'COMPLETED',
      'DISQUALIFIED',
      'NOT_ELIGIBLE',
      'MANUAL_REVIEW',
      'CANCELLED',
    ]);
  });
});

describe('event validation in the workflow', () => {
  it('accepts a good event', () => expect(validateTransactionEvent(load(100), 'M1')).toBeUndefined());
  it.each([
    [{ memberId: 'M2' }, 'not this enrollment'],
    [{ amountCents: 0 }, 'positive integer'],
    [{ amountCents: 1.5 }, 'positive integer'],
    [{ currency: 'USD' as 'AUD' }, 'AUD'],
    [{ channel: 'ATM' as const }, 'not a LOAD channel'],
    [{ occurredAt: 'yesterday' }, 'occurredAt'],
    [{ source: 'SETTLEMENT' as const, status: 'SETTLED' as const, settledAt: '2026-10-01T00:00:00Z' }, 'before'],
  ])('rejects %p', (over, message) => expect(validateTransactionEvent(load(100, over), 'M1')).toContain(message));
});
