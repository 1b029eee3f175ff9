/**
 * What-if terms on real history: the outcome an enrollment would have had under other campaign terms (a target, a
 * window, a grace period, a reward), found by feeding what it actually heard, when it heard it, through the same
 * state machine that decided its real verdict (`enrollment.ts`). Pure: the facts come from the audit trail (and, for
 * an open enrollment, the tail of its ledger the trail does not have yet), the rules are the product's own.
 *
 * What it cannot know is how members would have behaved under other terms (a higher target might have drawn larger
 * loads): it replays what they did. The same replay under the actual terms must reach every recorded verdict, and
 * the backtest counts where it does not (`reproduces`), so a what-if rests on a replay that is first shown right.
 */
import {
  apply,
  cancel,
  changeSchedule,
  evaluate,
  initialEnrollment,
  scheduleOf,
  windowEnded,
  type CancelRequest,
  type EnrollmentState,
  type EnrollmentTerms,
} from './enrollment';
import { decideVerdict, type Verdict, type VerdictOutcome } from './evaluation';
import { liftOf, type ExperimentGroup, type GroupOutcome, type Lift } from './holdout';
import { applyEvent, type Ledger, type LedgerEntry } from './ledger';
import { isWindowState } from './lifecycle';
import { hasVerdict, type TransactionEvent } from './model';
import { scheduleChangeOf } from './proof';
import { scheduleChangeRefusal, type ScheduleChangeRequest } from './schedule';
import { scheduleFor, type CampaignTerms, type EnrollmentSchedule } from './terms';

/** The terms a backtest may change; the rest (campaign id, currency, holdout share) are the campaign's. */
export interface WhatIfTerms {
  targetCents?: number;
  rewardPoints?: number;
  window?: string;
  grace?: string;
  /** A budget (the most rewards credited); the campaign's own when absent. */
  maxRewards?: number;
}

/** The campaign's terms with the what-if's changes. */
export const termsWith = (campaign: CampaignTerms, w: WhatIfTerms): CampaignTerms => ({
  ...campaign,
  ...(w.targetCents !== undefined ? { targetCents: w.targetCents } : {}),
  ...(w.rewardPoints !== undefined ? { rewardPoints: w.rewardPoints } : {}),
  ...(w.window !== undefined ? { window: w.window } : {}),
  ...(w.grace !== undefined ? { grace: w.grace } : {}),
  ...(w.maxRewards !== undefined ? { maxRewards: w.maxRewards } : {}),
});

/** Something the enrollment was told, with when it heard it. */
export type Fact =
  | { kind: 'NEWS'; at: string; event: TransactionEvent }
  | { kind: 'SCHEDULE'; at: string; request: ScheduleChangeRequest }
  | { kind: 'CANCEL'; at: string; request: CancelRequest };

/**
 * Where a deadline of the actual run took its step among the facts (`after` facts had been taken), and the deadline
 * it was. A what-if whose deadline is that same instant takes the step at the same place, so news the real run took in
 * the same workflow task as its timer counts in the what-if exactly as it counted for real.
 */
export interface DeadlineStep {
  after: number;
  deadline: string;
}

/** An enrollment's history as the backtest replays it. */
export interface History {
  facts: Fact[];
  windowClosed?: DeadlineStep;
  evaluated?: DeadlineStep;
}

/** One line of an audit trail, in trail order: the fields the backtest reads. */
export interface HistoryLine {
  type: string;
  occurredAt: string;
  payload: Record<string, unknown>;
}

/** A stored ledger entry and when its row was last written (the read model's, for an open enrollment). */
export interface StoredEntry {
  entry: LedgerEntry;
  updatedAt: string;
}

const EVALUATED_TO = new Set(['PENDING_REWARD', 'NOT_ELIGIBLE', 'HOLDOUT_QUALIFIED']);

const later = (a: string, b: string): string => (Date.parse(a) >= Date.parse(b) ? a : b);

