/**
 * The vocabulary of the campaign: channels, transaction events and the states of an enrollment.
 * Pure data, shared by the workflow, the activities, the API and the tests.
 */

export const INSTANT_LOAD_CHANNELS = ['DEBIT_CARD', 'APPLE_PAY', 'GOOGLE_PAY'] as const;
export const DELAYED_LOAD_CHANNELS = ['BPAY', 'BANK_TRANSFER'] as const;
export const LOAD_CHANNELS = [...INSTANT_LOAD_CHANNELS, ...DELAYED_LOAD_CHANNELS] as const;
export const WITHDRAWAL_CHANNELS = ['ATM', 'BANK_TRANSFER', 'OTHER'] as const;
export const CHANNELS = ['DEBIT_CARD', 'APPLE_PAY', 'GOOGLE_PAY', 'BPAY', 'BANK_TRANSFER', 'ATM', 'OTHER'] as const;
export const TRANSACTION_KINDS = ['LOAD', 'WITHDRAWAL'] as const;
export const SETTLEMENT_STATUSES = ['SETTLED', 'RETURNED'] as const;

/**
 * The largest amount of one transaction, in cents (A$1,000,000.00): far above any card load or withdrawal, and small
 * enough that every sum the product makes stays an exact integer (2^53 / 10^8 is 90 million transactions).
 */
export const MAX_AMOUNT_CENTS = 100_000_000;

/** A transaction id, from the real-time feed and the settlement file alike (the two must match): 1–128 of these. */
export const TRANSACTION_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export type TransactionKind = (typeof TRANSACTION_KINDS)[number];
export type Channel = (typeof CHANNELS)[number];
export type SettlementStatus = (typeof SETTLEMENT_STATUSES)[number];

export const isInstantChannel = (channel: Channel): boolean =>
  (INSTANT_LOAD_CHANNELS as readonly string[]).includes(channel);

export const isChannelAllowed = (kind: TransactionKind, channel: Channel): boolean =>
  ((kind === 'LOAD' ? LOAD_CHANNELS : WITHDRAWAL_CHANNELS) as readonly string[]).includes(channel);

/**
 * One piece of news about a transaction, as the workflow receives it.
 * `REALTIME` comes from the card processor / transactions API; `SETTLEMENT` from the bank's overnight file,
 * whose amount and `occurredAt` are authoritative.
 */
export interface TransactionEvent {
  source: 'REALTIME' | 'SETTLEMENT';
  transactionId: string;
  memberId: string;
  kind: TransactionKind;
  channel: Channel;
  amountCents: number;
  currency: 'AUD';
  /** When the money moved (ISO-8601). Decides whether the transaction is in the window. */
  occurredAt: string;
  /** Settlement records only. */
  status?: SettlementStatus;
  settledAt?: string;
  /** When our edge accepted it (ISO-8601), stamped by the API or the settlement stager. */
  receivedAt: string;
  /** Settlement records only: where the record came from. */
  batchId?: string;
  line?: number;
}

export const ACTIVATION_STATES = [
  'ENROLLED',
  'ACTIVE',
  'GOAL_ACHIEVED',
  'CONFIRMING',
  'PENDING_REWARD',
  'COMPLETED',
  'DISQUALIFIED',
  'NOT_ELIGIBLE',
  'MANUAL_REVIEW',
  'CANCELLED',
  'HOLDOUT_QUALIFIED',
  'BUDGET_EXHAUSTED',
] as const;
export type ActivationState = (typeof ACTIVATION_STATES)[number];

export const TERMINAL_STATES: readonly ActivationState[] = [
  'COMPLETED',
  'DISQUALIFIED',
  'NOT_ELIGIBLE',
  'MANUAL_REVIEW',
  'CANCELLED',
  'HOLDOUT_QUALIFIED',
  'BUDGET_EXHAUSTED',
];

/** An enrollment "has a verdict" from PENDING_REWARD on and in every terminal state. */
export const VERDICT_STATES: readonly ActivationState[] = ['PENDING_REWARD', ...TERMINAL_STATES];

export const hasVerdict = (state: ActivationState): boolean => VERDICT_STATES.includes(state);

export const NOTIFICATION_TYPES = [
  'ENROLLED',
  'GOAL_ACHIEVED',
  'LOAD_SETTLED',
  'DISQUALIFIED',
  'REWARD_ISSUED',
  'NOT_ELIGIBLE',
  'BUDGET_EXHAUSTED',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];
