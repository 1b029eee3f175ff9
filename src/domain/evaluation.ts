/**
 * What the ledger means: the member's totals, the state during the window, the verdict and its
 * explanation. Pure functions of the ledger and the enrollment's schedule; the workflow and the API
 * both call them, so the member view and the verdict can never disagree.
 */
import type { ExperimentGroup } from './holdout';
import type { Ledger, LedgerEntry } from './ledger';
import type { ActivationState } from './model';
import type { ScheduleChange } from './schedule';
import type { EnrollmentSchedule } from './terms';

export interface Totals {
  /** In-window loads that count: instant-unsettled plus settled, returns excluded. */
  countedCents: number;
  /** In-window instant loads not yet settled. */
  instantCents: number;
  /** In-window settled loads. */
  settledCents: number;
  /** In-window delayed loads not yet settled (shown, not counted). */
  pendingCents: number;
}

export const inWindow = (occurredAt: string, schedule: EnrollmentSchedule): boolean => {
  const t = Date.parse(occurredAt);
  return Date.parse(schedule.enrolledAt) <= t && t < Date.parse(schedule.windowEndsAt);
};

export function totals(ledger: Ledger, schedule: EnrollmentSchedule): Totals {
  const t: Totals = { countedCents: 0, instantCents: 0, settledCents: 0, pendingCents: 0 };
  for (const e of Object.values(ledger)) {
    if (e.kind !== 'LOAD' || !inWindow(e.occurredAt, schedule)) continue;
    if (e.status === 'INSTANT') t.instantCents += e.amountCents;
    else if (e.status === 'SETTLED') t.settledCents += e.amountCents;
    else if (e.status === 'PENDING') t.pendingCents += e.amountCents;
  }
  t.countedCents = t.instantCents + t.settledCents;
  return t;
}

/** The withdrawal that disqualifies the member: the earliest in-window withdrawal that was not reversed. */
export function disqualifyingWithdrawal(ledger: Ledger, schedule: EnrollmentSchedule): LedgerEntry | undefined {
  let found: LedgerEntry | undefined;
  for (const e of Object.values(ledger)) {
    if (e.kind !== 'WITHDRAWAL' || e.status === 'RETURNED' || !inWindow(e.occurredAt, schedule)) continue;
    if (!found || Date.parse(e.occurredAt) < Date.parse(found.occurredAt)) found = e;
  }
  return found;
}

/** During the window the state follows the count. */
export function windowState(countedCents: number, targetCents: number): ActivationState {
  if (countedCents <= 0) return 'ENROLLED';
  return countedCents < targetCents ? 'ACTIVE' : 'GOAL_ACHIEVED';
}

export type VerdictOutcome = 'ELIGIBLE' | 'NOT_ELIGIBLE' | 'DISQUALIFIED' | 'CANCELLED';

export interface Verdict {
  outcome: VerdictOutcome;
  decidedAt: string;
  countedCents: number;
  targetCents: number;
  reason: string;
}

const dollars = (cents: number): string => `A$${(cents / 100).toFixed(2)}`;

/** The verdict at `evaluatesAt` (or earlier, for a withdrawal): eligible iff not disqualified and on target. */
export function decideVerdict(ledger: Ledger, schedule: EnrollmentSchedule, targetCents: number, at: string): Verdict {
  const { countedCents } = totals(ledger, schedule);
  const withdrawal = disqualifyingWithdrawal(ledger, schedule);
  if (withdrawal) {
    return {
      outcome: 'DISQUALIFIED',
      decidedAt: at,
      countedCents,
      targetCents,
      reason: `withdrawal ${withdrawal.transactionId} of ${dollars(withdrawal.amountCents)} on ${withdrawal.occurredAt} is inside the window`,
    };
  }
  if (countedCents >= targetCents) {
    return {
      outcome: 'ELIGIBLE',
      decidedAt: at,
      countedCents,
      targetCents,
      reason: `loaded ${dollars(countedCents)} in the window, target ${dollars(targetCents)}, no withdrawal`,
    };
  }
  return {
    outcome: 'NOT_ELIGIBLE',
    decidedAt: at,
    countedCents,
    targetCents,
    reason: `loaded ${dollars(countedCents)} in the window, below the target of ${dollars(targetCents)}`,
  };
}

/** What a holdout member's ELIGIBLE verdict means besides the rules' reason: they qualified, and get nothing for it. */
export const HOLDOUT_NEVER_REWARDED = 'in the holdout group, never rewarded';

/**
 * The verdict as people read it: a HOLDOUT member's ELIGIBLE verdict says the member is in the holdout group and never
 * rewarded (HOLDOUT_QUALIFIED). The verdict stored and audited is the rules' (`decideVerdict`), the same for both
 * groups; the wording follows from the group, so it holds for verdicts recorded before it too.
 */
