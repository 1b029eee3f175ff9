import { applyEvent, type Ledger } from '../../src/domain/ledger';
import type { TransactionEvent } from '../../src/domain/model';
import { load, settlementOf, withdrawal } from './fixtures';

function run(events: TransactionEvent[]): { ledger: Ledger; outcomes: string[] } {
  const ledger: Ledger = {};
  const outcomes = events.map((ev) => {
    const r = applyEvent(ledger[ev.transactionId], ev);
    ledger[ev.transactionId] = r.entry;
    return r.outcome;
  });
  return { ledger, outcomes };
}

describe('the ledger', () => {
  it('counts an instant load once however often it is heard', () => {
    const l = load(10_000);
    const { ledger, outcomes } = run([l, l, l]);
    expect(outcomes).toEqual(['APPLIED', 'DUPLICATE', 'DUPLICATE']);
    expect(ledger[l.transactionId]).toMatchObject({ status: 'INSTANT', amountCents: 10_000, duplicates: 2 });
  });

  it('moves an instant load to settled when its settlement record arrives, never twice', () => {
    const l = load(10_000);
    const { ledger, outcomes } = run([l, settlementOf(l), settlementOf(l), l]);
    expect(outcomes).toEqual(['APPLIED', 'APPLIED', 'DUPLICATE', 'DUPLICATE']);
    expect(ledger[l.transactionId].status).toBe('SETTLED');
  });

  it('keeps a delayed load pending until it settles, and says so when it does', () => {
    const l = load(20_000, { channel: 'BPAY' });
    const first = applyEvent(undefined, l);
    expect(first.entry.status).toBe('PENDING');
    const settled = applyEvent(first.entry, settlementOf(l));
    expect(settled).toMatchObject({ outcome: 'APPLIED', delayedLoadSettled: true, entry: { status: 'SETTLED' } });
  });

  it('does not flag an instant load as a settled delayed load', () => {
    const l = load(20_000);
    expect(applyEvent(applyEvent(undefined, l).entry, settlementOf(l)).delayedLoadSettled).toBe(false);
  });

  it('accepts a settlement heard before the real-time event, and then ignores the late real-time event', () => {
    const l = load(20_000);
    const { ledger, outcomes } = run([settlementOf(l), l]);
    expect(outcomes).toEqual(['APPLIED', 'DUPLICATE']);
    expect(ledger[l.transactionId].status).toBe('SETTLED');
  });

  it("takes the bank's amount and time over the real-time event's", () => {
    const l = load(20_000);
    const bank = settlementOf(l, 'SETTLED', { amountCents: 19_500, occurredAt: '2026-11-03T00:00:00.000Z' });
    const { ledger } = run([l, bank]);
    expect(ledger[l.transactionId]).toMatchObject({
      amountCents: 19_500,
      occurredAt: '2026-11-03T00:00:00.000Z',
      realtime: { amountCents: 20_000, occurredAt: l.occurredAt },
    });
  });

  it('removes a returned load, whenever the return arrives, and a return is final', () => {
    const l = load(20_000, { channel: 'BANK_TRANSFER' });
    const { ledger, outcomes } = run([l, settlementOf(l), settlementOf(l, 'RETURNED'), settlementOf(l)]);
    expect(outcomes).toEqual(['APPLIED', 'APPLIED', 'APPLIED', 'CONFLICT']);
    expect(ledger[l.transactionId].status).toBe('RETURNED');
  });

  it('records a duplicate return as a duplicate', () => {
    const l = load(20_000);
    const { outcomes } = run([l, settlementOf(l, 'RETURNED'), settlementOf(l, 'RETURNED')]);
    expect(outcomes).toEqual(['APPLIED', 'APPLIED', 'DUPLICATE']);
  });

  it('refuses to turn a load into a withdrawal under the same id', () => {
    const l = load(20_000);
    const { ledger, outcomes } = run([l, { ...withdrawal(5_000), transactionId: l.transactionId }]);
    expect(outcomes).toEqual(['APPLIED', 'CONFLICT']);
    expect(ledger[l.transactionId].kind).toBe('LOAD');
  });

  it('posts withdrawals and settles them', () => {
    const w = withdrawal(5_000);
    const { ledger, outcomes } = run([w, settlementOf(w), w]);
    expect(outcomes).toEqual(['APPLIED', 'APPLIED', 'DUPLICATE']);
    expect(ledger[w.transactionId].status).toBe('SETTLED');
  });
});
