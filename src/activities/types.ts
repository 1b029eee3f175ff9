/** Shapes that cross the workflow ↔ activity boundary. Plain data: the workflow imports these as types. */
import type { Verdict } from '../domain/evaluation';
import type { LedgerEntry } from '../domain/ledger';
import type { NotificationType } from '../domain/model';
import type { MemberView } from '../domain/view';

export type AuditType =
  | 'ENROLLED'
  | 'TRANSACTION_RECEIVED'
  | 'TRANSACTION_REJECTED'
  | 'LATE_EVENT'
  | 'TRANSITION'
  | 'VERDICT'
  | 'CANCEL_REQUESTED'
  | 'REWARD_ATTEMPT'
  | 'REWARD_OUTCOME'
  | 'NOTIFICATION'
  | 'CONTINUED_AS_NEW'
  | 'REVIEW_OPENED'
  | 'REVIEW_RESOLVED';

export interface AuditEntry {
  /** Unique per enrollment; a retried write with the same key changes nothing. */
  key: string;
  type: AuditType;
  source: 'REALTIME' | 'SETTLEMENT' | 'API' | 'WORKFLOW' | 'REWARD' | 'NOTIFIER' | 'OPERATOR';
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
  /** Ledger entries that changed since the last record. */
  entries: LedgerEntry[];
  view: MemberView;
  /** Notifications caused by what is recorded: into the outbox, in the same transaction (the relay pushes them). */
  notifications?: NotificationMessage[];
  /**
   * What the record measures, for the worker's metrics: `heard`, the `receivedAt` of each piece of news it carries
   * (freshness: our edge heard it → the read model shows it); `historyEvents`, the run's history growth since its
   * previous record (events per piece of news). Absent from records of older workflow code.
   */
  measures?: { heard: string[]; historyEvents: number };
  /** Written only if this record creates the enrollment's row (its start was never recorded by the API). */
  ifNew?: { audit: AuditEntry[]; notifications: NotificationMessage[] };
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
