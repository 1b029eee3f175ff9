/**
 * A verdict proves itself: the enrollment's audit trail, read alone, is replayed through the same rules the member
 * workflow ran (`enrollment.ts`), and every claim the trail makes (each state change, what each piece of news did,
 * each moved deadline, the verdict and the reward's consequence) must be what the rules make of the facts before it.
 *
 * Facts are what came from outside: the enrollment (its terms and calendar), the news as received, an operator's
 * deadline change or cancellation, the reward's outcome. Claims are what the workflow concluded from them. The replay
 * feeds each fact to the reducer and expects the lines that step writes, in order; a claim line nobody expects is
 * either a deadline's step (the window's end, the verdict at `evaluatesAt`), which must not come before its time, or a
 * divergence. Lines that neither state a fact nor a conclusion (notifications, review bookkeeping, reward attempts,
 * continue-as-new) are covered by the hash chain only.
 */
import { sameValue as same } from './canonical';
import {
  apply,
  cancel,
  changeSchedule,
  evaluate,
  initialEnrollment,
  lateLine,
  rewardOutcome,
  rewardRetried,
  scheduleOf,
  windowEnded,
  type AuditLine,
  type EnrollmentState,
  type EnrollmentTerms,
  type RewardResult,
  type Step,
} from './enrollment';
import { totals, type Verdict } from './evaluation';
import { isWindowState } from './lifecycle';
import { hasVerdict, type ActivationState, type TransactionEvent } from './model';
import type { ExperimentGroup } from './holdout';
import type { AuditType } from './records';
import type { ScheduleChangeRequest } from './schedule';
import type { CampaignTerms, EnrollmentSchedule } from './terms';

/** One line of a trail as stored, in the trail's order. */
export interface TrailLine {
  position: number;
  key: string;
  type: AuditType | string;
  source: string;
  occurredAt: string;
  payload: Record<string, unknown>;
}

/** Where the replay and the trail part ways. */
export interface Divergence {
  position: number;
  key: string;
  type: string;
  problem: string;
  /** What the rules make of the facts before this line. */
  expected?: unknown;
  /** What the trail says. */
  recorded?: unknown;
}

export interface Replay {
  /** Every claim in the trail is what the rules make of its facts. */
  agrees: boolean;
  /** The first place it is not. */
  divergence?: Divergence;
  /** Where the replay stands after the trail (or at the divergence). */
  state: ActivationState;
  countedCents: number;
  verdict?: Verdict;
  /** The calendar after every recorded change. */
  schedule?: EnrollmentSchedule;
  /** How many lines were replayed (facts and claims), the rest being the chain's alone. */
  replayed: number;
}

/** The lines that state facts: each is fed to the rules. */
const FACTS = new Set([
  'TRANSACTION_RECEIVED',
  'TRANSACTION_REJECTED',
  'LATE_EVENT',
  'SCHEDULE_CHANGED',
  'CANCEL_REQUESTED',
  'REWARD_OUTCOME',
]);
/** The lines that state conclusions: each must be expected. */
const CLAIMS = new Set(['TRANSITION', 'VERDICT']);

/** The parts of a verdict that follow from the facts (the wording of `reason` is the code's, not a claim). */
const verdictClaim = (v: Partial<Verdict>): Record<string, unknown> => ({
  outcome: v.outcome,
  countedCents: v.countedCents,
  targetCents: v.targetCents,
});

/**
 * What a line claims, in a form two lines can be compared by; undefined for lines that claim nothing. `group` is the
 * enrollment's (its ENROLLED line's).
 */
function claimOf(type: string, payload: Record<string, unknown>, group?: ExperimentGroup): unknown {
  switch (type) {
    case 'TRANSITION':
      return { from: payload.from, to: payload.to };
    case 'VERDICT':
      return verdictClaim(payload as Partial<Verdict>);
    case 'TRANSACTION_RECEIVED':
      return { outcome: payload.outcome, status: payload.status };
    case 'TRANSACTION_REJECTED':
      return { problem: payload.problem };
    case 'LATE_EVENT': {
      const impact = payload.impact as { review?: { kind?: unknown }; wouldBe?: unknown } | undefined;
      // A holdout member's late news opens no review: its line claims the verdict it would have led to. (Code before
      // that rule named a review in the payload too; no rule claims it, so it is not compared.)
      if (group === 'HOLDOUT') return { wouldBe: impact?.wouldBe ?? null };
      return { review: impact?.review?.kind ?? null };
    }
    case 'SCHEDULE_CHANGED':
      return { windowEndsAt: payload.windowEndsAt, evaluatesAt: payload.evaluatesAt };
    default:
      return undefined;
  }
}

class Divergent extends Error {
  constructor(readonly divergence: Divergence) {
    super(divergence.problem);
  }
}

