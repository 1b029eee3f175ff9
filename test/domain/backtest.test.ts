import fc from 'fast-check';
import {
  backtestMember,
  BacktestTally,
  historyOf,
  outcomeUnder,
  termsWith,
  type StoredEntry,
} from '../../src/domain/backtest';
import { cancel, changeSchedule, type EnrollmentTerms } from '../../src/domain/enrollment';
import { scheduleFor, type CampaignTerms } from '../../src/domain/terms';
import {
  DAY_MS,
  heardInAnyOrder,
  modelLife,
  newsOf,
  transactionSpecs,
  type HeardNews,
} from '../properties/reference-model';
import { day, load, settlementOf, terms, withdrawal } from './fixtures';
import { Life } from './life';

const campaign = terms.campaign;
const enrolledAt = terms.schedule.enrolledAt;
const FAR = '2030-01-01T00:00:00.000Z';

/** The backtest of one life under `whatIf`, decided or not by `now`. */
const under = (life: Life, c: CampaignTerms, now = FAR, ledger: StoredEntry[] = []) =>
  outcomeUnder(c, 'M1', enrolledAt, life.terms.group, historyOf('M1', life.terms.schedule, life.lines, ledger), now);

describe('what-if terms on real history', () => {
  it('reaches every actual verdict again under the actual terms', () => {
    const eligible = new Life()
      .news(load(30_000))
      .news(load(25_000, { occurredAt: day(3) }))
      .deadlines()
      .rewarded();
    const short = new Life().news(load(30_000)).deadlines();
    const w = withdrawal(100, { occurredAt: day(2), receivedAt: day(2) });
    const disqualified = new Life().news(load(60_000)).news(w);
    const cancelled = new Life().news(load(10_000));
    cancelled.record(cancel(terms, cancelled.e, { reason: 'asked' }, day(4)), day(4));
    for (const life of [eligible, short, disqualified, cancelled]) {
      const o = under(life, campaign);
      expect({ outcome: o.outcome, counted: o.countedCents, decided: o.decided }).toEqual({
        outcome: life.e.verdict!.outcome,
        counted: life.e.verdict!.countedCents,
        decided: true,
      });
    }
  });

  it('a lower target makes a short member eligible; a higher one takes an eligible member out', () => {
    const short = new Life().news(load(30_000)).deadlines();
    expect(under(short, termsWith(campaign, { targetCents: 30_000 }))).toMatchObject({
      outcome: 'ELIGIBLE',
      countedCents: 30_000,
      activated: true,
    });
    const eligible = new Life().news(load(55_000)).deadlines().rewarded();
    expect(under(eligible, termsWith(campaign, { targetCents: 55_001 }))).toMatchObject({ outcome: 'NOT_ELIGIBLE' });
  });

  it('a shorter window leaves out a late load and a withdrawal; what was heard after the real verdict counts', () => {
    // A load on day 20, a withdrawal on day 25 (disqualified for real), then a load on day 27 heard late.
    const life = new Life()
      .news(load(30_000, { occurredAt: day(20), receivedAt: day(20) }))
      .news(withdrawal(500, { occurredAt: day(25), receivedAt: day(25) }))
      .news(load(30_000, { occurredAt: day(27), receivedAt: day(27) }));
    expect(life.e.state).toBe('DISQUALIFIED');
    expect(life.lines.filter((l) => l.type === 'LATE_EVENT')).toHaveLength(1);
    // A 24-day window holds the first load only: no withdrawal in it, A$300 counted.
    expect(under(life, termsWith(campaign, { window: 'P24D' }))).toMatchObject({
      outcome: 'NOT_ELIGIBLE',
      countedCents: 30_000,
    });
    // A 30-day window with a A$300 target: still the withdrawal on day 25.
    expect(under(life, termsWith(campaign, { targetCents: 30_000 }))).toMatchObject({ outcome: 'DISQUALIFIED' });
    // A 24-day window with a A$300 target: eligible on the first load alone.
    expect(under(life, termsWith(campaign, { window: 'P24D', targetCents: 30_000 }))).toMatchObject({
      outcome: 'ELIGIBLE',
    });
  });

  it('a longer grace period counts a settlement that came after the real verdict', () => {
    const bpay = load(50_000, { channel: 'BPAY', occurredAt: day(28), receivedAt: day(28) });
    const life = new Life()
      .news(bpay)
      .until(day(40))
      .news(settlementOf(bpay, 'SETTLED', { receivedAt: day(33) }), day(33));
    expect(life.e.verdict?.outcome).toBe('NOT_ELIGIBLE');
    expect(under(life, campaign)).toMatchObject({ outcome: 'NOT_ELIGIBLE', countedCents: 0 });
    expect(under(life, termsWith(campaign, { grace: 'P4D' }))).toMatchObject({
      outcome: 'ELIGIBLE',
      countedCents: 50_000,
    });
  });

  it("news the real run took in its timer's task counts as it did when the deadline is the same, by time if not", () => {
    // The verdict's timer fired at evaluatesAt, and a load heard 5 ms later was taken first, in the same task.
    const at = new Date(Date.parse(terms.schedule.evaluatesAt) + 5).toISOString();
    const life = new Life()
      .news(load(40_000))
      .until(day(31))
      .news(load(10_000, { receivedAt: at }), at)
      .deadlines();
    expect(life.e.verdict).toMatchObject({ outcome: 'ELIGIBLE', countedCents: 50_000 });
    expect(under(life, campaign)).toMatchObject({ outcome: 'ELIGIBLE', countedCents: 50_000 });
    expect(under(life, termsWith(campaign, { rewardPoints: 500 }))).toMatchObject({ countedCents: 50_000 });
    // A grace period that ends the very millisecond the load was heard: the verdict comes first.
    expect(under(life, termsWith(campaign, { grace: 'PT48H0.005S' }))).toMatchObject({ countedCents: 40_000 });
    // A grace period a minute shorter: the verdict came a minute before the load was heard.
    expect(under(life, termsWith(campaign, { grace: 'PT47H59M' }))).toMatchObject({
      outcome: 'NOT_ELIGIBLE',
      countedCents: 40_000,
    });
  });

  it('moves the deadlines as the operators moved them, unless the what-if had closed the window already', () => {
    const life = new Life();
    life.record(changeSchedule(terms, life.e, { extendWindowBy: 'P5D', reason: 'outage' }, day(26)), day(26));
    life.news(load(50_000, { occurredAt: day(32), receivedAt: day(32) })).deadlines();
    expect(life.e.verdict?.outcome).toBe('ELIGIBLE');
    expect(under(life, campaign)).toMatchObject({ outcome: 'ELIGIBLE' });
    // With a 28-day window the extension (asked on day 26) still lands: 28 + 5 days hold day 32.
    expect(under(life, termsWith(campaign, { window: 'P28D' }))).toMatchObject({ outcome: 'ELIGIBLE' });
    // With a 20-day window it was asked after the window had closed: refused, and the load is outside.
    expect(under(life, termsWith(campaign, { window: 'P20D' }))).toMatchObject({ outcome: 'NOT_ELIGIBLE' });
  });

  it('projects an open enrollment on what it has heard, its ledger included where the trail lags', () => {
    const first = load(20_000);
    const life = new Life().news(first);
    // The recorder wrote the view and the ledger for a second load, not yet its audit lines.
    const second = load(35_000, { occurredAt: day(5), receivedAt: day(5) });
    const ledger: StoredEntry[] = [
      {
        entry: {
          transactionId: first.transactionId,
          kind: 'LOAD',
          channel: 'DEBIT_CARD',
          amountCents: 20_000,
          occurredAt: day(1),
          status: 'INSTANT',
          firstHeardAt: day(1),
          duplicates: 0,
          heardRealtime: true,
        },
        updatedAt: day(1),
      },
      {
        entry: {
          transactionId: second.transactionId,
          kind: 'LOAD',
          channel: 'DEBIT_CARD',
          amountCents: 35_000,
          occurredAt: day(5),
          status: 'INSTANT',
          firstHeardAt: day(5),
          duplicates: 0,
          heardRealtime: true,
        },
        updatedAt: day(5),
      },
    ];
    expect(under(life, campaign, day(6))).toMatchObject({ outcome: 'NOT_ELIGIBLE', decided: false });
    expect(under(life, campaign, day(6), ledger)).toMatchObject({
      outcome: 'ELIGIBLE',
      decided: false,
      countedCents: 55_000,
    });
    // A 3-day window has ended by day 6 and closed before the second load: decided on the first alone.
    expect(under(life, termsWith(campaign, { window: 'P3D', grace: 'PT0S' }), day(6), ledger)).toMatchObject({
      outcome: 'NOT_ELIGIBLE',
      decided: true,
      countedCents: 20_000,
    });
  });

  it('tallies outcomes, costs, flips and the reproduction, never rewarding the holdout', () => {
    const tally = new BacktestTally();
    const whatIf = termsWith(campaign, { targetCents: 30_000, rewardPoints: 1_000 });
    const add = (memberId: string, group: 'TREATMENT' | 'HOLDOUT', amount: number) => {
      const t: EnrollmentTerms = { ...terms, memberId, group };
      const life = new Life(t).news(load(amount, { memberId })).deadlines();
      const recorded = { outcome: life.e.verdict!.outcome, countedCents: life.e.verdict!.countedCents };
      tally.add(
        backtestMember({
          actualTerms: campaign,
          whatIfTerms: whatIf,
          memberId,
          enrolledAt,
          group,
          history: historyOf(memberId, t.schedule, life.lines),
          recorded,
          now: FAR,
        }),
      );
    };
    add('A', 'TREATMENT', 60_000);
    add('B', 'TREATMENT', 40_000);
    add('C', 'HOLDOUT', 40_000);
    add('D', 'TREATMENT', 10_000);
    const s = tally.summary(campaign, whatIf);
    expect(s.enrollments).toBe(4);
    expect(s.actual).toMatchObject({ rewards: 1, holdoutQualified: 0, pointsCost: 2_000 });
    expect(s.actual.outcomes).toEqual({ ELIGIBLE: 1, NOT_ELIGIBLE: 3, DISQUALIFIED: 0, CANCELLED: 0 });
    expect(s.whatIf).toMatchObject({ rewards: 2, holdoutQualified: 1, pointsCost: 2_000 });
    expect(s.flips.total).toBe(2);
    expect(s.flips.byChange).toEqual([{ from: 'NOT_ELIGIBLE', to: 'ELIGIBLE', count: 2 }]);
    expect(s.flips.sample.map((f) => f.memberId)).toEqual(['B', 'C']);
    expect(s.reproduction).toMatchObject({ checked: 4, agree: 4, disagree: 0 });
    expect(s.whatIf.lift.treatment).toMatchObject({ members: 3, activated: 2 });
    expect(s.whatIf.lift.holdout).toMatchObject({ members: 1, activated: 1 });
  });

  it('with a budget, the first maxRewards eligible treated members are credited; the rest are counted as exhausted', () => {
    const tally = new BacktestTally();
    for (const memberId of ['A', 'B', 'C']) {
      const t: EnrollmentTerms = { ...terms, memberId };
      const life = new Life(t).news(load(60_000, { memberId })).deadlines();
      tally.add(
        backtestMember({
          actualTerms: campaign,
          whatIfTerms: campaign,
          memberId,
          enrolledAt,
          group: 'TREATMENT',
          history: historyOf(memberId, t.schedule, life.lines),
          recorded: { outcome: 'ELIGIBLE', countedCents: 60_000 },
          now: FAR,
        }),
      );
    }
    const s = tally.summary(campaign, termsWith(campaign, { maxRewards: 2 }));
    expect(s.actual).toMatchObject({ rewards: 3, budgetExhausted: 0, pointsCost: 6_000 });
    expect(s.whatIf).toMatchObject({ rewards: 2, budgetExhausted: 1, pointsCost: 4_000 });
    expect(s.whatIf.outcomes.ELIGIBLE).toBe(3);
  });

  it('says so when the replay under the actual terms does not reach the recorded verdict', () => {
    const life = new Life().news(load(30_000)).deadlines();
    const m = backtestMember({
      actualTerms: campaign,
      whatIfTerms: campaign,
      memberId: 'M1',
      enrolledAt,
      group: 'TREATMENT',
      history: historyOf('M1', terms.schedule, life.lines),
      recorded: { outcome: 'ELIGIBLE', countedCents: 60_000 },
      now: FAR,
    });
    expect(m.reproduction).toEqual({
      agrees: false,
      problem: 'recorded ELIGIBLE on 60000 cents, the replay reaches NOT_ELIGIBLE on 30000',
    });
  });

  it('agrees with the reference model for any news heard at any time, under any terms (property)', () => {
    const durationDays = (min: number, max: number) => fc.integer({ min, max });
    fc.assert(
      fc.property(
        transactionSpecs(30 * DAY_MS).chain((specs) =>
          fc.record({
            heard: heardInAnyOrder(newsOf(specs, 'M1', Date.parse(enrolledAt))),
            times: fc.array(fc.integer({ min: 0, max: 40 * DAY_MS }), { minLength: 30, maxLength: 30 }),
          }),
        ),
        fc.record({
          target: fc.integer({ min: 1, max: 120_000 }),
          windowDays: durationDays(1, 35),
          graceHours: fc.integer({ min: 0, max: 24 * 6 }),
        }),
        fc.boolean(),
        ({ heard, times }, w, holdout) => {
          const t: EnrollmentTerms = holdout ? { ...terms, group: 'HOLDOUT' } : terms;
          const sorted = [...times].sort((a, b) => a - b);
          const timed: HeardNews[] = heard.map((news, i) => ({
            news,
            heardAtMs: Date.parse(enrolledAt) + sorted[i % sorted.length] + i,
          }));
          timed.sort((a, b) => a.heardAtMs - b.heardAtMs);
          const life = new Life(t);
          for (const h of timed) {
            const at = new Date(h.heardAtMs).toISOString();
            life.until(at).news(h.news, at);
          }
          life.deadlines();
          const whatIf = termsWith(campaign, {
            targetCents: w.target,
            window: `P${w.windowDays}D`,
            grace: `PT${w.graceHours}H`,
          });
          const got = under(life, whatIf);
          const model = modelLife(timed, scheduleFor(whatIf, enrolledAt), w.target);
          expect({ outcome: got.outcome, counted: got.countedCents }).toEqual({
            outcome: model.outcome,
            counted: model.totals.countedCents,
          });
          const actual = under(life, campaign);
          expect({ outcome: actual.outcome, counted: actual.countedCents }).toEqual({
            outcome: life.e.verdict!.outcome,
            counted: life.e.verdict!.countedCents,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
