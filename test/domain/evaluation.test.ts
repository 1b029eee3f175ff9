import {
  decideVerdict,
  disqualifyingWithdrawal,
  explain,
  inWindow,
  totals,
  windowState,
} from '../../src/domain/evaluation';
import { applyEvent, type Ledger } from '../../src/domain/ledger';
import type { TransactionEvent } from '../../src/domain/model';
import { TARGET, day, load, schedule, settlementOf, withdrawal } from './fixtures';

const ledgerOf = (...events: TransactionEvent[]): Ledger => {
  const ledger: Ledger = {};
  for (const ev of events) ledger[ev.transactionId] = applyEvent(ledger[ev.transactionId], ev).entry;
  return ledger;
};

describe('windowing', () => {
  it('counts by occurredAt: enrolledAt inclusive, windowEndsAt exclusive', () => {
    expect(inWindow(schedule.enrolledAt, schedule)).toBe(true);
    expect(inWindow(new Date(Date.parse(schedule.enrolledAt) - 1).toISOString(), schedule)).toBe(false);
    expect(inWindow(new Date(Date.parse(schedule.windowEndsAt) - 1).toISOString(), schedule)).toBe(true);
    expect(inWindow(schedule.windowEndsAt, schedule)).toBe(false);
  });

  it('understands offsets, not just UTC strings', () => {
    expect(inWindow('2026-11-01T10:00:00+10:00', schedule)).toBe(true); // = enrolledAt exactly
    expect(inWindow('2026-11-01T09:59:59+10:00', schedule)).toBe(false);
  });
});

describe('totals', () => {
  it('counts instant and settled in-window loads, shows pending, ignores returned and out-of-window', () => {
    const instant = load(10_000);
    const settled = load(15_000, { channel: 'APPLE_PAY' });
    const pending = load(7_000, { channel: 'BPAY' });
    const returned = load(30_000, { channel: 'BANK_TRANSFER' });
    const before = load(99_000, { occurredAt: day(-1) });
    const after = load(88_000, { occurredAt: day(31) });
    const ledger = ledgerOf(
      instant,
      settled,
      settlementOf(settled),
      pending,
      returned,
      settlementOf(returned),
      settlementOf(returned, 'RETURNED'),
      before,
      after,
    );
    expect(totals(ledger, schedule)).toEqual({
      countedCents: 25_000,
      instantCents: 10_000,
      settledCents: 15_000,
      pendingCents: 7_000,
    });
  });

  it('lets a settlement move a load out of the window', () => {
    const l = load(60_000, { occurredAt: day(29, 23) });
    const ledger = ledgerOf(l, settlementOf(l, 'SETTLED', { occurredAt: day(31) }));
    expect(totals(ledger, schedule).countedCents).toBe(0);
  });
});

describe('state during the window', () => {
  it('follows the count', () => {
    expect(windowState(0, TARGET)).toBe('ENROLLED');
    expect(windowState(1, TARGET)).toBe('ACTIVE');
    expect(windowState(TARGET - 1, TARGET)).toBe('ACTIVE');
    expect(windowState(TARGET, TARGET)).toBe('GOAL_ACHIEVED');
  });
});

