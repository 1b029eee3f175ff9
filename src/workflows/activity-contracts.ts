/**
 * The activities the workflows call, as the workflows see them. src/activities implements them (and says so with
 * `satisfies`); workflow code imports only these types, never the activities' module.
 */
import type {
  NotificationMessage,
  NotificationReceipt,
  ProgressRecord,
  RetriedReward,
  RewardReceipt,
  RewardRequest,
} from '../domain/records';

export interface MemberActivities {
  /** Audit lines, the member view, changed ledger entries, notifications and review items, in one transaction. */
  recordProgress(record: ProgressRecord): Promise<void>;
  /** Credits the reward once (the reward row, then the points API with the idempotency key). */
  issueReward(request: RewardRequest): Promise<RewardReceipt>;
  /** The outcome of a review's RETRY_REWARD on the read model, the audit trail and the review queue. */
  recordRetriedReward(r: RetriedReward): Promise<void>;
  /** Older runs' notifications: recorded, then pushed. */
  notify(message: NotificationMessage): Promise<NotificationReceipt>;
}

export interface ChunkRequest {
  batchId: string;
  limit: number;
}

export interface ChunkResult {
  processed: number;
  done: boolean;
}

export interface SettlementActivities {
  /** Applies the next chunk of a batch's staged lines to the member workflows, and checkpoints it. */
  applySettlementChunk(request: ChunkRequest): Promise<ChunkResult>;
  /** Marks the batch COMPLETED, or FAILED with why. */
  finishSettlementBatch(request: { batchId: string; failure?: string }): Promise<void>;
}

export interface OperationPage {
  operationId: string;
  /** The last member id of the page before (the members are taken in member-id order). */
  after?: string;
  limit: number;
}

export interface OperationPageResult {
  processed: number;
  done: boolean;
  after?: string;
}

export interface OperationActivities {
  /** Takes the selection's snapshot (once); returns how many members it holds. */
  selectOperationMembers(request: { operationId: string }): Promise<number>;
  /** Applies the action to the next page of members still PENDING, and records each one's outcome. */
  applyOperationPage(request: OperationPage): Promise<OperationPageResult>;
  /** Marks the operation COMPLETED, or FAILED with why. */
  finishOperation(request: { operationId: string; failure?: string }): Promise<void>;
}
