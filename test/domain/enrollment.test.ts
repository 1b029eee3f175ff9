/**
 * The enrollment's state machine (src/domain/enrollment.ts), without Temporal: each step's new state and the effects
 * it asks for, in order. The workflow tests check that the workflow carries them out.
 */
import {
  apply,
  cancel,
  cancelRefusal,
  enroll,
  evaluate,
  initialEnrollment,
  lateLine,
  rewardOutcome,
  rewardRetried,
  windowEnded,
  type EnrollmentState,
  type Step,
} from '../../src/domain/enrollment';
import { IllegalTransitionError } from '../../src/domain/lifecycle';
import type { TransactionEvent } from '../../src/domain/model';
import { TARGET, day, load, schedule, settlementOf, withdrawal, terms } from './fixtures';

/** Deeply frozen, so a step that mutated its input would throw. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/** Applies news one after the other from a fresh enrollment; returns every step. */
function hear(...events: TransactionEvent[]): Step<unknown>[] {
  const steps: Step<unknown>[] = [];
  let e: EnrollmentState = frozen(initialEnrollment());
  for (const ev of events) {
    const step = apply(terms, e, frozen(ev), day(2));
    steps.push(step);
    e = frozen(step.enrollment);
  }
  return steps;
}
const last = (steps: Step<unknown>[]) => steps[steps.length - 1];
const types = (step: Step<unknown>) => step.audit.map((a) => a.type);

function decided(...events: TransactionEvent[]): EnrollmentState {
  const e = last(hear(...events)).enrollment;
  return evaluate(terms, windowEnded(terms, e, day(30)).enrollment, day(32)).enrollment;
}

describe('an enrollment begins', () => {
  it('with its ENROLLED line and notification, and no change of state', () => {
    const step = enroll(terms, frozen(initialEnrollment()), day(0));
    expect(step.enrollment.state).toBe('ENROLLED');
    expect(types(step)).toEqual(['ENROLLED']);
    expect(step.notifications).toEqual([
      { type: 'ENROLLED', suffix: 'ENROLLED', data: { ...schedule, targetCents: TARGET } },
    ]);
  });
});

describe('news in the window', () => {
  it('the first counted load makes the member ACTIVE, changes its ledger entry and refreshes the attributes', () => {
    const tx = load(10_000);
    const [step] = hear(tx);
    expect(step.outcome).toBe('APPLIED');
    expect(step.enrollment.state).toBe('ACTIVE');
    expect(step.changedEntry).toBe(tx.transactionId);
    expect(types(step)).toEqual(['TRANSACTION_RECEIVED', 'TRANSITION']);
    expect(step.transitions).toEqual([{ from: 'ENROLLED', to: 'ACTIVE', why: 'the count changed' }]);
    expect(step.publish).toBe(true);
  });

  it('a duplicate is recorded and changes nothing else', () => {
    const tx = load(10_000);
    const step = last(hear(tx, { ...tx }));
    expect(step.outcome).toBe('DUPLICATE');
    expect(step.enrollment.state).toBe('ACTIVE');
    expect(types(step)).toEqual(['TRANSACTION_RECEIVED']);
    expect(step.transitions).toEqual([]);
  });

  it('invalid news is recorded as rejected and leaves the state as it was', () => {
    const before = last(hear(load(10_000))).enrollment;
    const step = apply(terms, frozen(before), load(5_000, { memberId: 'someone-else' }), day(2));
    expect(step.outcome).toBe('CONFLICT');
    expect(step.enrollment).toBe(before);
    expect(types(step)).toEqual(['TRANSACTION_REJECTED']);
    expect(step.publish).toBe(false);
  });

  it('reaching the target notifies; a return drops the state back; reaching it again notifies again', () => {
    const delayed = load(20_000, { channel: 'BANK_TRANSFER' });
    const steps = hear(
      load(40_000),
      delayed,
      settlementOf(delayed, 'SETTLED'), // 60,000 counted: the goal
      settlementOf(delayed, 'RETURNED'), // 40,000: back to ACTIVE
      load(15_000), // 55,000: the goal again
    );
    expect(steps.map((s) => s.enrollment.state)).toEqual([
      'ACTIVE',
      'ACTIVE',
      'GOAL_ACHIEVED',
      'ACTIVE',
      'GOAL_ACHIEVED',
    ]);
    expect(steps.flatMap((s) => s.notifications.map((n) => n.suffix))).toEqual([
      `LOAD_SETTLED:${delayed.transactionId}`,
      'GOAL_ACHIEVED:1',
      'GOAL_ACHIEVED:2',
    ]);
  });

  it('a withdrawal in the window disqualifies at once: the verdict, the transition and the notification', () => {
    const step = last(hear(load(60_000), withdrawal(1_000)));
    expect(step.enrollment.state).toBe('DISQUALIFIED');
    expect(step.enrollment.verdict?.outcome).toBe('DISQUALIFIED');
    expect(types(step)).toEqual(['TRANSACTION_RECEIVED', 'VERDICT', 'TRANSITION']);
    expect(step.notifications.map((n) => n.type)).toEqual(['DISQUALIFIED']);
  });

  it('a withdrawal outside the window changes nothing', () => {
    const step = last(hear(load(60_000), withdrawal(1_000, { occurredAt: day(-2) })));
    expect(step.enrollment.state).toBe('GOAL_ACHIEVED');
    expect(step.enrollment.verdict).toBeUndefined();
  });
});