describe('the verdict', () => {
  const at = schedule.evaluatesAt;

  it('is eligible at or above the target with no withdrawal', () => {
    const v = decideVerdict(ledgerOf(load(30_000), load(20_000)), schedule, TARGET, at);
    expect(v).toMatchObject({ outcome: 'ELIGIBLE', countedCents: 50_000, targetCents: TARGET });
  });

  it('is not eligible a cent below the target', () => {
    expect(decideVerdict(ledgerOf(load(49_999)), schedule, TARGET, at).outcome).toBe('NOT_ELIGIBLE');
  });

  it('is disqualified by any in-window withdrawal, whatever the count', () => {
    const w = withdrawal(100, { occurredAt: day(10) });
    const v = decideVerdict(ledgerOf(load(90_000), w), schedule, TARGET, at);
    expect(v.outcome).toBe('DISQUALIFIED');
    expect(v.reason).toContain(w.transactionId);
  });

  it('ignores withdrawals outside the window and reversed withdrawals', () => {
    const outside = withdrawal(100, { occurredAt: day(31) });
    const reversed = withdrawal(100, { occurredAt: day(5) });
    const ledger = ledgerOf(load(60_000), outside, settlementOf(reversed, 'RETURNED'));
    expect(disqualifyingWithdrawal(ledger, schedule)).toBeUndefined();
    expect(decideVerdict(ledger, schedule, TARGET, at).outcome).toBe('ELIGIBLE');
  });

  it('names the earliest in-window withdrawal as the disqualifier', () => {
    const late = withdrawal(100, { occurredAt: day(20) });
    const early = withdrawal(200, { occurredAt: day(3) });
    expect(disqualifyingWithdrawal(ledgerOf(late, early), schedule)?.transactionId).toBe(early.transactionId);
  });
});

describe('the explanation', () => {
  it('lists every transaction counted or excluded, with its reason', () => {
    const counted = load(40_000, { occurredAt: day(2) });
    const outside = load(5_000, { occurredAt: day(32) });
    const pending = load(6_000, { channel: 'BPAY', occurredAt: day(3) });
    const returned = load(7_000, { channel: 'BPAY', occurredAt: day(4) });
    const outsideWithdrawal = withdrawal(100, { occurredAt: day(40) });
    const ledger = ledgerOf(
      counted,
      counted,
      outside,
      pending,
      returned,
      settlementOf(returned, 'RETURNED'),
      outsideWithdrawal,
    );
    const verdict = decideVerdict(ledger, schedule, TARGET, schedule.evaluatesAt);
    const e = explain(ledger, schedule, TARGET, verdict);
    expect(e.counted.map((t) => t.transactionId)).toEqual([counted.transactionId]);
    expect(e.excluded.map((t) => [t.transactionId, t.reason])).toEqual([
      [counted.transactionId, 'DUPLICATE'],
      [pending.transactionId, 'PENDING'],
      [returned.transactionId, 'RETURNED'],
      [outside.transactionId, 'OUTSIDE_WINDOW'],
      [outsideWithdrawal.transactionId, 'OUTSIDE_WINDOW'],
    ]);
    expect(e.verdict?.outcome).toBe('NOT_ELIGIBLE');
    expect(e.disqualifiedBy).toBeUndefined();
  });

  it('names the disqualifying withdrawal', () => {
    const w = withdrawal(2_500, { occurredAt: day(7) });
    const e = explain(ledgerOf(load(60_000), w), schedule, TARGET);
    expect(e.disqualifiedBy?.transactionId).toBe(w.transactionId);
  });

  it("says a holdout member's ELIGIBLE verdict is never rewarded; other verdicts and groups read as decided", () => {
    const onTarget = ledgerOf(load(55_000));
    const eligible = decideVerdict(onTarget, schedule, TARGET, schedule.evaluatesAt);
    expect(eligible.reason).toBe('loaded A$550.00 in the window, target A$500.00, no withdrawal');
    expect(explain(onTarget, schedule, TARGET, eligible, [], 'HOLDOUT').verdict).toEqual({
      ...eligible,
      reason: 'loaded A$550.00 in the window, target A$500.00, no withdrawal; in the holdout group, never rewarded',
    });
    expect(explain(onTarget, schedule, TARGET, eligible, [], 'TREATMENT').verdict).toEqual(eligible);
    expect(explain(onTarget, schedule, TARGET, eligible).verdict).toEqual(eligible);
    const short = ledgerOf(load(10_000));
    const notEligible = decideVerdict(short, schedule, TARGET, schedule.evaluatesAt);
    expect(explain(short, schedule, TARGET, notEligible, [], 'HOLDOUT').verdict).toEqual(notEligible);
  });
});