/**
 * The facts of a trail (in trail order), with where the real deadlines fell. `schedule` is the enrollment's calendar
 * at enrollment; `ledger`, for an open enrollment, is its stored ledger: what it holds that the trail does not yet (the
 * recorder writes audit lines behind the view) becomes news heard when its row was written, after the trail's last.
 */
export function historyOf(
  memberId: string,
  schedule: EnrollmentSchedule,
  lines: readonly HistoryLine[],
  ledger: readonly StoredEntry[] = [],
): History {
  const facts: Fact[] = [];
  let actual = schedule;
  const heard: Ledger = {};
  const h: History = { facts };
  for (const line of lines) {
    const p = line.payload;
    switch (line.type) {
      case 'TRANSACTION_RECEIVED': {
        const event = p.event as TransactionEvent;
        facts.push({ kind: 'NEWS', at: line.occurredAt, event });
        heard[event.transactionId] = applyEvent(heard[event.transactionId], event).entry;
        break;
      }
      case 'LATE_EVENT':
        facts.push({ kind: 'NEWS', at: line.occurredAt, event: p.event as TransactionEvent });
        break;
      case 'SCHEDULE_CHANGED': {
        facts.push({ kind: 'SCHEDULE', ...scheduleChangeOf(line) });
        const to = (k: 'windowEndsAt' | 'evaluatesAt'): string =>
          (p[k] as { to?: string } | undefined)?.to ?? actual[k];
        actual = { enrolledAt: actual.enrolledAt, windowEndsAt: to('windowEndsAt'), evaluatesAt: to('evaluatesAt') };
        break;
      }
      case 'CANCEL_REQUESTED':
        facts.push({ kind: 'CANCEL', at: line.occurredAt, request: p as CancelRequest });
        break;
      case 'TRANSITION':
        if (p.to === 'CONFIRMING') h.windowClosed = { after: facts.length, deadline: actual.windowEndsAt };
        else if (p.from === 'CONFIRMING' && EVALUATED_TO.has(String(p.to))) {
          h.evaluated = { after: facts.length, deadline: actual.evaluatesAt };
        }
        break;
    }
  }
  const last = facts.at(-1)?.at ?? schedule.enrolledAt;
  const tail = ledger
    .filter(({ entry }) => differs(heard[entry.transactionId], entry))
    .sort((a, b) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt));
  for (const { entry, updatedAt } of tail) {
    for (const event of newsOf(memberId, heard[entry.transactionId], entry, later(updatedAt, last))) {
      facts.push({ kind: 'NEWS', at: event.receivedAt, event });
    }
  }
  return h;
}

const differs = (known: LedgerEntry | undefined, stored: LedgerEntry): boolean =>
  !known ||
  known.status !== stored.status ||
  known.amountCents !== stored.amountCents ||
  Date.parse(known.occurredAt) !== Date.parse(stored.occurredAt);

/**
 * The news that takes what the trail knows of a transaction (`known`) to what the ledger stores: the real-time event
 * first if the feed told of it before the bank did, then the bank's record. Heard at `at`.
 */
function newsOf(memberId: string, known: LedgerEntry | undefined, stored: LedgerEntry, at: string): TransactionEvent[] {
  const base = {
    transactionId: stored.transactionId,
    memberId,
    kind: stored.kind,
    channel: stored.channel,
    currency: 'AUD' as const,
    receivedAt: at,
  };
  const settled = stored.status === 'SETTLED' || stored.status === 'RETURNED';
  const news: TransactionEvent[] = [];
  if (!known && (!settled || stored.heardRealtime)) {
    news.push({
      ...base,
      source: 'REALTIME',
      amountCents: stored.realtime?.amountCents ?? stored.amountCents,
      occurredAt: stored.realtime?.occurredAt ?? stored.occurredAt,
    });
  }
  if (settled) {
    news.push({
      ...base,
      source: 'SETTLEMENT',
      amountCents: stored.amountCents,
      occurredAt: stored.occurredAt,
      status: stored.status === 'RETURNED' ? 'RETURNED' : 'SETTLED',
      settledAt: stored.settledAt ?? at,
    });
  }
  return news;
}

