/** The member's balance view: what `GET /v1/campaigns/{c}/members/{m}` returns. */
import type { Totals, Verdict } from './evaluation';
import type { LedgerEntry } from './ledger';
import type { ActivationState } from './model';
import type { EnrollmentSchedule } from './terms';

export interface RewardView {
  status: 'PENDING' | 'ISSUED' | 'FAILED';
  points: number;
  idempotencyKey: string;
  creditId?: string;
  issuedAt?: string;
  /** Why the reward could not be issued (FAILED only). */
  failure?: string;
}

export interface DisqualifiedBy {
  transactionId: string;
  amountCents: number;
  channel: LedgerEntry['channel'];
  occurredAt: string;
}

export interface MemberView extends EnrollmentSchedule, Totals {
  campaignId: string;
  memberId: string;
  state: ActivationState;
  targetCents: number;
  remainingCents: number;
  disqualifiedBy?: DisqualifiedBy;
  reward?: RewardView;
  verdict?: Verdict;
  updatedAt: string;
}

export const remainingCents = (targetCents: number, countedCents: number): number =>
  Math.max(0, targetCents - countedCents);
