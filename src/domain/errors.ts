/**
 * Every failure type the product raises across a boundary (workflow ↔ caller, activity ↔ workflow), in one list:
 * retry policies and error mapping name them from here, never as strings.
 */
export const ErrorType = {
  /** An opt-out (or a deadline change) of an enrollment that already has a verdict. */
  ALREADY_DECIDED: 'ALREADY_DECIDED',
  /** A deadline change that asks to move a window which has ended (or is ending): only the grace period can move. */
  WINDOW_CLOSED: 'WINDOW_CLOSED',
  /** A deadline change past the most an enrollment's deadlines may move in all. */
  EXTENSION_LIMIT: 'EXTENSION_LIMIT',
  /** A request key (Idempotency-Key) sent again with other content: refused, nothing changed. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** A deadline change that is not one (no or bad durations, no reason): the caller's mistake. */
  INVALID_SCHEDULE_CHANGE: 'INVALID_SCHEDULE_CHANGE',
  /** News the member workflow refuses (an update's validator): the caller's mistake, never retried. */
  INVALID_TRANSACTION: 'INVALID_TRANSACTION',
  /** The points API refused the credit (4xx): not retried, the enrollment goes to MANUAL_REVIEW. */
  REWARD_REJECTED: 'REWARD_REJECTED',
  /** The points API is away, overloaded (429, 5xx) or slow: retried with backoff, honouring Retry-After. */
  POINTS_API_UNAVAILABLE: 'POINTS_API_UNAVAILABLE',
  /** A reward asked for a holdout member (code that knows no holdout): the database refuses it; never retried. */
  HOLDOUT_NEVER_REWARDED: 'HOLDOUT_NEVER_REWARDED',
  /**
   * Every reward the campaign's budget (maxRewards) allows is taken: the database refused the slot; never retried. The
   * enrollment ends BUDGET_EXHAUSTED.
   */
  BUDGET_EXHAUSTED: 'BUDGET_EXHAUSTED',
  /** The push channel (NOTIFY_URL) refused or did not answer: retried a few times, never fatal. */
  PUSH_CHANNEL_UNAVAILABLE: 'PUSH_CHANNEL_UNAVAILABLE',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];
