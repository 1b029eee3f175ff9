/**
 * Every accepted piece of news accounted for. The API and the settlement batch record each piece of news they accept
 * for an enrollment before they hand it over (db/accepted-news.ts); reconciliation holds that record against what the
 * enrollment holds: its ledger (every transaction it applied, with the status its news left), its audit trail (news it
 * received, rejected or heard late) and, for a run still open, the run itself. Pure: the rule is here, the reading in
 * api/reconcile.ts.
 */
import type { EntryStatus, LedgerEntry } from './ledger';
import type { TransactionEvent } from './model';

/**
 * One piece of news, as the record and the audit trail key it: the source, the transaction and what it says (its kind
 * in real time, its status in the settlement file). A real-time load posted twice is one piece of news; its
 * settlement is another.
 */
export const newsKey = (ev: Pick<TransactionEvent, 'source' | 'transactionId' | 'kind' | 'status'>): string =>
  `${ev.source}:${ev.transactionId}:${ev.source === 'SETTLEMENT' ? (ev.status ?? 'SETTLED') : ev.kind}`;

/** The ledger statuses a piece of news leaves behind, or anything later that only follows it. */
const LEAVES: Record<string, readonly EntryStatus[]> = {
  // A real-time event creates the entry or repeats it: any status means it was heard.
  REALTIME: ['INSTANT', 'PENDING', 'POSTED', 'SETTLED', 'RETURNED'],
  // A settlement leaves SETTLED, or RETURNED when a return followed it (or came first: the settlement is then refused,
  // and the audit trail says so).
  SETTLED: ['SETTLED', 'RETURNED'],
  RETURNED: ['RETURNED'],
};

/**
 * Whether the enrollment accounts for the news: its audit trail names it (received, rejected, or late), or its ledger
 * holds the transaction in a status the news leads to. An entry of another kind (the news conflicted with what was
 * known) holds it too: the conflict is recorded.
 */
export function accountedFor(
  ev: TransactionEvent,
  entry: LedgerEntry | undefined,
  trail: ReadonlySet<string>,
): boolean {
  if (trail.has(newsKey(ev))) return true;
  if (!entry) return false;
  if (entry.kind !== ev.kind) return true;
  const leaves = LEAVES[ev.source === 'SETTLEMENT' ? (ev.status ?? 'SETTLED') : 'REALTIME'];
  return leaves.includes(entry.status);
}

/** The audit line types that show an enrollment heard a piece of news (their payload's `event` is it). */
export const NEWS_LINE_TYPES = ['TRANSACTION_RECEIVED', 'TRANSACTION_REJECTED', 'LATE_EVENT'] as const;
