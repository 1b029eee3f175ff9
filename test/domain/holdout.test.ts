import fc from 'fast-check';
import {
  apply,
  enroll,
  evaluate,
  initialEnrollment,
  lateLine,
  windowEnded,
  type EnrollmentTerms,
} from '../../src/domain/enrollment';
import { assignGroup, bucketOf, hash32, liftOf, type GroupOutcome } from '../../src/domain/holdout';
import { rng } from '../../bench/lib/common';
import { TARGET, day, load, schedule, settlementOf, terms, withdrawal } from './fixtures';

const holdout: EnrollmentTerms = { ...terms, campaign: { ...terms.campaign, holdoutPercent: 10 }, group: 'HOLDOUT' };
const memberIds = (n: number, prefix = 'M-'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('assigning a member to a group', () => {
  it('is fixed by campaign and member id alone: the same answer every time, in any process', () => {
    // Known values: the hash must never change, or members would change group between API instances and versions.
    expect([hash32(''), hash32('a')]).toEqual([2_872_998_923, 444_641_715]);
    expect(bucketOf('cold-activation', 'M-1001')).toBe(1_157);
    expect(SNAPSHOT.map(([c, m]) => assignGroup(c, m, 50))).toEqual(SNAPSHOT.map(([, , g]) => g));
  });

  it('treats everyone without a holdout', () => {
    for (const id of memberIds(1_000)) expect(assignGroup('c1', id, 0)).toBe('TREATMENT');
    expect(assignGroup('c1', 'M-1', undefined)).toBe('TREATMENT');
  });

  it('holds out the share asked for, within sampling error, whatever the ids look like (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9-]{1,40}$/),
        fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/),
        fc.integer({ min: 1, max: 50 }),
        (campaignId, prefix, percent) => {
          const ids = memberIds(4_000, prefix);
          const held = ids.filter((id) => assignGroup(campaignId, id, percent) === 'HOLDOUT').length;
          const p = percent / 100;
          // Five standard errors: a hash that clumps fails, a fair one passes every run.
          expect(Math.abs(held / ids.length - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / ids.length));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps a holdout member in the holdout of a larger share (buckets are nested)', () => {
    for (const id of memberIds(2_000)) {
      if (assignGroup('c1', id, 10) === 'HOLDOUT') expect(assignGroup('c1', id, 30)).toBe('HOLDOUT');
    }
  });

  it('assigns independently per campaign', () => {
    const ids = memberIds(4_000);
    const both = ids.filter((id) => assignGroup('c1', id, 50) === 'HOLDOUT' && assignGroup('c2', id, 50) === 'HOLDOUT');
    expect(both.length / ids.length).toBeGreaterThan(0.2);
    expect(both.length / ids.length).toBeLessThan(0.3);
  });
});

/** A cohort of `n` members each activating with probability `p`. */
const cohort = (random: () => number, n: number, p: number): GroupOutcome => {
  let activated = 0;
  for (let i = 0; i < n; i++) if (random() < p) activated += 1;
  return { members: n, activated };
};

