import { decideVerdict } from '../../src/domain/evaluation';
import { lateImpact } from '../../src/domain/late';
import { applyEvent, type Ledger } from '../../src/domain/ledger';
import type { TransactionEvent } from '../../src/domain/model';
import { classifyLine, isSettlementHeader, parseSettlementLine, SETTLEMENT_HEADER } from '../../src/domain/settlement';
import { TARGET, day, load, schedule, settlementOf, withdrawal } from './fixtures';

const NOW = Date.parse('2026-11-20T00:00:00Z');
const line = (over: Partial<Record<string, string>> = {}): string => {
  const f = {
    transactionId: 'TX-1',
    memberId: 'M-1',
    kind: 'LOAD',
    amountCents: '25000',
    currency: 'AUD',
    channel: 'BPAY',
    occurredAt: '2026-11-10T09:30:00Z',
    settledAt: '2026-11-11T02:00:00Z',
    status: 'SETTLED',
    ...over,
  };
  return [
    f.transactionId,
    f.memberId,
    f.kind,
    f.amountCents,
    f.currency,
    f.channel,
    f.occurredAt,
    f.settledAt,
    f.status,
  ].join(',');
};
const reasonOf = (text: string): string => {
  const parsed = parseSettlementLine(text, NOW);
  if (parsed.ok) throw new Error(`expected a rejection of ${text}`);
  return parsed.reason;
};

describe('settlement lines', () => {
  it('parses a valid line into a settlement record with normalised times', () => {
    expect(parseSettlementLine(line({ occurredAt: '2026-11-10T19:30:00+10:00' }), NOW)).toEqual({
      ok: true,
      record: {
        transactionId: 'TX-1',
        memberId: 'M-1',
        kind: 'LOAD',
        amountCents: 25000,
        currency: 'AUD',
        channel: 'BPAY',
        occurredAt: '2026-11-10T09:30:00.000Z',
        settledAt: '2026-11-11T02:00:00.000Z',
        status: 'SETTLED',
      },
    });
  });

  it('tolerates quotes and surrounding spaces', () => {
    expect(parseSettlementLine(line({ transactionId: ' "TX-9" ', status: '"RETURNED"' }), NOW)).toMatchObject({
      ok: true,
      record: { transactionId: 'TX-9', status: 'RETURNED' },
    });
  });

  it.each([
    ['a missing column', 'TX-1,M-1,LOAD,25000,AUD,BPAY,2026-11-10T09:30:00Z,SETTLED', /expected 9 columns, found 8/],
    ['an unknown kind', line({ kind: 'REFUND' }), /unknown kind "REFUND"/],
    ['an unknown channel', line({ channel: 'CHEQUE' }), /unknown channel "CHEQUE"/],
    ['a channel of the other kind', line({ channel: 'ATM' }), /channel ATM is not a LOAD channel/],
    ['an unknown status', line({ status: 'PENDING' }), /unknown status "PENDING"/],
    ['a fractional amount', line({ amountCents: '12.50' }), /not a positive integer/],
    ['a zero amount', line({ amountCents: '0' }), /not a positive integer/],
    ['a negative amount', line({ amountCents: '-5' }), /not a positive integer/],
    ['another currency', line({ currency: 'USD' }), /currency "USD" is not AUD/],
    ['an unparsable time', line({ occurredAt: 'yesterday' }), /occurredAt "yesterday" is not an ISO-8601 time/],
    ['a date without time', line({ settledAt: '2026-11-11' }), /settledAt .* is not an ISO-8601 time/],
    ['settledAt before occurredAt', line({ settledAt: '2026-11-09T00:00:00Z' }), /settledAt is before occurredAt/],
    [
      'occurredAt far in the future',
      line({ occurredAt: '2026-11-20T00:06:00Z', settledAt: '2026-11-21T00:00:00Z' }),
      /more than 5 minutes in the future/,
    ],
    ['a bad member id', line({ memberId: 'M 1' }), /memberId "M 1"/],
    ['an empty transaction id', line({ transactionId: '' }), /transactionId/],
    // Issue 9: the real-time feed's rule; a NUL here failed the whole file with a 500 (PostgreSQL's jsonb has no NUL).
    ['a NUL in the transaction id', line({ transactionId: 'TX-\u0000' }), /transactionId "TX-\\u0000" is not/],
    ['a transaction id the feed would refuse', line({ transactionId: 'TX 1' }), /transactionId "TX 1" is not/],
    // Issue 9: PostgreSQL has no year 0; such a line was applied, and then the campaign report failed.
    ['a time in year 0000', line({ occurredAt: '0000-01-01T00:00:00Z' }), /occurredAt .*outside the accepted range/],
    ['a settledAt in year 0000', line({ settledAt: '0000-01-01T00:00:00Z' }), /settledAt .*outside the accepted range/],
    ['30 February', line({ occurredAt: '2026-02-30T00:00:00Z' }), /occurredAt .*not a real date/],
    ['an extended year', line({ settledAt: '+010000-01-01T00:00:00Z' }), /settledAt .*not an ISO-8601 time/],
    ['an amount above the cap', line({ amountCents: '100000001' }), /amountCents 100000001 is above the maximum/],
    ['an amount past 2^53', line({ amountCents: '9007199254740993' }), /above the maximum/],
  ])('rejects %s with a reason', (_what, text, reason) => {
    expect(reasonOf(text)).toMatch(reason);
  });

  it('accepts an amount of exactly the cap', () => {
    expect(parseSettlementLine(line({ amountCents: '100000000' }), NOW)).toMatchObject({
      ok: true,
      record: { amountCents: 100_000_000 },
    });
  });

  it('accepts a time a few minutes ahead (clock skew)', () => {
    expect(
      parseSettlementLine(line({ occurredAt: '2026-11-20T00:04:00Z', settledAt: '2026-11-20T00:04:00Z' }), NOW).ok,
    ).toBe(true);
  });

  it('knows its header, with or without a BOM or quotes', () => {
    expect(isSettlementHeader(SETTLEMENT_HEADER)).toBe(true);
    expect(isSettlementHeader(`\uFEFF${SETTLEMENT_HEADER}`)).toBe(true);
    expect(
      isSettlementHeader(
        SETTLEMENT_HEADER.split(',')
          .map((c) => `"${c}"`)
          .join(','),
      ),
    ).toBe(true);
    expect(isSettlementHeader(line())).toBe(false);
  });

  it('classifies a line by its strongest effect across enrollments', () => {
    expect(classifyLine([])).toBe('NO_ENROLLMENT');
    expect(classifyLine(['DUPLICATE', 'APPLIED', 'LATE'])).toBe('APPLIED');
    expect(classifyLine(['DUPLICATE', 'LATE'])).toBe('LATE');
    expect(classifyLine(['DUPLICATE', 'CONFLICT'])).toBe('DUPLICATE');
    expect(classifyLine(['CONFLICT'])).toBe('REJECTED');
  });
});