describe('deadlines and the verdict', () => {
  it('the window ends into CONFIRMING; at evaluatesAt an eligible member waits for its reward', () => {
    const e = last(hear(load(60_000))).enrollment;
    const confirming = windowEnded(terms, frozen(e), day(30));
    expect(confirming.enrollment.state).toBe('CONFIRMING');
    expect(confirming.publish).toBe(true);
    const verdict = evaluate(terms, frozen(confirming.enrollment), day(32));
    expect(verdict.enrollment.state).toBe('PENDING_REWARD');
    expect(verdict.enrollment.reward).toEqual({ status: 'PENDING', points: 2_000, idempotencyKey: 'activation:c1:M1' });
    expect(verdict.notifications).toEqual([]);
  });

  it('below the target the member is NOT_ELIGIBLE and told so', () => {
    const e = decided(load(10_000));
    expect(e.state).toBe('NOT_ELIGIBLE');
    const step = evaluate(terms, windowEnded(terms, last(hear(load(10_000))).enrollment, day(30)).enrollment, day(32));
    expect(step.notifications.map((n) => n.type)).toEqual(['NOT_ELIGIBLE']);
  });

  it('an opt-out before the verdict cancels; after it, it is refused', () => {
    const e = last(hear(load(10_000))).enrollment;
    expect(cancelRefusal(e)).toBeUndefined();
    const step = cancel(terms, frozen(e), { reason: 'moved abroad', requestedBy: 'ops' }, day(3));
    expect(step.enrollment.state).toBe('CANCELLED');
    expect(types(step)).toEqual(['CANCEL_REQUESTED', 'VERDICT', 'TRANSITION']);
    expect(step.enrollment.verdict?.reason).toBe('cancelled: moved abroad');
    expect(cancelRefusal(step.enrollment)).toBe('the enrollment already has a verdict (CANCELLED)');
  });
});