describe('the lift', () => {
  it('on generated cohorts whose true lift is known: the estimate centres on it, the 95% interval covers it ~95%', () => {
    const random = rng(13);
    const trueRates = { treatment: 0.3, holdout: 0.2 };
    const runs = 1_000;
    let covered = 0;
    let sum = 0;
    for (let i = 0; i < runs; i++) {
      // 20% holdout of 2,500 members.
      const lift = liftOf(cohort(random, 2_000, trueRates.treatment), cohort(random, 500, trueRates.holdout), 0);
      const ci = lift.confidenceInterval!;
      if (ci.low <= 0.1 && 0.1 <= ci.high) covered += 1;
      sum += lift.difference!;
    }
    expect(sum / runs).toBeCloseTo(0.1, 2);
    // Binomial(1000, 0.95) lies in 93.0–97.0% with probability > 0.999.
    expect(covered / runs).toBeGreaterThan(0.93);
    expect(covered / runs).toBeLessThan(0.97);
  });

  it('an interval that excludes zero when the campaign works, and includes it when it does not', () => {
    const random = rng(7);
    const works = liftOf(cohort(random, 8_000, 0.35), cohort(random, 2_000, 0.2), 0);
    expect(works.confidenceInterval!.low).toBeGreaterThan(0);
    const none = liftOf(cohort(random, 8_000, 0.2), cohort(random, 2_000, 0.2), 0);
    expect(none.confidenceInterval!.low).toBeLessThan(0);
    expect(none.confidenceInterval!.high).toBeGreaterThan(0);
  });

  it('prices each incremental activation: the points issued over the members the campaign added', () => {
    // 30% of 1,000 treated against 20% held out: 100 members activated because of the campaign; 300 rewarded.
    const lift = liftOf({ members: 1_000, activated: 300 }, { members: 250, activated: 50 }, 300 * 2_000);
    expect(lift).toMatchObject({
      treatment: { rate: 0.3 },
      holdout: { rate: 0.2 },
      difference: 0.1,
      incrementalActivated: 100,
      pointsPerIncrementalActivation: 6_000,
    });
    // Standard error √(0.3·0.7/1000 + 0.2·0.8/250) = 0.029155.
    expect(lift.confidenceInterval!.low).toBeCloseTo(0.1 - 1.96 * 0.029155, 3);
    expect(lift.confidenceInterval!.high).toBeCloseTo(0.1 + 1.96 * 0.029155, 3);
  });

  it('has no price when the campaign adds nothing, and no figures until both groups have ended enrollments', () => {
    expect(liftOf({ members: 100, activated: 20 }, { members: 100, activated: 25 }, 40_000)).toMatchObject({
      difference: -0.05,
      pointsPerIncrementalActivation: null,
    });
    expect(liftOf({ members: 100, activated: 20 }, { members: 0, activated: 0 }, 0)).toMatchObject({
      treatment: { rate: 0.2 },
      holdout: { rate: null },
      difference: null,
      confidenceInterval: null,
      pointsPerIncrementalActivation: null,
    });
  });
});

