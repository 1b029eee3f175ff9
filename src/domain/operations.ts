/**
 * Bulk operations (issue 12): one action for every enrollment of a campaign a selection picks, run by a Temporal
 * workflow that pages through the selection. What an operation is, and how a member's answer is counted.
 */
import type { ActivationState } from './model';

export const OPERATION_ACTIONS = ['EXTEND_SCHEDULE', 'CANCEL', 'RETRY_REWARD'] as const;
export type OperationAction = (typeof OPERATION_ACTIONS)[number];

/** Which enrollments of the campaign: every condition given must hold (none: all of them). */
export interface Selection {
  states?: ActivationState[];
  /** `evaluatesAt` before / at or after these times. */
  evaluatesBefore?: string;
  evaluatesAfter?: string;
  countedBelow?: number;
  countedAtLeast?: number;
  memberIds?: string[];
}

export interface OperationArgs {
  extendWindowBy?: string;
  extendGraceBy?: string;
}

export interface OperationRequest {
  campaignId: string;
  select: Selection;
  action: OperationAction;
  args: OperationArgs;
  reason: string;
  requestedBy?: string;
}

/**
 * A member's outcome: CHANGED (the action took effect, once, whether on this attempt or an earlier one); REFUSED with
 * the enrollment's reason (ALREADY_DECIDED, WINDOW_CLOSED, EXTENSION_LIMIT, NO_OPEN_REVIEW: never fatal); FAILED
 * (could not be reached after retries); PENDING until the operation gets to it.
 */
export type MemberOutcome = 'PENDING' | 'CHANGED' | 'REFUSED' | 'FAILED';

export type OperationState = 'SELECTING' | 'RUNNING' | 'COMPLETED' | 'FAILED';

/** Members per page the workflow hands an activity, and updates in flight at once in it. */
export const OPERATION_PAGE_SIZE = 500;
export const OPERATION_CONCURRENCY = 64;
/** A dry run shows this many of the members it would touch. */
export const DRY_RUN_SAMPLE = 20;