describe('late news', () => {
  const ledgerOf = (...events: TransactionEvent[]): Ledger => {
    const ledger: Ledger = {};
    for (const ev of events) ledger[ev.transactionId] = applyEvent(ledger[ev.transactionId], ev).entry;
    return ledger;
  };
  const verdictOf = (ledger: Ledger) => decideVerdict(ledger, schedule, TARGET, schedule.evaluatesAt);

  it('opens a review for an in-window withdrawal heard after the reward', () => {
    const ledger = ledgerOf(load(60_000));
    const late = settlementOf(withdrawal(5_000, { occurredAt: day(10) }));
    const impact = lateImpact(ledger, [], late, schedule, TARGET, verdictOf(ledger));
    expect(impact).toMatchObject({
      actual: 'ELIGIBLE',
      wouldBe: 'DISQUALIFIED',
      review: { kind: 'LATE_WITHDRAWAL_AFTER_REWARD' },
    });
  });

  it('opens no review for a withdrawal outside the window', () => {
    const ledger = ledgerOf(load(60_000));
    const late = withdrawal(5_000, { occurredAt: day(31) });
    expect(lateImpact(ledger, [], late, schedule, TARGET, verdictOf(ledger)).review).toBeUndefined();
  });

  it('opens a review when a late settled load would have made a NOT_ELIGIBLE member eligible', () => {
    const pending = load(20_000, { channel: 'BPAY' });
    const ledger = ledgerOf(load(35_000), pending);
    const verdict = verdictOf(ledger);
    expect(verdict.outcome).toBe('NOT_ELIGIBLE');
    const impact = lateImpact(ledger, [], settlementOf(pending), schedule, TARGET, verdict);
    expect(impact.review).toMatchObject({ kind: 'LATE_LOAD_WOULD_QUALIFY' });
  });

  it('judges each late event with the late news before it, and opens one review when the verdict tips', () => {
    const ledger = ledgerOf(load(30_000));
    const verdict = verdictOf(ledger);
    const first = settlementOf(load(10_000, { channel: 'BPAY' }));
    const second = settlementOf(load(15_000, { channel: 'BPAY' }));
    const third = settlementOf(load(5_000, { channel: 'BPAY' }));
    expect(lateImpact(ledger, [], first, schedule, TARGET, verdict).review).toBeUndefined();
    expect(lateImpact(ledger, [first], second, schedule, TARGET, verdict).review?.kind).toBe('LATE_LOAD_WOULD_QUALIFY');
    expect(lateImpact(ledger, [first, second], third, schedule, TARGET, verdict).review).toBeUndefined();
  });

  it('opens a review when a late return would have left a rewarded member below the target', () => {
    const l = load(50_000);
    const ledger = ledgerOf(l);
    const impact = lateImpact(ledger, [], settlementOf(l, 'RETURNED'), schedule, TARGET, verdictOf(ledger));
    expect(impact).toMatchObject({ wouldBe: 'NOT_ELIGIBLE', review: { kind: 'LATE_NEWS_CHANGES_VERDICT' } });
  });

  it('never reopens a cancelled enrollment, and ignores news that changes nothing', () => {
    const ledger = ledgerOf(load(60_000));
    const cancelled = { ...verdictOf(ledger), outcome: 'CANCELLED' as const };
    expect(lateImpact(ledger, [], withdrawal(1_000), schedule, TARGET, cancelled).review).toBeUndefined();
    expect(lateImpact(ledger, [], load(1_000), schedule, TARGET, verdictOf(ledger)).review).toBeUndefined();
  });
});