describe('the rules for a holdout member', () => {
  it('write the group into the ENROLLED line and tell the member nothing, ever', () => {
    let e = initialEnrollment();
    const started = enroll(holdout, e, day(0));
    expect(started.audit[0].payload).toMatchObject({ group: 'HOLDOUT', campaign: { holdoutPercent: 10 } });
    expect(started.notifications).toEqual([]);
    e = started.enrollment;
    const delayed = load(60_000, { channel: 'BPAY' });
    const steps = [apply(holdout, e, delayed, day(1))];
    steps.push(apply(holdout, steps[0].enrollment, settlementOf(delayed, 'SETTLED'), day(2)));
    expect(steps[1].enrollment.state).toBe('GOAL_ACHIEVED');
    expect(steps.flatMap((s) => s.notifications)).toEqual([]);
    // The same news for a treated member is told: goal reached, load settled.
    const treated = apply(terms, apply(terms, e, delayed, day(1)).enrollment, settlementOf(delayed, 'SETTLED'), day(2));
    expect(treated.notifications.map((n) => n.type).sort()).toEqual(['GOAL_ACHIEVED', 'LOAD_SETTLED']);
  });

  it('decide the same verdict, and a holdout member who qualifies is HOLDOUT_QUALIFIED with no reward', () => {
    const e = apply(holdout, initialEnrollment(), load(60_000), day(1)).enrollment;
    const closed = windowEnded(holdout, e, holdout.schedule.windowEndsAt).enrollment;
    const verdict = evaluate(holdout, closed, holdout.schedule.evaluatesAt);
    expect(verdict.enrollment).toMatchObject({ state: 'HOLDOUT_QUALIFIED', verdict: { outcome: 'ELIGIBLE' } });
    expect(verdict.enrollment.reward).toBeUndefined();
    expect(verdict.notifications).toEqual([]);
    const asTreated = evaluate(terms, closed, terms.schedule.evaluatesAt).enrollment;
    expect(asTreated).toMatchObject({ state: 'PENDING_REWARD', reward: { status: 'PENDING' } });
  });

  it('record late news with its impact and open no review item: no money rides on the verdict', () => {
    const e = apply(holdout, initialEnrollment(), load(60_000), day(1)).enrollment;
    const decided = evaluate(holdout, windowEnded(holdout, e, day(30)).enrollment, day(32)).enrollment;
    const late = withdrawal(1_000, { occurredAt: day(5), receivedAt: day(40) });
    const held = apply(holdout, decided, late, day(40));
    expect(held.audit[0]).toMatchObject({ type: 'LATE_EVENT', payload: { impact: { wouldBe: 'DISQUALIFIED' } } });
    expect(held.audit[0].review).toBeUndefined();
    // A treated member's late withdrawal after the reward is one for a person.
    const rewardedish = evaluate(terms, windowEnded(terms, e, day(30)).enrollment, day(32)).enrollment;
    expect(apply(terms, rewardedish, late, day(40)).audit[0].review).toBeDefined();
  });

  it('record late news with its impact and no review decision in the payload either, never calling them rewarded', () => {
    const decided = (loadCents: number) => {
      const e = apply(holdout, initialEnrollment(), load(loadCents), day(1)).enrollment;
      return evaluate(holdout, windowEnded(holdout, e, day(30)).enrollment, day(32)).enrollment;
    };
    const qualified = decided(60_000);
    const short = decided(10_000);
    expect([qualified.state, short.state]).toEqual(['HOLDOUT_QUALIFIED', 'NOT_ELIGIBLE']);

    // An in-window withdrawal heard after HOLDOUT_QUALIFIED, and a load that would have qualified the member.
    const withdrawn = lateLine(qualified, withdrawal(1_000, { occurredAt: day(5) }), schedule, TARGET, {}, 'HOLDOUT');
    const loaded = lateLine(short, load(45_000, { occurredAt: day(5) }), schedule, TARGET, {}, 'HOLDOUT');
    expect(withdrawn.payload.impact).toEqual({ actual: 'ELIGIBLE', wouldBe: 'DISQUALIFIED' });
    expect(loaded.payload.impact).toEqual({ actual: 'NOT_ELIGIBLE', wouldBe: 'ELIGIBLE' });
    for (const line of [withdrawn, loaded]) {
      expect(line).toMatchObject({ type: 'LATE_EVENT', payload: { state: expect.any(String) } });
      expect(line.review).toBeUndefined();
      // Never rewarded: nothing in the line may say otherwise.
      expect(JSON.stringify(line)).not.toMatch(/reward/i);
    }
    // The same news for a treated member still opens its review, typed and in the payload.
    const treated = lateLine(qualified, withdrawal(1_000, { occurredAt: day(5) }), schedule, TARGET);
    expect(treated.review?.kind).toBe('LATE_WITHDRAWAL_AFTER_REWARD');
    expect(treated.payload.impact).toMatchObject({ review: { kind: 'LATE_WITHDRAWAL_AFTER_REWARD' } });
  });
});

/** Group assignments pinned at the first release of holdouts: a change of the hash would move members. */
const SNAPSHOT: [string, string, 'HOLDOUT' | 'TREATMENT'][] = [
  ['cold-activation', 'M-1001', 'HOLDOUT'],
  ['cold-activation', 'M-1002', 'TREATMENT'],
  ['cold-activation', 'M-1003', 'HOLDOUT'],
  ['cold-activation', 'M-1004', 'TREATMENT'],
  ['c1', 'M-1001', 'TREATMENT'],
  ['c1', 'M-1003', 'HOLDOUT'],
];
