/**
 * The overnight settlement file: one CSV line per record, the bank's word on a transaction. Parsing is pure so the
 * stager, the tests and the CLI agree on what a valid line is.
 */
import {
  CHANNELS,
  MAX_AMOUNT_CENTS,
  SETTLEMENT_STATUSES,
  TRANSACTION_ID_PATTERN,
  TRANSACTION_KINDS,
  isChannelAllowed,
  type Channel,
  type SettlementStatus,
  type TransactionEvent,
  type TransactionKind,
} from './model';
import { parseTime } from './time';

export const SETTLEMENT_COLUMNS = [
  'transactionId',
  'memberId',
  'kind',
  'amountCents',
  'currency',
  'channel',
  'occurredAt',
  'settledAt',
  'status',
] as const;
export const SETTLEMENT_HEADER = SETTLEMENT_COLUMNS.join(',');

/** A record may not claim the money moved more than this far in the future (clock skew allowance). */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** A valid line: the settlement event without the stamps the stager adds (`receivedAt`, `batchId`, `line`). */
export type SettlementRecord = Pick<
  TransactionEvent,
  'transactionId' | 'memberId' | 'kind' | 'channel' | 'amountCents' | 'currency' | 'occurredAt' | 'settledAt'
> & { status: SettlementStatus };

export type ParsedLine = { ok: true; record: SettlementRecord } | { ok: false; reason: string };

const MEMBER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const unquote = (field: string): string => {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f;
};

/** True when the line is the expected header (whitespace, quotes and a BOM tolerated). */
export const isSettlementHeader = (line: string): boolean =>
  line
    .replace(/^\uFEFF/, '')
    .split(',')
    .map(unquote)
    .join(',') === SETTLEMENT_HEADER;

/** Parses one data line; `now` bounds `occurredAt`. Never throws: a bad line gets a reason. */
export function parseSettlementLine(line: string, now: number): ParsedLine {
  const fields = line.split(',').map(unquote);
  if (fields.length !== SETTLEMENT_COLUMNS.length) {
    return { ok: false, reason: `expected ${SETTLEMENT_COLUMNS.length} columns, found ${fields.length}` };
  }
  const [transactionId, memberId, kind, amount, currency, channel, occurredAt, settledAt, status] = fields;
  if (!TRANSACTION_ID_PATTERN.test(transactionId)) {
    return bad(`transactionId ${quoted(transactionId)} is not 1-128 of [A-Za-z0-9_.:-]`);
  }
  if (!MEMBER_ID.test(memberId)) return bad(`memberId ${quoted(memberId)} is not 1-64 of [A-Za-z0-9_-]`);
  if (!(TRANSACTION_KINDS as readonly string[]).includes(kind)) return bad(`unknown kind ${quoted(kind)}`);
  if (!/^\d+$/.test(amount) || Number(amount) <= 0) {
    return bad(`amountCents ${quoted(amount)} is not a positive integer`);
  }
  if (Number(amount) > MAX_AMOUNT_CENTS)
    return bad(`amountCents ${amount} is above the maximum of ${MAX_AMOUNT_CENTS}`);
  if (currency !== 'AUD') return bad(`currency ${quoted(currency)} is not AUD`);
  if (!(CHANNELS as readonly string[]).includes(channel)) return bad(`unknown channel ${quoted(channel)}`);
  if (!isChannelAllowed(kind as TransactionKind, channel as Channel)) {
    return bad(`channel ${channel} is not a ${kind} channel`);
  }
  const occurred = parseTime(occurredAt);
  if (!occurred.ok) return bad(`occurredAt ${quoted(occurredAt)} ${occurred.reason}`);
  const settled = parseTime(settledAt);
  if (!settled.ok) return bad(`settledAt ${quoted(settledAt)} ${settled.reason}`);
  if (!(SETTLEMENT_STATUSES as readonly string[]).includes(status)) {
    return bad(`unknown status ${quoted(status)}`);
  }
  if (settled.ms < occurred.ms) return bad('settledAt is before occurredAt');
  if (occurred.ms > now + FUTURE_TOLERANCE_MS) return bad('occurredAt is more than 5 minutes in the future');
  return {
    ok: true,
    record: {
      transactionId,
      memberId,
      kind: kind as TransactionKind,
      channel: channel as Channel,
      amountCents: Number(amount),
      currency: 'AUD',
      occurredAt: new Date(occurred.ms).toISOString(),
      settledAt: new Date(settled.ms).toISOString(),
      status: status as SettlementStatus,
    },
  };
}

const bad = (reason: string): ParsedLine => ({ ok: false, reason });

/** A field as a reason quotes it: escaped, and cut short (a reason is listed in the batch report, a line may be huge). */
const quoted = (field: string): string => JSON.stringify(field.length > 80 ? `${field.slice(0, 80)}…` : field);

/** How one line ended up; every data line lands in exactly one. */
export type LineOutcome = 'APPLIED' | 'DUPLICATE' | 'NO_ENROLLMENT' | 'LATE' | 'REJECTED';

/** What one enrollment said about the record. */
export type EnrollmentAnswer = 'APPLIED' | 'DUPLICATE' | 'LATE' | 'CONFLICT';

/**
 * Classifies a line by its strongest effect across the member's enrollments: applied > late > duplicate. A line no
 * enrollment could take (it contradicts what each knows) is rejected; one for a member with none, `NO_ENROLLMENT`.
 */
export function classifyLine(answers: readonly EnrollmentAnswer[]): LineOutcome {
  if (answers.length === 0) return 'NO_ENROLLMENT';
  if (answers.includes('APPLIED')) return 'APPLIED';
  if (answers.includes('LATE')) return 'LATE';
  if (answers.includes('DUPLICATE')) return 'DUPLICATE';
  return 'REJECTED';
}