/** The outcome of one enrollment under some terms. */
export interface Outcome {
  outcome: VerdictOutcome;
  /** False when the terms' `evaluatesAt` is still ahead: the outcome is the verdict on what has been heard so far. */
  decided: boolean;
  countedCents: number;
  /** Reached the target in the window (the lift's activation). */
  activated: boolean;
  /** Why, in the rules' words. */
  reason: string;
}

/**
 * Replays the history under `campaign`'s terms, for a member enrolled at `enrolledAt` in `group`: each fact at the time
 * it was heard, the window's end and the verdict at the terms' own deadlines (moved as the operators moved them, where
 * the rules allow the move). `now` ends the replay: a deadline still ahead leaves the outcome a projection.
 */
export function outcomeUnder(
  campaign: CampaignTerms,
  memberId: string,
  enrolledAt: string,
  group: ExperimentGroup | undefined,
  history: History,
  now: string,
): Outcome {
  const terms: EnrollmentTerms = {
    campaign,
    memberId,
    schedule: scheduleFor(campaign, enrolledAt),
    ...(group ? { group } : {}),
  };
  let e: EnrollmentState = initialEnrollment();
  /** The deadline takes its step before the fact numbered `i`, heard at `at`. */
  const due = (step: DeadlineStep | undefined, deadline: string, i: number, at: string): boolean =>
    step !== undefined && Date.parse(step.deadline) === Date.parse(deadline)
      ? i >= step.after
      : Date.parse(at) >= Date.parse(deadline);
  const deadlines = (i: number, at: string): void => {
    if (isWindowState(e.state) && due(history.windowClosed, scheduleOf(terms, e).windowEndsAt, i, at)) {
      e = windowEnded(terms, e, scheduleOf(terms, e).windowEndsAt).enrollment;
    }
    if (e.state === 'CONFIRMING' && due(history.evaluated, scheduleOf(terms, e).evaluatesAt, i, at)) {
      e = evaluate(terms, e, scheduleOf(terms, e).evaluatesAt).enrollment;
    }
  };
  history.facts.forEach((fact, i) => {
    deadlines(i, fact.at);
    switch (fact.kind) {
      case 'NEWS':
        e = apply(terms, e, fact.event, fact.at).enrollment;
        break;
      case 'SCHEDULE':
        if (!scheduleChangeRefusal(e.state, terms.schedule, scheduleOf(terms, e), fact.request, fact.at)) {
          e = changeSchedule(terms, e, fact.request, fact.at).enrollment;
        }
        break;
      case 'CANCEL':
        if (!hasVerdict(e.state)) e = cancel(terms, e, fact.request, fact.at).enrollment;
        break;
    }
  });
  deadlines(history.facts.length, now);
  const verdict: Verdict = e.verdict ?? decideVerdict(e.ledger, scheduleOf(terms, e), campaign.targetCents, now);
  return {
    outcome: verdict.outcome,
    decided: e.verdict !== undefined,
    countedCents: verdict.countedCents,
    activated: verdict.countedCents >= campaign.targetCents,
    reason: verdict.reason,
  };
}

/** One enrollment's backtest: what actually happened (or, if open, the projection under the actual terms) and the what-if. */
export interface MemberBacktest {
  memberId: string;
  group: ExperimentGroup;
  actual: Pick<Outcome, 'outcome' | 'decided' | 'countedCents' | 'activated'>;
  whatIf: Outcome;
  /** Decided enrollments: whether the replay under the actual terms reaches the recorded verdict, and if not, why. */
  reproduction?: { agrees: true } | { agrees: false; problem: string };
}

