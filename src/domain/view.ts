/** The member's balance view: what `GET /v1/campaigns/{c}/members/{m}` returns. */
import { scheduleOf, type EnrollmentState, type EnrollmentTerms } from './enrollment';
import { disqualifyingWithdrawal, totals, type Totals, type Verdict } from './evaluation';
import type { LedgerEntry } from './ledger';
import type { ExperimentGroup } from './holdout';
import type { ActivationState } from './model';
import type { ScheduleChange } from './schedule';
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
  /** TREATMENT, or HOLDOUT: tracked like any other, never rewarded, never told (domain/holdout.ts). */
  group: ExperimentGroup;
  state: ActivationState;
  targetCents: number;
  remainingCents: number;
  disqualifiedBy?: DisqualifiedBy;
  reward?: RewardView;
  verdict?: Verdict;
  /** The operators' changes of this enrollment's deadlines, oldest first (absent: none). */
  scheduleChanges?: ScheduleChange[];
  updatedAt: string;
}

export const remainingCents = (targetCents: number, countedCents: number): number =>
  Math.max(0, targetCents - countedCents);

/** The view of an enrollment in the given state, as of `updatedAt` (its last change). */
export function memberView(terms: EnrollmentTerms, e: EnrollmentState, updatedAt: string): MemberView {
  const { campaign, memberId } = terms;
  const schedule = scheduleOf(terms, e);
  const t = totals(e.ledger, schedule);
  const withdrawal = e.state === 'DISQUALIFIED' ? disqualifyingWithdrawal(e.ledger, schedule) : undefined;
  return {
    campaignId: campaign.campaignId,
    memberId,
    group: terms.group ?? 'TREATMENT',
    state: e.state,
    ...schedule,
    targetCents: campaign.targetCents,
    ...t,
    remainingCents: remainingCents(campaign.targetCents, t.countedCents),
    ...(withdrawal
      ? {
          disqualifiedBy: {
            transactionId: withdrawal.transactionId,
            amountCents: withdrawal.amountCents,
            channel: withdrawal.channel,
            occurredAt: withdrawal.occurredAt,
          },
        }
      : {}),
    ...(e.reward ? { reward: e.reward } : {}),
    ...(e.verdict ? { verdict: e.verdict } : {}),
    ...(e.scheduleChanges?.length ? { scheduleChanges: e.scheduleChanges } : {}),
    updatedAt,
  };
}
