import type { TransactionEvent } from '../../src/domain/model';
import type { EnrollmentTerms } from '../../src/domain/enrollment';
import { scheduleFor } from '../../src/domain/terms';

export const schedule = scheduleFor({ window: 'P30D', grace: 'PT48H' }, '2026-11-01T00:00:00.000Z');
export const TARGET = 50_000;

/** One member's enrollment in a A$500 / 30 days / 48 hours campaign, enrolled at `schedule.enrolledAt`. */
export const terms: EnrollmentTerms = {
  campaign: {
    campaignId: 'c1',
    targetCents: TARGET,
    rewardPoints: 2_000,
    window: 'P30D',
    grace: 'PT48H',
    currency: 'AUD',
  },
  memberId: 'M1',
  schedule,
};

export const day = (n: number, hour = 12): string =>
  new Date(Date.parse(schedule.enrolledAt) + n * 86_400_000 + hour * 3_600_000 - 12 * 3_600_000).toISOString();

let counter = 0;
export function load(amountCents: number, over: Partial<TransactionEvent> = {}): TransactionEvent {
  counter += 1;
  return {
    source: 'REALTIME',
    transactionId: `T${counter}`,
    memberId: 'M1',
    kind: 'LOAD',
    channel: 'DEBIT_CARD',
    amountCents,
    currency: 'AUD',
    occurredAt: day(1),
    receivedAt: day(1),
    ...over,
  };
}

export function withdrawal(amountCents: number, over: Partial<TransactionEvent> = {}): TransactionEvent {
  return load(amountCents, { kind: 'WITHDRAWAL', channel: 'ATM', ...over });
}

/** The settlement record for `ev`: the same transaction, as the bank reports it. */
export function settlementOf(
  ev: TransactionEvent,
  status: 'SETTLED' | 'RETURNED' = 'SETTLED',
  over: Partial<TransactionEvent> = {},
): TransactionEvent {
  return {
    ...ev,
    source: 'SETTLEMENT',
    status,
    settledAt: new Date(Date.parse(ev.occurredAt) + 86_400_000).toISOString(),
    receivedAt: new Date(Date.parse(ev.occurredAt) + 2 * 86_400_000).toISOString(),
    ...over,
  };
}