/** One side of the comparison (the actual terms, or the what-if's). */
export interface BacktestSide {
  /** Enrollments per verdict outcome (open ones by their projection, counted in `projected` too). */
  outcomes: Record<VerdictOutcome, number>;
  /** How many outcomes are projections: the terms' `evaluatesAt` is still ahead. */
  projected: number;
  /** Treated members with an ELIGIBLE outcome who are credited `rewardPoints`: all of them, or the budget's worth. */
  rewards: number;
  /** Treated members with an ELIGIBLE outcome past the budget (maxRewards): BUDGET_EXHAUSTED, not credited. */
  budgetExhausted: number;
  /** Holdout members with an ELIGIBLE outcome: never rewarded. */
  holdoutQualified: number;
  /** rewards × rewardPoints. */
  pointsCost: number;
  /** Activation per group, and the lift, as the campaign report computes them. */
  lift: Lift;
}

export interface Flip {
  memberId: string;
  group: ExperimentGroup;
  from: VerdictOutcome;
  to: VerdictOutcome;
  countedCents: { actual: number; whatIf: number };
  /** The what-if verdict's reason, in the rules' words. */
  reason: string;
}

export interface BacktestSummary {
  enrollments: number;
  actual: BacktestSide;
  whatIf: BacktestSide;
  flips: {
    total: number;
    /** Per change of outcome, most frequent first. */
    byChange: { from: VerdictOutcome; to: VerdictOutcome; count: number }[];
    /** Up to FLIP_SAMPLE_PER_CHANGE members of each change, in member id order. */
    sample: Flip[];
  };
  /** The replay under the actual terms against every recorded verdict. */
  reproduction: { checked: number; agree: number; disagree: number; sample: { memberId: string; problem: string }[] };
}

export const FLIP_SAMPLE_PER_CHANGE = 10;
export const REPRODUCTION_SAMPLE = 20;

class SideTally {
  readonly outcomes: Record<VerdictOutcome, number> = { ELIGIBLE: 0, NOT_ELIGIBLE: 0, DISQUALIFIED: 0, CANCELLED: 0 };
  projected = 0;
  rewards = 0;
  holdoutQualified = 0;
  readonly groups: Record<ExperimentGroup, GroupOutcome> = {
    TREATMENT: { members: 0, activated: 0 },
    HOLDOUT: { members: 0, activated: 0 },
  };

  add(group: ExperimentGroup, o: Pick<Outcome, 'outcome' | 'decided' | 'activated'>): void {
    this.outcomes[o.outcome] += 1;
    if (!o.decided) this.projected += 1;
    if (o.outcome === 'ELIGIBLE') {
      if (group === 'HOLDOUT') this.holdoutQualified += 1;
      else this.rewards += 1;
    }
    // The lift's cohorts are the ended enrollments, as in the campaign report.
    if (o.decided) {
      this.groups[group].members += 1;
      if (o.activated) this.groups[group].activated += 1;
    }
  }

  /** With a budget, the first `maxRewards` eligible members are credited, whoever they are (first come, first served). */
  side(terms: Pick<CampaignTerms, 'rewardPoints' | 'maxRewards'>): BacktestSide {
    const rewards = Math.min(this.rewards, terms.maxRewards ?? Infinity);
    const pointsCost = rewards * terms.rewardPoints;
    return {
      outcomes: { ...this.outcomes },
      projected: this.projected,
      rewards,
      budgetExhausted: this.rewards - rewards,
      holdoutQualified: this.holdoutQualified,
      pointsCost,
      lift: liftOf(this.groups.TREATMENT, this.groups.HOLDOUT, pointsCost),
    };
  }
}

/** Adds enrollments up one at a time: memory stays flat however many there are (the samples are bounded). */
export class BacktestTally {
  private enrollments = 0;
  private readonly actual = new SideTally();
  private readonly whatIf = new SideTally();
  private readonly changes = new Map<string, { from: VerdictOutcome; to: VerdictOutcome; count: number }>();
  private readonly sample: Flip[] = [];
  private readonly reproduction = {
    checked: 0,
    agree: 0,
    disagree: 0,
    sample: [] as { memberId: string; problem: string }[],
  };

