/**
 * What an enrollment writes down, as plain data: audit lines, notifications, review items and the progress record
 * that carries them to PostgreSQL, and the reward request and receipt. The workflow builds them, the activities and
 * the db layer store them; none of them decides anything.
 */
import type { Verdict } from './evaluation';
import type { ReviewKind } from './late';
import type { LedgerEntry } from './ledger';
import type { NotificationType } from './model';
import type { MemberView } from './view';

export type AuditType =
  | 'ENROLLED'
  | 'TRANSACTION_RECEIVED'
  | 'TRANSACTION_REJECTED'
  | 'LATE_EVENT'
  | 'TRANSITION'
  | 'VERDICT'
  | 'CANCEL_REQUESTED'
  | 'SCHEDULE_CHANGED'
  | 'REWARD_ATTEMPT'
  | 'REWARD_OUTCOME'
  | 'NOTIFICATION'
  | 'CONTINUED_AS_NEW'
  | 'REVIEW_OPENED'
  | 'REVIEW_RESOLVED'
  | 'REWARD_SLOT_RELEASED';

export type AuditSource = 'REALTIME' | 'SETTLEMENT' | 'API' | 'WORKFLOW' | 'REWARD' | 'NOTIFIER' | 'OPERATOR';

export interface AuditEntry {
  /** Unique per enrollment; a retried write with the same key changes nothing. */
  key: string;
  type: AuditType;
  source: AuditSource;
  /** When it happened (workflow time for workflow entries). */
  occurredAt: string;
  payload: Record<string, unknown>;
}

export interface ProgressRecord {
  workflowId: string;
  campaignId: string;
  memberId: string;
  rewardPoints: number;
  /** Monotonic per enrollment: an older snapshot never overwrites a newer one. */
  version: number;
  audit: AuditEntry[];
  /** Ledger entries that changed since the last record; with `ledgerComplete`, every entry of the ledger. */
  entries: LedgerEntry[];
  /**
   * `entries` is the whole ledger: stored entries it lacks are removed (what a speculative record of a failed workflow
   * task left behind). Set on durable records of runs on the safe-seams path.
   */
  ledgerComplete?: boolean;
  view: MemberView;
  /** Notifications caused by what is recorded: into the outbox, in the same transaction (the relay pushes them). */
  notifications?: NotificationMessage[];
  /**
   * Review items the rules opened with these audit lines (late news that would change the verdict, a reward that
   * could not be issued), each naming the audit line that caused it; an empty list when there are none. Absent only
   * from records of older workflow code, whose review decisions travel inside the audit payloads (see db/reviews.ts).
   */
  reviews?: ReviewItem[];
  /**
   * What the record measures, for the worker's metrics: `heard`, the `receivedAt` of each piece of news it carries
   * (freshness: our edge heard it → the read model shows it); `historyEvents`, the run's history growth since its
   * previous record (events per piece of news). Absent from records of older workflow code.
   */
  measures?: { heard: string[]; historyEvents: number };
  /** Written only if this record creates the enrollment's row (its start was never recorded by the API). */
  ifNew?: { audit: AuditEntry[]; notifications: NotificationMessage[] };
}

/** A review item as the rules open it: why, and the audit line that caused it (its key makes opening idempotent). */
export interface ReviewItem {
  kind: ReviewKind;
  reason: string;
  /** The key of the audit line that caused it. */
  causeKey: string;
  details: Record<string, unknown>;
}

export interface RewardRequest {
  workflowId: string;
  campaignId: string;
  memberId: string;
  points: number;
  idempotencyKey: string;
}

export interface RewardReceipt {
  creditId: string;
  issuedAt: string;
  /** True when the unique reward row already said ISSUED and the points API was not called again. */
  alreadyIssued: boolean;
}

/** What a review's RETRY_REWARD ended in, for the read model, the audit trail and the review queue. */
export interface RetriedReward {
  reviewId: string;
  request: RewardRequest;
  requestedBy?: string;
  receipt?: RewardReceipt;
  failure?: string;
  /** The failure is that the campaign's budget was spent (no slot): no new review item. */
  budgetExhausted?: boolean;
}

export interface NotificationMessage {
  /** Stable per notification: the push channel dedupes on it. */
  id: string;
  type: NotificationType;
  workflowId: string;
  memberId: string;
  campaignId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface NotificationReceipt {
  delivered: boolean;
  /** Why it was not delivered: no push channel configured, or the channel refused. */
  detail?: string;
}

export type { Verdict };
