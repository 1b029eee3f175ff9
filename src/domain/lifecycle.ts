/** The explicit lifecycle of an enrollment: which state may follow which. */
import type { ActivationState } from './model';

const WINDOW_STATES: ActivationState[] = ['ENROLLED', 'ACTIVE', 'GOAL_ACHIEVED'];

export const TRANSITIONS: Readonly<Record<ActivationState, readonly ActivationState[]>> = {
  // During the window the state follows the count, both ways (a return can drop it back).
  ENROLLED: ['ACTIVE', 'GOAL_ACHIEVED', 'CONFIRMING', 'DISQUALIFIED', 'CANCELLED'],
  ACTIVE: ['ENROLLED', 'GOAL_ACHIEVED', 'CONFIRMING', 'DISQUALIFIED', 'CANCELLED'],
  GOAL_ACHIEVED: ['ENROLLED', 'ACTIVE', 'CONFIRMING', 'DISQUALIFIED', 'CANCELLED'],
  // The grace period: a late-heard in-window withdrawal still disqualifies at once.
  CONFIRMING: ['PENDING_REWARD', 'NOT_ELIGIBLE', 'DISQUALIFIED', 'CANCELLED', 'HOLDOUT_QUALIFIED'],
  // The reward: credited, not issued (a person looks), or no slot left in the campaign's budget.
  PENDING_REWARD: ['COMPLETED', 'MANUAL_REVIEW', 'BUDGET_EXHAUSTED'],
  COMPLETED: [],
  DISQUALIFIED: [],
  NOT_ELIGIBLE: [],
  MANUAL_REVIEW: [],
  CANCELLED: [],
  // A holdout member who would have qualified: never rewarded, so nothing follows.
  HOLDOUT_QUALIFIED: [],
  // Eligible, but every reward the campaign's budget allows was taken first.
  BUDGET_EXHAUSTED: [],
};

/**
 * After the verdict the workflow has closed and only a person changes the state, by resolving a review item with
 * RETRY_REWARD: a credited retry completes the enrollment, a failed one leaves it in (or puts it into)
 * MANUAL_REVIEW, and one that finds the campaign's budget spent ends it BUDGET_EXHAUSTED. A completed enrollment
 * stays completed. Nothing else ever leaves a terminal state.
 */
export const REVIEW_TRANSITIONS: Readonly<Partial<Record<ActivationState, readonly ActivationState[]>>> = {
  MANUAL_REVIEW: ['COMPLETED', 'BUDGET_EXHAUSTED'],
  NOT_ELIGIBLE: ['COMPLETED', 'MANUAL_REVIEW', 'BUDGET_EXHAUSTED'],
  DISQUALIFIED: ['COMPLETED', 'MANUAL_REVIEW', 'BUDGET_EXHAUSTED'],
  // A slot given back later (a dismissed review elsewhere) can still go to a member a person retries.
  BUDGET_EXHAUSTED: ['COMPLETED', 'MANUAL_REVIEW'],
};

export const isWindowState = (s: ActivationState): boolean => WINDOW_STATES.includes(s);

export const canTransition = (from: ActivationState, to: ActivationState): boolean => TRANSITIONS[from].includes(to);

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: ActivationState,
    readonly to: ActivationState,
  ) {
    super(`illegal transition ${from} → ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

export function assertTransition(from: ActivationState, to: ActivationState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}

export function assertReviewTransition(from: ActivationState, to: ActivationState): void {
  if (from !== to && !(REVIEW_TRANSITIONS[from] ?? []).includes(to)) throw new IllegalTransitionError(from, to);
}