  add(m: MemberBacktest): void {
    this.enrollments += 1;
    this.actual.add(m.group, m.actual);
    this.whatIf.add(m.group, m.whatIf);
    if (m.actual.outcome !== m.whatIf.outcome) {
      const key = `${m.actual.outcome}>${m.whatIf.outcome}`;
      const change = this.changes.get(key) ?? { from: m.actual.outcome, to: m.whatIf.outcome, count: 0 };
      change.count += 1;
      this.changes.set(key, change);
      if (change.count <= FLIP_SAMPLE_PER_CHANGE) {
        this.sample.push({
          memberId: m.memberId,
          group: m.group,
          from: m.actual.outcome,
          to: m.whatIf.outcome,
          countedCents: { actual: m.actual.countedCents, whatIf: m.whatIf.countedCents },
          reason: m.whatIf.reason,
        });
      }
    }
    if (m.reproduction) {
      this.reproduction.checked += 1;
      if (m.reproduction.agrees) this.reproduction.agree += 1;
      else {
        this.reproduction.disagree += 1;
        if (this.reproduction.sample.length < REPRODUCTION_SAMPLE) {
          this.reproduction.sample.push({ memberId: m.memberId, problem: m.reproduction.problem });
        }
      }
    }
  }

  summary(
    actual: Pick<CampaignTerms, 'rewardPoints' | 'maxRewards'>,
    whatIf: Pick<CampaignTerms, 'rewardPoints' | 'maxRewards'>,
  ): BacktestSummary {
    const byChange = [...this.changes.values()].sort(
      (a, b) => b.count - a.count || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
    );
    return {
      enrollments: this.enrollments,
      actual: this.actual.side(actual),
      whatIf: this.whatIf.side(whatIf),
      flips: {
        total: byChange.reduce((n, c) => n + c.count, 0),
        byChange,
        sample: [...this.sample].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)),
      },
      reproduction: { ...this.reproduction, sample: [...this.reproduction.sample] },
    };
  }
}

/** A recorded verdict, as the read model keeps it. */
export interface RecordedVerdict {
  outcome: VerdictOutcome;
  countedCents: number;
}

/**
 * One enrollment backtested: its history replayed under the actual terms (held against the recorded verdict, if it
 * has one) and under the what-if's.
 */
export function backtestMember(input: {
  actualTerms: CampaignTerms;
  whatIfTerms: CampaignTerms;
  memberId: string;
  enrolledAt: string;
  group: ExperimentGroup;
  history: History;
  recorded?: RecordedVerdict;
  now: string;
}): MemberBacktest {
  const { memberId, enrolledAt, group, history, recorded, now } = input;
  const replayed = outcomeUnder(input.actualTerms, memberId, enrolledAt, group, history, now);
  const whatIf = outcomeUnder(input.whatIfTerms, memberId, enrolledAt, group, history, now);
  if (!recorded) return { memberId, group, actual: replayed, whatIf };
  const problem = !replayed.decided
    ? `recorded ${recorded.outcome}, the replay reaches no verdict by ${now}`
    : replayed.outcome !== recorded.outcome || replayed.countedCents !== recorded.countedCents
      ? `recorded ${recorded.outcome} on ${recorded.countedCents} cents, the replay reaches ${replayed.outcome} on ${replayed.countedCents}`
      : undefined;
  return {
    memberId,
    group,
    actual: {
      outcome: recorded.outcome,
      decided: true,
      countedCents: recorded.countedCents,
      activated: recorded.countedCents >= input.actualTerms.targetCents,
    },
    whatIf,
    reproduction: problem ? { agrees: false, problem } : { agrees: true },
  };
}