describe('the reward', () => {
  const pending = () => decided(load(60_000));

  it('credited: COMPLETED, with the credit in the view and a notification', () => {
    const step = rewardOutcome(
      terms,
      frozen(pending()),
      { status: 'ISSUED', creditId: 'cr-1', issuedAt: day(32), alreadyIssued: false },
      day(32),
    );
    expect(step.enrollment.state).toBe('COMPLETED');
    expect(step.enrollment.reward).toMatchObject({ status: 'ISSUED', creditId: 'cr-1' });
    expect(step.notifications.map((n) => n.type)).toEqual(['REWARD_ISSUED']);
    expect(step.audit.every((a) => a.review === undefined)).toBe(true);
  });

  it('failed: MANUAL_REVIEW, and the outcome line opens a REWARD_FAILED review', () => {
    const step = rewardOutcome(terms, frozen(pending()), { status: 'FAILED', failure: 'HTTP 400' }, day(32));
    expect(step.enrollment.state).toBe('MANUAL_REVIEW');
    expect(step.audit[0]).toMatchObject({
      type: 'REWARD_OUTCOME',
      review: { kind: 'REWARD_FAILED', reason: 'the reward could not be issued: HTTP 400' },
    });
  });

  it('no slot left in the budget: BUDGET_EXHAUSTED, the member told why, nothing for a person to review', () => {
    const failure = "campaign c1's budget of 10 rewards was spent before this reward";
    const step = rewardOutcome(terms, frozen(pending()), { status: 'BUDGET_EXHAUSTED', failure }, day(32));
    expect(step.enrollment.state).toBe('BUDGET_EXHAUSTED');
    expect(step.enrollment.verdict?.outcome).toBe('ELIGIBLE');
    expect(step.enrollment.reward).toMatchObject({ status: 'FAILED', failure });
    expect(step.audit.map((a) => [a.type, a.review])).toEqual([
      ['REWARD_OUTCOME', undefined],
      ['TRANSITION', undefined],
    ]);
    expect(step.audit[1].payload).toMatchObject({ from: 'PENDING_REWARD', to: 'BUDGET_EXHAUSTED', why: failure });
    expect(step.notifications).toEqual([
      { type: 'BUDGET_EXHAUSTED', suffix: 'BUDGET_EXHAUSTED', data: { points: 2_000, reason: failure } },
    ]);
    // A holdout member never gets this far (never rewarded), and is never told anything anyway.
    const holdout = rewardOutcome(
      { ...terms, group: 'HOLDOUT' },
      frozen(pending()),
      { status: 'BUDGET_EXHAUSTED', failure },
      day(32),
    );
    expect(holdout.notifications).toEqual([]);
  });

  it("a person's retry that finds the budget spent ends BUDGET_EXHAUSTED, with no new review", () => {
    const reward = { points: 2_000, idempotencyKey: 'activation:c1:M1' };
    const spent = { status: 'BUDGET_EXHAUSTED' as const, failure: 'spent' };
    for (const from of ['MANUAL_REVIEW', 'NOT_ELIGIBLE', 'DISQUALIFIED'] as const) {
      const r = rewardRetried(from, reward, spent, 'rv-1');
      expect(r).toMatchObject({ to: 'BUDGET_EXHAUSTED', transition: { from, to: 'BUDGET_EXHAUSTED' } });
      expect(r.review).toBeUndefined();
    }
    // A slot given back later can still go to an exhausted member a person retries.
    const issued = { status: 'ISSUED' as const, creditId: 'cr', issuedAt: day(40), alreadyIssued: false };
    expect(rewardRetried('BUDGET_EXHAUSTED', reward, issued, 'rv-2').to).toBe('COMPLETED');
  });

  it("a person's retry completes a MANUAL_REVIEW enrollment, or leaves it there with a new review", () => {
    const reward = { points: 2_000, idempotencyKey: 'activation:c1:M1' };
    const ok = rewardRetried(
      'MANUAL_REVIEW',
      reward,
      { status: 'ISSUED', creditId: 'cr', issuedAt: day(33), alreadyIssued: false },
      'rv-1',
    );
    expect(ok).toMatchObject({ to: 'COMPLETED', transition: { from: 'MANUAL_REVIEW', to: 'COMPLETED' } });
    expect(ok.review).toBeUndefined();
    const again = rewardRetried('MANUAL_REVIEW', reward, { status: 'FAILED', failure: 'HTTP 500' }, 'rv-1');
    expect(again).toMatchObject({ to: 'MANUAL_REVIEW', review: { kind: 'REWARD_FAILED' } });
    expect(again.transition).toBeUndefined();
    expect(rewardRetried('COMPLETED', reward, { status: 'FAILED', failure: 'x' }, 'rv-2').to).toBe('COMPLETED');
    expect(() => rewardRetried('CANCELLED', reward, { status: 'FAILED', failure: 'x' }, 'rv-3')).toThrow(
      IllegalTransitionError,
    );
  });
});

describe('late news', () => {
  it('is recorded as late and never touches the ledger of the verdict', () => {
    const e = frozen(decided(load(10_000)));
    const late = load(45_000, { occurredAt: day(5) });
    const step = apply(terms, e, late, day(33));
    expect(step.outcome).toBe('LATE');
    expect(step.enrollment.ledger).toBe(e.ledger);
    expect(step.enrollment.late.map((l) => l.event)).toEqual([late]);
    expect(step.publish).toBe(false);
    // it would have made the member eligible: a review
    expect(step.audit).toEqual([
      expect.objectContaining({
        type: 'LATE_EVENT',
        review: expect.objectContaining({ kind: 'LATE_LOAD_WOULD_QUALIFY' }),
      }),
    ]);
  });

  it('only the first piece of news that tips the verdict opens a review', () => {
    const e = decided(load(60_000));
    const first = apply(terms, frozen(e), withdrawal(500, { occurredAt: day(4) }), day(33));
    expect(first.audit[0].review?.kind).toBe('LATE_WITHDRAWAL_AFTER_REWARD');
    const second = apply(terms, frozen(first.enrollment), withdrawal(700, { occurredAt: day(6) }), day(33));
    expect(second.audit[0].review).toBeUndefined();
  });

  it('is judged the same way for a closed enrollment (lateLine, what db/late.ts uses)', () => {
    const e = decided(load(10_000));
    const late = load(45_000, { occurredAt: day(5) });
    const line = lateLine(e, late, schedule, TARGET, { workflowClosed: true });
    expect(line.payload).toMatchObject({
      workflowClosed: true,
      impact: { actual: 'NOT_ELIGIBLE', wouldBe: 'ELIGIBLE' },
    });
    expect(line.review?.kind).toBe(apply(terms, e, late, day(33)).audit[0].review?.kind);
  });
});