export function verdictAsExplained(verdict: Verdict, group?: ExperimentGroup): Verdict {
  if (group !== 'HOLDOUT' || verdict.outcome !== 'ELIGIBLE' || verdict.reason.endsWith(HOLDOUT_NEVER_REWARDED)) {
    return verdict;
  }
  return { ...verdict, reason: `${verdict.reason}; ${HOLDOUT_NEVER_REWARDED}` };
}

export type ExclusionReason = 'OUTSIDE_WINDOW' | 'RETURNED' | 'PENDING' | 'DUPLICATE' | 'WITHDRAWAL_REVERSED';

export interface ExplainedTransaction {
  transactionId: string;
  kind: LedgerEntry['kind'];
  channel: LedgerEntry['channel'];
  amountCents: number;
  occurredAt: string;
  status: LedgerEntry['status'];
  /** Why it counts (or disqualifies) although the campaign's own window did not hold it: the window was moved. */
  detail?: string;
}

export interface Explanation {
  schedule: EnrollmentSchedule;
  targetCents: number;
  totals: Totals;
  counted: ExplainedTransaction[];
  excluded: (ExplainedTransaction & { reason: ExclusionReason; detail: string })[];
  disqualifiedBy?: ExplainedTransaction;
  /** In-window or not, withdrawals that had no effect are listed in `excluded`. */
  verdict?: Verdict;
  /** The operators' changes of the deadlines, oldest first (absent: none). */
  scheduleChanges?: ScheduleChange[];
}

const brief = (e: LedgerEntry): ExplainedTransaction => ({
  transactionId: e.transactionId,
  kind: e.kind,
  channel: e.channel,
  amountCents: e.amountCents,
  occurredAt: e.occurredAt,
  status: e.status,
});

/**
 * Each transaction counted, each one excluded with its reason, and the disqualifying withdrawal if any. With moved
 * deadlines (`changes`), what only the moved window holds says so. The verdict is worded for the member's `group`
 * (`verdictAsExplained`).
 */
export function explain(
  ledger: Ledger,
  schedule: EnrollmentSchedule,
  targetCents: number,
  verdict?: Verdict,
  changes: readonly ScheduleChange[] = [],
  group?: ExperimentGroup,
): Explanation {
  const originalEnd = changes.length > 0 ? changes[0].windowEndsAt.from : schedule.windowEndsAt;
  const extension = changes.find((c) => c.windowEndsAt.to !== c.windowEndsAt.from);
  const onlyMovedWindow = (e: LedgerEntry): { detail: string } | Record<string, never> =>
    extension && Date.parse(e.occurredAt) >= Date.parse(originalEnd)
      ? {
          detail:
            `after the campaign's window (it ended ${originalEnd}), inside it as moved to ${schedule.windowEndsAt}: ` +
            `${extension.reason}${extension.requestedBy ? ` (${extension.requestedBy})` : ''}`,
        }
      : {};
  const counted: ExplainedTransaction[] = [];
  const excluded: Explanation['excluded'] = [];
  const disqualifier = disqualifyingWithdrawal(ledger, schedule);
  const entries = Object.values(ledger).sort(
    (a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt) || a.transactionId.localeCompare(b.transactionId),
  );
  for (const e of entries) {
    const within = inWindow(e.occurredAt, schedule);
    if (e.kind === 'LOAD') {
      if (!within) {
        excluded.push({ ...brief(e), reason: 'OUTSIDE_WINDOW', detail: 'the money moved outside the window' });
      } else if (e.status === 'RETURNED') {
        excluded.push({ ...brief(e), reason: 'RETURNED', detail: 'the bank returned this load: it did not settle' });
      } else if (e.status === 'PENDING') {
        excluded.push({ ...brief(e), reason: 'PENDING', detail: 'a delayed load counts only once it has settled' });
      } else {
        counted.push({ ...brief(e), ...onlyMovedWindow(e) });
      }
    } else if (e !== disqualifier) {
      if (!within) {
        excluded.push({
          ...brief(e),
          reason: 'OUTSIDE_WINDOW',
          detail: 'a withdrawal outside the window has no effect',
        });
      } else if (e.status === 'RETURNED') {
        excluded.push({ ...brief(e), reason: 'WITHDRAWAL_REVERSED', detail: 'the bank reversed this withdrawal' });
      }
      // A second in-window withdrawal needs no line: the earliest one already disqualified the member.
    }
    if (e.duplicates > 0) {
      excluded.push({
        ...brief(e),
        reason: 'DUPLICATE',
        detail: `heard ${e.duplicates} more time${e.duplicates === 1 ? '' : 's'}; counted once`,
      });
    }
  }
  return {
    schedule,
    targetCents,
    totals: totals(ledger, schedule),
    counted,
    excluded,
    ...(disqualifier ? { disqualifiedBy: { ...brief(disqualifier), ...onlyMovedWindow(disqualifier) } } : {}),
    ...(verdict ? { verdict: verdictAsExplained(verdict, group) } : {}),
    ...(changes.length > 0 ? { scheduleChanges: [...changes] } : {}),
  };
}
