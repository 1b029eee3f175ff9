import fc from 'fast-check';
import {
  SUMMARY_MAX,
  aud,
  currentDetails,
  describeNews,
  describeOptOut,
  describeScheduleChange,
  enrollmentSummary,
  recordSummary,
} from '../../src/domain/describe';
import type { TransactionEvent } from '../../src/domain/model';
import { schedule } from './fixtures';

describe('the member in words (Web UI)', () => {
  const t = { countedCents: 30_000, instantCents: 20_000, settledCents: 10_000, pendingCents: 5_000 };

  it('formats cents as Australian dollars', () => {
    expect(aud(0)).toBe('AUD 0.00');
    expect(aud(123_456)).toBe('AUD 1234.56');
  });

  it('summarises the enrollment once', () => {
    expect(enrollmentSummary('M-1', 'cold-activation', 50_000, 2_000, schedule)).toBe(
      `Member M-1 in cold-activation: load AUD 500.00 by ${schedule.windowEndsAt}, no withdrawal → 2000 points after ${schedule.evaluatesAt}`,
    );
  });

  it('says where the member stands, and the verdict once there is one', () => {
    const active = currentDetails('ACTIVE', t, 50_000, schedule);
    expect(active).toContain('**ACTIVE** — loading, below the target');
    expect(active).toContain('counted AUD 300.00 of AUD 500.00 (AUD 200.00 to go)');
    expect(active).toContain(`window ends ${schedule.windowEndsAt}`);
    const done = currentDetails('NOT_ELIGIBLE', t, 50_000, schedule, {
      outcome: 'NOT_ELIGIBLE',
      decidedAt: schedule.evaluatesAt,
      countedCents: 30_000,
      targetCents: 50_000,
      reason: 'below the target',
    });
    expect(done).toContain(`verdict NOT_ELIGIBLE at ${schedule.evaluatesAt}: below the target`);
  });

  const load: TransactionEvent = {
    source: 'REALTIME',
    transactionId: 'TX-1',
    memberId: 'M-1',
    kind: 'LOAD',
    channel: 'DEBIT_CARD',
    amountCents: 60_000,
    currency: 'AUD',
    occurredAt: '2026-12-01T00:00:00.000Z',
    receivedAt: '2026-12-01T00:00:01.000Z',
  };

  it('names what a piece of news carried and what it did (the signal itself says only "transaction")', () => {
    expect(describeNews(load, 'APPLIED')).toBe('load AUD 600.00 by DEBIT_CARD (TX-1, real time): applied');
    expect(
      describeNews(
        { ...load, kind: 'WITHDRAWAL', channel: 'ATM', source: 'SETTLEMENT', status: 'SETTLED', transactionId: 'S-9' },
        'DUPLICATE',
      ),
    ).toBe('withdrawal AUD 600.00 by ATM (S-9, settlement SETTLED): a duplicate, changed nothing');
    expect(describeNews(load, 'LATE')).toContain('after the verdict');
  });

  it('describes any payload a signal may carry without failing, in one bounded line', () => {
    fc.assert(
      fc.property(
        fc.anything(),
        fc.constantFrom('APPLIED', 'DUPLICATE', 'CONFLICT', 'LATE' as const),
        (ev, outcome) => {
          const text = describeNews(ev as TransactionEvent, outcome);
          expect(text.length).toBeLessThanOrEqual(SUMMARY_MAX);
          expect(text).not.toContain('\n');
        },
      ),
    );
    expect(describeNews(null as unknown as TransactionEvent, 'CONFLICT')).toBe(
      'transaction (no amount) by undefined (undefined, real time): conflicts with the record heard first, rejected',
    );
  });

  it("names an operator's change: who, which operation, which deadlines from and to", () => {
    const change = {
      changedAt: '2026-12-02T00:00:00.000Z',
      requestedBy: 'ops-carol',
      reason: 'bank file late',
      operationId: 'op-1',
      extendGraceBy: 'P1D',
      windowEndsAt: { from: schedule.windowEndsAt, to: schedule.windowEndsAt },
      evaluatesAt: { from: schedule.evaluatesAt, to: '2027-02-01T00:00:00.000Z' },
    };
    expect(describeScheduleChange(change)).toBe(
      `deadlines moved by ops-carol (operation op-1): verdict ${schedule.evaluatesAt} → 2027-02-01T00:00:00.000Z`,
    );
    const moved = { ...change, windowEndsAt: { from: schedule.windowEndsAt, to: '2027-01-30T00:00:00.000Z' } };
    expect(describeScheduleChange(moved)).toContain(`window end ${schedule.windowEndsAt} → 2027-01-30T00:00:00.000Z`);
  });

  it('names an opt-out: who asked and why, when they said', () => {
    expect(describeOptOut({})).toBe('opt-out');
    expect(describeOptOut({ requestedBy: 'app-user' })).toBe('opt-out by app-user');
    expect(describeOptOut({ requestedBy: 'app-user', reason: 'moving abroad' })).toBe(
      'opt-out by app-user: moving abroad',
    );
    expect(describeOptOut({ reason: 'no longer interested' })).toBe('opt-out: no longer interested');
  });

  it("a record's summary: the latest news, how many came before it, and where the member stands", () => {
    expect(recordSummary([], 'ENROLLED', 0, 50_000)).toBe('Record now ENROLLED, counted AUD 0.00 of AUD 500.00');
    const one = describeNews(load, 'APPLIED');
    expect(recordSummary([one], 'GOAL_ACHIEVED', 60_000, 50_000)).toBe(
      `Record ${one}; now GOAL_ACHIEVED, counted AUD 600.00 of AUD 500.00`,
    );
    expect(recordSummary(['a', 'b', one], 'GOAL_ACHIEVED', 60_000, 50_000)).toContain(`${one} (and 2 before it)`);
    expect(recordSummary(['x'.repeat(1_000)], 'ACTIVE', 1, 50_000)).toHaveLength(SUMMARY_MAX);
  });
});
