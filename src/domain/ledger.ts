/**
 * The ledger of one enrollment: every transaction heard of, keyed by its program-wide unique
 * `transactionId`, so a transaction heard many times (webhook retries, then the settlement file)
 * counts once. `applyEvent` is the only way an entry changes.
 */
import { isInstantChannel, type Channel, type TransactionEvent, type TransactionKind } from './model';

/**
 * - loads: `INSTANT` (instant channel, counted before settlement), `PENDING` (delayed channel, shown
 *   but not counted), `SETTLED`, `RETURNED` (never counted);
 * - withdrawals: `POSTED` (real-time), `SETTLED`, `RETURNED` (reversed, no effect).
 */
export type EntryStatus = 'INSTANT' | 'PENDING' | 'SETTLED' | 'RETURNED' | 'POSTED';

export interface LedgerEntry {
  transactionId: string;
  kind: TransactionKind;
  channel: Channel;
  amountCents: number;
  occurredAt: string;
  status: EntryStatus;
  settledAt?: string;
  firstHeardAt: string;
  /** Deliveries that changed nothing: the same transaction and status heard again. */
  duplicates: number;
  /** The real-time feed told us of it (the settlement-discrepancy figure compares its amount with the bank's). */
  heardRealtime?: boolean;
  /** What the real-time event said, kept when the settlement record replaced amount or time. */
  realtime?: { amountCents: number; occurredAt: string };
}

export type Ledger = Record<string, LedgerEntry>;

/**
 * - `APPLIED`: the event changed the ledger (new transaction, settled, returned).
 * - `DUPLICATE`: the same transaction and status were already known; nothing changed.
 * - `CONFLICT`: the event contradicts what is known (another kind for the same id, or a settlement after
 *   a return); recorded, nothing changed.
 */
export type ApplyOutcome = 'APPLIED' | 'DUPLICATE' | 'CONFLICT';

export interface ApplyResult {
  outcome: ApplyOutcome;
  /** The entry after the event (the same figures when nothing changed). */
  entry: LedgerEntry;
  /** Set when a delayed-channel load moved from pending to settled (the member is told). */
  delayedLoadSettled?: boolean;
}

function fresh(ev: TransactionEvent): LedgerEntry {
  let status: EntryStatus;
  if (ev.source === 'SETTLEMENT') status = ev.status === 'RETURNED' ? 'RETURNED' : 'SETTLED';
  else if (ev.kind === 'WITHDRAWAL') status = 'POSTED';
  else status = isInstantChannel(ev.channel) ? 'INSTANT' : 'PENDING';
  return {
    transactionId: ev.transactionId,
    kind: ev.kind,
    channel: ev.channel,
    amountCents: ev.amountCents,
    occurredAt: ev.occurredAt,
    status,
    ...(ev.settledAt !== undefined && status !== 'INSTANT' ? { settledAt: ev.settledAt } : {}),
    firstHeardAt: ev.receivedAt,
    duplicates: 0,
    ...(ev.source === 'REALTIME' ? { heardRealtime: true } : {}),
  };
}

/** Decides what one event does to the entry for its transaction. Pure: returns a new entry. */
export function applyEvent(existing: LedgerEntry | undefined, ev: TransactionEvent): ApplyResult {
  if (!existing) return { outcome: 'APPLIED', entry: fresh(ev) };

  const unchanged = (outcome: ApplyOutcome): ApplyResult => ({
    outcome,
    entry: outcome === 'DUPLICATE' ? { ...existing, duplicates: existing.duplicates + 1 } : existing,
  });

  if (existing.kind !== ev.kind) return unchanged('CONFLICT');
  // Real-time news never changes what we know: either it repeats itself or the bank has already spoken.
  if (ev.source === 'REALTIME') return unchanged('DUPLICATE');

  if (ev.status === 'RETURNED') {
    if (existing.status === 'RETURNED') return unchanged('DUPLICATE');
    return {
      outcome: 'APPLIED',
      entry: { ...withBankFigures(existing, ev), status: 'RETURNED', settledAt: ev.settledAt },
    };
  }

  // SETTLED
  if (existing.status === 'SETTLED') return unchanged('DUPLICATE');
  // A return is final: the bank has said the money did not arrive.
  if (existing.status === 'RETURNED') return unchanged('CONFLICT');
  return {
    outcome: 'APPLIED',
    entry: { ...withBankFigures(existing, ev), status: 'SETTLED', settledAt: ev.settledAt },
    delayedLoadSettled: existing.kind === 'LOAD' && existing.status === 'PENDING',
  };
}

/** A settlement record's amount and time are the bank's word: they replace the real-time ones. */
function withBankFigures(existing: LedgerEntry, ev: TransactionEvent): LedgerEntry {
  if (existing.amountCents === ev.amountCents && Date.parse(existing.occurredAt) === Date.parse(ev.occurredAt)) {
    return existing;
  }
  return {
    ...existing,
    amountCents: ev.amountCents,
    occurredAt: ev.occurredAt,
    realtime: existing.realtime ?? { amountCents: existing.amountCents, occurredAt: existing.occurredAt },
  };
}

/** The ledger a run builds from these pieces of news, applied in the order heard (its audit trail's order). */
export function ledgerOfNews(events: readonly TransactionEvent[]): Ledger {
  const ledger: Ledger = {};
  for (const ev of events) ledger[ev.transactionId] = applyEvent(ledger[ev.transactionId], ev).entry;
  return ledger;
}