/** The operator's request a SCHEDULE_CHANGED line records, and when it was made: the fact, for whoever replays it. */
export function scheduleChangeOf(line: Pick<TrailLine, 'occurredAt' | 'payload'>): {
  at: string;
  request: ScheduleChangeRequest;
} {
  const p = line.payload;
  return {
    at: typeof p.changedAt === 'string' ? p.changedAt : line.occurredAt,
    request: {
      reason: String(p.reason ?? ''),
      ...(typeof p.extendWindowBy === 'string' ? { extendWindowBy: p.extendWindowBy } : {}),
      ...(typeof p.extendGraceBy === 'string' ? { extendGraceBy: p.extendGraceBy } : {}),
    },
  };
}

/** The enrollment's terms from its ENROLLED line; undefined when the trail has none. */
export function termsOf(memberId: string, lines: readonly TrailLine[]): EnrollmentTerms | undefined {
  const enrolled = lines.find((l) => l.type === 'ENROLLED');
  if (!enrolled) return undefined;
  const { campaign, schedule, group } = enrolled.payload as {
    campaign: CampaignTerms;
    schedule: EnrollmentSchedule;
    group?: ExperimentGroup;
  };
  return { campaign, schedule, memberId, ...(group ? { group } : {}) };
}

/** Replays one enrollment's trail (in trail order). Pure: the same trail always gives the same answer. */
export function replayTrail(memberId: string, lines: readonly TrailLine[]): Replay {
  const terms = termsOf(memberId, lines);
  let e: EnrollmentState = initialEnrollment();
  let replayed = 0;
  const result = (divergence?: Divergence): Replay => {
    const schedule = terms ? scheduleOf(terms, e) : undefined;
    return {
      agrees: divergence === undefined,
      ...(divergence ? { divergence } : {}),
      state: e.state,
      countedCents: e.verdict?.countedCents ?? (schedule ? totals(e.ledger, schedule).countedCents : 0),
      ...(e.verdict ? { verdict: e.verdict } : {}),
      ...(schedule ? { schedule } : {}),
      replayed,
    };
  };
  if (!terms) {
    const first = lines[0];
    return result({
      position: first?.position ?? 0,
      key: first?.key ?? '',
      type: first?.type ?? '',
      problem: 'the trail has no ENROLLED line: nothing to replay from',
    });
  }

  const claim = (type: string, payload: Record<string, unknown>): unknown => claimOf(type, payload, terms.group);
  /** Lines the rules wrote that the trail has yet to show, in order. */
  let expected: AuditLine[] = [];
  const take = (step: Step<unknown>): void => {
    e = step.enrollment;
    expected = [...expected, ...step.audit];
  };
  const diverge = (line: TrailLine, problem: string, exp?: unknown, rec?: unknown): never => {
    throw new Divergent({
      position: line.position,
      key: line.key,
      type: line.type,
      problem,
      ...(exp !== undefined ? { expected: exp } : {}),
      ...(rec !== undefined ? { recorded: rec } : {}),
    });
  };
  /** The trail's line must be the next one the rules wrote. */
  const match = (line: TrailLine): void => {
    const next = expected[0];
    if (!next) return diverge(line, `the rules wrote no ${line.type} here`, undefined, claim(line.type, line.payload));
    if (next.type !== line.type) {
      return diverge(line, `the rules wrote ${next.type} here, the trail has ${line.type}`, {
        type: next.type,
        claim: claim(next.type, next.payload),
      });
    }
    const want = claim(next.type, next.payload);
    const have = claim(line.type, line.payload);
    if (!same(want, have))
      return diverge(line, `the trail's ${line.type} is not what the rules make of it`, want, have);
    expected = expected.slice(1);
  };
  /** A claim nobody expected: the step a deadline takes, at or after the deadline. */
  const deadlineStep = (line: TrailLine): void => {
    const schedule = scheduleOf(terms, e);
    const at = Date.parse(line.occurredAt);
    if (line.type === 'TRANSITION' && line.payload.to === 'CONFIRMING' && isWindowState(e.state)) {
      if (at < Date.parse(schedule.windowEndsAt)) {
        diverge(line, `the window closed before it ended (${schedule.windowEndsAt})`, schedule.windowEndsAt);
      }
      take(windowEnded(terms, e, line.occurredAt));
    } else if (line.type === 'VERDICT' && !hasVerdict(e.state)) {
      const decidedAt = typeof line.payload.decidedAt === 'string' ? line.payload.decidedAt : line.occurredAt;
      if (Date.parse(decidedAt) < Date.parse(schedule.evaluatesAt)) {
        diverge(line, `a verdict before the grace period ended (${schedule.evaluatesAt})`, schedule.evaluatesAt);
      }
      take(evaluate(terms, e, decidedAt));
    }
  };
  /** The fact's step; its first line is the fact itself. */
  const factStep = (line: TrailLine): Step<unknown> | undefined => {
    const p = line.payload;
    switch (line.type) {
      case 'TRANSACTION_RECEIVED':
      case 'TRANSACTION_REJECTED':
        return apply(terms, e, p.event as TransactionEvent, line.occurredAt);
      case 'LATE_EVENT': {
        if (!hasVerdict(e.state)) return diverge(line, 'late news recorded before any verdict', undefined, e.state);
        const ev = p.event as TransactionEvent;
        const late = lateLine(e, ev, scheduleOf(terms, e), terms.campaign.targetCents, {}, terms.group);
        return {
          enrollment: { ...e, late: [...e.late, { event: ev }] },
          outcome: undefined,
          audit: [late],
          notifications: [],
          transitions: [],
          publish: false,
        };
      }
      case 'SCHEDULE_CHANGED': {
        const { at, request } = scheduleChangeOf(line);
        return changeSchedule(terms, e, request, at);
      }
      case 'CANCEL_REQUESTED':
        if (hasVerdict(e.state)) return diverge(line, `a cancellation after the verdict (${e.state})`);
        return cancel(terms, e, p, line.occurredAt);
      case 'REWARD_OUTCOME':
        return rewardStep(line);
      default:
        return undefined;
    }
  };
  /** The reward's outcome: the workflow's (after ELIGIBLE), or a person's retry from the review desk. */
  const rewardStep = (line: TrailLine): Step<unknown> => {
    const p = line.payload;
    if (!e.reward) return diverge(line, 'a reward outcome without an ELIGIBLE verdict', undefined, e.state);
    const result: RewardResult =
      p.status === 'ISSUED'
        ? {
            status: 'ISSUED',
            creditId: String(p.creditId),
            issuedAt: String(p.issuedAt),
            alreadyIssued: p.alreadyIssued === true,
          }
        : { status: p.status === 'BUDGET_EXHAUSTED' ? 'BUDGET_EXHAUSTED' : 'FAILED', failure: String(p.failure ?? '') };
    if (typeof p.reviewId !== 'string') return rewardOutcome(terms, e, result, line.occurredAt);
    const retried = rewardRetried(e.state, e.reward, result, p.reviewId);
    const audit: AuditLine[] = [{ type: 'REWARD_OUTCOME', source: 'OPERATOR', payload: p }];
    if (retried.transition) audit.push({ type: 'TRANSITION', source: 'OPERATOR', payload: { ...retried.transition } });
    return {
      enrollment: { ...e, state: retried.to, reward: retried.reward },
      outcome: undefined,
      audit,
      notifications: [],
      transitions: retried.transition ? [retried.transition] : [],
      publish: true,
    };
  };

  let current: TrailLine | undefined;
  try {
    for (const line of lines) {
      current = line;
      if (FACTS.has(line.type)) {
        if (expected.length > 0) {
          diverge(line, `the trail lacks the ${expected[0].type} the rules wrote before this`, {
            type: expected[0].type,
            claim: claim(expected[0].type, expected[0].payload),
          });
        }
        take(factStep(line)!);
        match(line);
        replayed += 1;
      } else if (CLAIMS.has(line.type)) {
        if (expected.length === 0) deadlineStep(line);
        match(line);
        replayed += 1;
      }
    }
    if (expected.length > 0) {
      const last = lines[lines.length - 1];
      throw new Divergent({
        position: last.position,
        key: last.key,
        type: last.type,
        problem: `the trail ends without the ${expected[0].type} the rules wrote`,
        expected: { type: expected[0].type, claim: claim(expected[0].type, expected[0].payload) },
      });
    }
  } catch (err) {
    if (err instanceof Divergent) return result(err.divergence);
    // A fact the rules cannot take (a malformed payload): that is where the trail and the rules part.
    const line = current;
    return result({
      position: line?.position ?? 0,
      key: line?.key ?? '',
      type: line?.type ?? '',
      problem: `the rules cannot replay this line: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
  return result();
}

/** What the read model says was decided, to hold the replay against (a verdict deleted from the trail shows here). */
export interface RecordedOutcome {
  state: ActivationState;
  countedCents: number;
  verdict?: Pick<Verdict, 'outcome' | 'countedCents' | 'targetCents'>;
}

/** Whether the replay reaches what the read model recorded for a decided enrollment; the problem if not. */
export function outcomeProblem(replay: Replay, recorded: RecordedOutcome): string | undefined {
  if (!hasVerdict(recorded.state)) return undefined;
  if (!replay.verdict) return `recorded ${recorded.state} with a verdict, but the trail reaches no verdict`;
  if (recorded.verdict && !same(verdictClaim(recorded.verdict), verdictClaim(replay.verdict))) {
    return `recorded verdict ${recorded.verdict.outcome} on ${recorded.verdict.countedCents} cents, the trail reaches ${replay.verdict.outcome} on ${replay.verdict.countedCents}`;
  }
  if (recorded.state !== replay.state) return `recorded ${recorded.state}, the trail reaches ${replay.state}`;
  return undefined;
}
