/** Checks a transaction event can be applied at all; the API validates earlier, this guards the workflow. */
import {
  CHANNELS,
  MAX_AMOUNT_CENTS,
  SETTLEMENT_STATUSES,
  TRANSACTION_KINDS,
  isChannelAllowed,
  type TransactionEvent,
} from './model';
import { isAcceptableTime as isTime } from './time';

/** Returns why the event cannot be applied to this member's enrollment, or `undefined` if it can. */
export function validateTransactionEvent(ev: TransactionEvent, memberId: string): string | undefined {
  if (typeof ev !== 'object' || ev === null) return 'not an object';
  if (ev.source !== 'REALTIME' && ev.source !== 'SETTLEMENT') return `unknown source ${String(ev.source)}`;
  if (typeof ev.transactionId !== 'string' || ev.transactionId.length === 0) return 'transactionId is missing';
  if (ev.memberId !== memberId) return `memberId ${String(ev.memberId)} is not this enrollment's member`;
  if (!TRANSACTION_KINDS.includes(ev.kind)) return `unknown kind ${String(ev.kind)}`;
  if (!CHANNELS.includes(ev.channel) || !isChannelAllowed(ev.kind, ev.channel)) {
    return `channel ${String(ev.channel)} is not a ${String(ev.kind)} channel`;
  }
  if (!Number.isSafeInteger(ev.amountCents) || ev.amountCents <= 0 || ev.amountCents > MAX_AMOUNT_CENTS) {
    return `amountCents must be a positive integer of at most ${MAX_AMOUNT_CENTS} cents`;
  }
  if (ev.currency !== 'AUD') return 'currency must be AUD';
  if (!isTime(ev.occurredAt)) return 'occurredAt is not a time';
  if (!isTime(ev.receivedAt)) return 'receivedAt is not a time';
  if (ev.source === 'SETTLEMENT') {
    if (!ev.status || !SETTLEMENT_STATUSES.includes(ev.status)) return `unknown settlement status ${String(ev.status)}`;
    if (!isTime(ev.settledAt)) return 'settledAt is not a time';
    if (Date.parse(ev.settledAt) < Date.parse(ev.occurredAt)) return 'settledAt is before occurredAt';
  }
  return undefined;
}
