/**
 * Where a member stands, in words, for people reading the Temporal Web UI: the workflow's summary (fixed at
 * enrollment) and its current details (kept up to date by the workflow). Pure; Temporal markdown.
 */
import type { Verdict } from './evaluation';
import type { Totals } from './evaluation';
import type { ActivationState } from './model';
import type { EnrollmentSchedule } from './terms';

/**
 * Amounts as `AUD 550.00`. Not `A$550.00`: the Web UI's markdown reads text between two dollar signs as maths, and
 * the current details hold several amounts.
 */
export const aud = (cents: number): string => `AUD ${(cents / 100).toFixed(2)}`;

export const enrollmentSummary = (
  memberId: string,
  campaignId: string,
  targetCents: number,
  rewardPoints: number,
  schedule: EnrollmentSchedule,
): string =>
  `Member ${memberId} in ${campaignId}: load ${aud(targetCents)} by ${schedule.windowEndsAt}, no withdrawal → ${rewardPoints} points after ${schedule.evaluatesAt}`;

const WHERE: Record<ActivationState, string> = {
  ENROLLED: 'enrolled, no counted load yet',
  ACTIVE: 'loading, below the target',
  GOAL_ACHIEVED: 'on target; must not withdraw until the window ends',
  CONFIRMING: 'window over; waiting for late settlements (grace period)',
  PENDING_REWARD: 'eligible; crediting the points',
  COMPLETED: 'rewarded',
  DISQUALIFIED: 'disqualified by a withdrawal in the window',
  NOT_ELIGIBLE: 'not eligible: below the target at evaluation',
  MANUAL_REVIEW: 'the reward could not be issued: needs a person',
  CANCELLED: 'cancelled (opted out)',
};

export function currentDetails(
  state: ActivationState,
  t: Totals,
  targetCents: number,
  schedule: EnrollmentSchedule,
  verdict?: Verdict,
): string {
  const lines = [
    `**${state}** — ${WHERE[state]}`,
    `counted ${aud(t.countedCents)} of ${aud(targetCents)} (${aud(Math.max(0, targetCents - t.countedCents))} to go); instant ${aud(t.instantCents)}, settled ${aud(t.settledCents)}, pending ${aud(t.pendingCents)}`,
  ];
  if (verdict) lines.push(`verdict ${verdict.outcome} at ${verdict.decidedAt}: ${verdict.reason}`);
  else lines.push(`window ends ${schedule.windowEndsAt}; evaluates at ${schedule.evaluatesAt}`);
  return lines.join('\n');
}
