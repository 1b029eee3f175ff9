/**
 * Where a member stands, in words, for people reading the Temporal Web UI: the workflow's summary (fixed at
 * enrollment), its current details (kept up to date by the workflow), and the summaries of its timers and activities.
 * Pure; Temporal markdown. Every text for the Web UI leaves here through `webUiText`.
 */
import type { Verdict } from './evaluation';
import type { Totals } from './evaluation';
import type { CancelRequest, NewsOutcome } from './enrollment';
import type { ExperimentGroup } from './holdout';
import type { ActivationState, TransactionEvent } from './model';
import type { ScheduleChange } from './schedule';
import type { EnrollmentSchedule } from './terms';

/**
 * Amounts as `AUD 550.00`. Not `A$550.00`: the Web UI's markdown reads text between two dollar signs as maths, and
 * the current details hold several amounts.
 */
export const aud = (cents: number): string => `AUD ${(cents / 100).toFixed(2)}`;

/**
 * A text made safe for the Web UI, which renders summaries and details as markdown with maths: text between two `$`
 * is a formula there (a verdict's `loaded A$550.00 …, target A$500.00` showed as `loaded A\(550.00 …, target
 * A\)500.00`). An amount written `A$550.00` (the rules' wording, in a verdict's reason) becomes `AUD 550.00`, as `aud`
 * writes amounts; any other `$`, and `\`, is escaped (`\$`, `\\`), which markdown shows as written. Every text the
 * workflows hand to Temporal to show (current details, the static summary, timer and activity summaries) passes here.
 */
export const webUiText = (text: string): string =>
  text.replace(/A\$(?=\d)/g, 'AUD ').replace(/[\\$]/g, (c) => `\\${c}`);

export const enrollmentSummary = (
  memberId: string,
  campaignId: string,
  targetCents: number,
  rewardPoints: number,
  schedule: EnrollmentSchedule,
  group?: ExperimentGroup,
): string =>
  webUiText(
    group === 'HOLDOUT'
      ? `Member ${memberId} in ${campaignId}, holdout group: tracked to ${schedule.evaluatesAt} (target ${aud(targetCents)} by ${schedule.windowEndsAt}), never rewarded or told`
      : `Member ${memberId} in ${campaignId}: load ${aud(targetCents)} by ${schedule.windowEndsAt}, no withdrawal → ${rewardPoints} points after ${schedule.evaluatesAt}`,
  );

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
  HOLDOUT_QUALIFIED: 'holdout: would have qualified; never rewarded',
  BUDGET_EXHAUSTED: "eligible, but the campaign's budget of rewards was spent first",
};

export function currentDetails(
  state: ActivationState,
  t: Totals,
  targetCents: number,
  schedule: EnrollmentSchedule,
  verdict?: Verdict,
  group?: ExperimentGroup,
): string {
  const lines = [
    `**${state}** — ${WHERE[state]}`,
    ...(group === 'HOLDOUT' ? ['holdout group: tracked like any other member, never rewarded, never told'] : []),
    `counted ${aud(t.countedCents)} of ${aud(targetCents)} (${aud(Math.max(0, targetCents - t.countedCents))} to go); instant ${aud(t.instantCents)}, settled ${aud(t.settledCents)}, pending ${aud(t.pendingCents)}`,
  ];
  if (verdict) lines.push(`verdict ${verdict.outcome} at ${verdict.decidedAt}: ${verdict.reason}`);
  else lines.push(`window ends ${schedule.windowEndsAt}; evaluates at ${schedule.evaluatesAt}`);
  return webUiText(lines.join('\n'));
}

/** A summary is one line the Web UI shows beside an event: this long at most. */
export const SUMMARY_MAX = 240;

/** One line (a summary is single-line markdown), at most SUMMARY_MAX long; never cut inside an escape (`\$`). */
const clip = (text: string): string => {
  const line = text.replace(/\s+/g, ' ');
  if (line.length <= SUMMARY_MAX) return line;
  const cut = line.slice(0, SUMMARY_MAX - 1);
  const backslashes = /\\*$/.exec(cut)![0].length;
  return `${backslashes % 2 === 1 ? cut.slice(0, -1) : cut}…`;
};

/** A timer's summary: the deadline it waits for, e.g. `Window ends at 2027-01-01T…`. */
export const deadlineSummary = (name: string, at: string): string => clip(webUiText(`${name} at ${at}`));

/** The reward activity's summary: what it credits, with which idempotency key (and for which review, on a retry). */
export const rewardSummary = (points: number, idempotencyKey: string, reviewId?: string): string =>
  clip(
    webUiText(
      `Credit ${points} points ${reviewId === undefined ? '' : `again for review ${reviewId} `}(idempotency key ${idempotencyKey})`,
    ),
  );

const NEWS_OUTCOME: Record<NewsOutcome, string> = {
  APPLIED: 'applied',
  DUPLICATE: 'a duplicate, changed nothing',
  CONFLICT: 'conflicts with the record heard first, rejected',
  LATE: 'after the verdict, kept for review',
};

/** What a piece of news carried and what it did, e.g. `load AUD 600.00 by DEBIT_CARD (TX-1, real time): applied`. */
export function describeNews(ev: TransactionEvent, outcome: NewsOutcome): string {
  // A signal's payload is whatever was sent: never let describing it fail the workflow task.
  const e: Partial<TransactionEvent> = typeof ev === 'object' && ev !== null ? ev : {};
  const what = e.kind === 'LOAD' ? 'load' : e.kind === 'WITHDRAWAL' ? 'withdrawal' : 'transaction';
  const amount =
    typeof e.amountCents === 'number' && Number.isFinite(e.amountCents) ? aud(e.amountCents) : '(no amount)';
  const how = e.source === 'SETTLEMENT' ? `settlement${e.status ? ` ${String(e.status)}` : ''}` : 'real time';
  return clip(
    `${what} ${amount} by ${String(e.channel)} (${String(e.transactionId)}, ${how}): ${NEWS_OUTCOME[outcome]}`,
  );
}

/** An operator's change, e.g. `deadlines moved by ops-carol (operation op-1): verdict 2027-01-03T… → 2027-01-04T…`. */
export function describeScheduleChange(c: ScheduleChange): string {
  const who = `${c.requestedBy ?? 'an operator'}${c.operationId ? ` (operation ${c.operationId})` : ''}`;
  const moved = [
    c.windowEndsAt.from !== c.windowEndsAt.to ? `window end ${c.windowEndsAt.from} → ${c.windowEndsAt.to}` : '',
    `verdict ${c.evaluatesAt.from} → ${c.evaluatesAt.to}`,
  ].filter(Boolean);
  return `deadlines moved by ${who}: ${moved.join(', ')}`;
}

/** A member's opt-out, e.g. `opt-out by app-user: moving abroad`. */
export const describeOptOut = (req: CancelRequest): string =>
  `opt-out${req.requestedBy ? ` by ${req.requestedBy}` : ''}${req.reason ? `: ${req.reason}` : ''}`;

/**
 * The summary of one record of the member's progress, named for what it carries: the news heard since the last
 * record (the signal or update just before it in the timeline says only its name), then where the member stands.
 */
export function recordSummary(
  heard: readonly string[],
  state: ActivationState,
  countedCents: number,
  targetCents: number,
): string {
  const news =
    heard.length === 0
      ? ''
      : heard.length === 1
        ? `${heard[0]}; `
        : `${heard[heard.length - 1]} (and ${heard.length - 1} before it); `;
  return clip(webUiText(`Record ${news}now ${state}, counted ${aud(countedCents)} of ${aud(targetCents)}`));
}
