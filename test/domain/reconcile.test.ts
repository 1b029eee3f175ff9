/**
 * The rule of reconciliation (domain/reconcile.ts): what an enrollment's records must show for a piece of accepted news
 * to be accounted for. Checked against the ledger the rules themselves build, so the rule cannot drift from them.
 */
import fc from 'fast-check';
import { applyEvent, type Ledger } from '../../src/domain/ledger';
import type { TransactionEvent } from '../../src/domain/model';
import { accountedFor, newsKey } from '../../src/domain/reconcile';

const at = '2026-12-01T00:00:00.000Z';
const ev = (over: Partial<TransactionEvent> = {}): TransactionEvent => ({
  source: 'REALTIME',
  transactionId: 'TX-1',
  memberId: 'M-1',
  kind: 'LOAD',
  channel: 'DEBIT_CARD',
  amountCents: 1_000,
  currency: 'AUD',
  occurredAt: at,
  receivedAt: at,
  ...over,
});
const settled = (over: Partial<TransactionEvent> = {}) =>
  ev({ source: 'SETTLEMENT', status: 'SETTLED', settledAt: at, ...over });
const returned = (over: Partial<TransactionEvent> = {}) => settled({ status: 'RETURNED', ...over });
const none = new Set<string>();

const ledgerOf = (events: TransactionEvent[]): Ledger => {
  const ledger: Ledger = {};
  for (const e of events) ledger[e.transactionId] = applyEvent(ledger[e.transactionId], e).entry;
  return ledger;
};

describe('a piece of accepted news', () => {
  it('is keyed by source, transaction and what it says: a repost is the same news, its settlement another', () => {
    expect(newsKey(ev())).toBe('REALTIME:TX-1:LOAD');
    expect(newsKey(ev({ receivedAt: '2026-12-02T00:00:00.000Z' }))).toBe(newsKey(ev()));
    expect(newsKey(settled())).toBe('SETTLEMENT:TX-1:SETTLED');
    expect(newsKey(returned())).toBe('SETTLEMENT:TX-1:RETURNED');
  });

  it('is missing when the enrollment never heard of the transaction', () => {
    expect(accountedFor(ev(), undefined, none)).toBe(false);
    expect(accountedFor(settled(), undefined, none)).toBe(false);
  });

  it('a settlement the enrollment did not apply is missing though it heard the load in real time', () => {
    const ledger = ledgerOf([ev()]);
    expect(accountedFor(ev(), ledger['TX-1'], none)).toBe(true);
    expect(accountedFor(settled(), ledger['TX-1'], none)).toBe(false);
    expect(accountedFor(returned(), ledger['TX-1'], none)).toBe(false);
  });

  it('is accounted for by the audit trail alone (news heard after the verdict is only there)', () => {
    expect(accountedFor(ev(), undefined, new Set(['REALTIME:TX-1:LOAD']))).toBe(true);
    expect(accountedFor(settled(), undefined, new Set(['REALTIME:TX-1:LOAD']))).toBe(false);
  });

  it('whatever order the news came in, everything the rules applied is accounted for by their ledger', () => {
    const news = fc.constantFrom<TransactionEvent>(
      ev(),
      ev({ channel: 'BPAY' }),
      settled(),
      returned(),
      ev({ kind: 'WITHDRAWAL', channel: 'ATM' }),
      settled({ kind: 'WITHDRAWAL', channel: 'ATM' }),
    );
    fc.assert(
      fc.property(fc.array(news, { minLength: 1, maxLength: 6 }), (events) => {
        const ledger = ledgerOf(events);
        for (const e of events) {
          // Applied, duplicate or conflicting: the enrollment heard it, and its ledger says so.
          expect(accountedFor(e, ledger[e.transactionId], none)).toBe(true);
        }
      }),
    );
  });
});
