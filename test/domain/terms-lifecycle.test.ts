import { TRANSITIONS, assertTransition, canTransition } from '../../src/domain/lifecycle';
import { ACTIVATION_STATES, TERMINAL_STATES, hasVerdict } from '../../src/domain/model';
import { graceProblem, parseDurationMs, sameTerms, scheduleFor, windowProblem } from '../../src/domain/terms';
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

describe('the bounds of a campaign window and grace period', () => {
  it.each([
    ['P9999999W', /at most P366D/],
    ['P367D', /at most P366D/],
    ['PT0S', /longer than zero/],
    ['P0D', /longer than zero/],
    [`P${'9'.repeat(400)}D`, /at most P366D/],
    ['P1M', /ISO-8601 duration/],
  ])('refuses the window %s', (text, problem) => expect(windowProblem(text)).toMatch(problem));

  it.each(['P366D', 'P52W', 'P30D', 'PT1S', 'PT0.001S'])('takes the window %s', (text) =>
    expect(windowProblem(text)).toBeUndefined(),
  );

  it.each([
    ['P32D', /at most P31D/],
    ['PT745H', /at most P31D/],
    ['P5W', /at most P31D/],
  ])('refuses the grace period %s', (text, problem) => expect(graceProblem(text)).toMatch(problem));

  it.each(['PT0S', 'P31D', 'PT48H'])('takes the grace period %s', (text) => expect(graceProblem(text)).toBeUndefined());
});

describe('the schedule of an enrollment', () => {
  it('refuses an enrollment whose deadlines PostgreSQL could not store', () => {
    expect(() => scheduleFor({ window: 'P30D', grace: 'PT48H' }, '0000-01-01T00:00:00Z')).toThrow(RangeError);
    expect(() => scheduleFor({ window: 'P366D', grace: 'P31D' }, '9999-06-01T00:00:00Z')).toThrow(RangeError);
    expect(scheduleFor({ window: 'P30D', grace: 'PT0S' }, '1970-01-01T00:00:00Z').enrolledAt).toBe(
      '1970-01-01T00:00:00.000Z',
    );
  });

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
    // A holdout share is a term: 0 and absent are the same, 10 is not.
    const terms = { ...base, window: 'P30D', grace: 'PT48H' };
    expect(sameTerms(terms, { ...terms, holdoutPercent: 0 })).toBe(true);
    expect(sameTerms(terms, { ...terms, holdoutPercent: 10 })).toBe(false);
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
      'HOLDOUT_QUALIFIED',
      'BUDGET_EXHAUSTED',
    ]);
  });

  it('ends an eligible member who finds no slot in BUDGET_EXHAUSTED, from PENDING_REWARD only', () => {
    expect(canTransition('PENDING_REWARD', 'BUDGET_EXHAUSTED')).toBe(true);
    expect(canTransition('CONFIRMING', 'BUDGET_EXHAUSTED')).toBe(false);
    expect(canTransition('BUDGET_EXHAUSTED', 'COMPLETED')).toBe(false);
  });

  it('ends a holdout member who would have qualified in HOLDOUT_QUALIFIED, from CONFIRMING only', () => {
    expect(canTransition('CONFIRMING', 'HOLDOUT_QUALIFIED')).toBe(true);
    expect(canTransition('GOAL_ACHIEVED', 'HOLDOUT_QUALIFIED')).toBe(false);
    expect(canTransition('HOLDOUT_QUALIFIED', 'COMPLETED')).toBe(false);
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
    [{ occurredAt: '0000-01-01T00:00:00Z' }, 'occurredAt'],
    [{ occurredAt: '2026-02-30T00:00:00Z' }, 'occurredAt'],
    [{ receivedAt: '+010000-01-01T00:00:00Z' }, 'receivedAt'],
    [{ amountCents: 100_000_001 }, 'at most 100000000'],
    [{ amountCents: Number.MAX_SAFE_INTEGER }, 'at most 100000000'],
    [{ source: 'SETTLEMENT' as const, status: 'SETTLED' as const, settledAt: '2026-10-01T00:00:00Z' }, 'before'],
  ])('rejects %p', (over, message) => expect(validateTransactionEvent(load(100, over), 'M1')).toContain(message));
});
