/**
 * Property: the real member workflow, on the time-skipping test server with the real activities, PostgreSQL and
 * the local points API, lives the life the reference model (reference-model.ts, from domain.md) predicts for any
 * member's news: heard during the window, during the grace period and after the verdict, with duplicates, returns,
 * settlement records that move amount or time, in any order. A few runs only: each is a whole 32-day enrollment.
 * On failure fast-check prints the seed and the (unshrunk: each run costs seconds) counterexample.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import { auditTrail } from '../../src/db/audit';
import { getEnrollment } from '../../src/db/enrollments';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor } from '../../src/domain/terms';
import { DAY, HOUR, TERMS, createBench, type Bench } from '../workflows/harness';
import {
  DAY_MS,
  heardInAnyOrder,
  modelLife,
  newsOf,
  targetFor,
  targetPick,
  transactionSpecs,
  type HeardNews,
  type ModelOutcome,
} from './reference-model';

const RUNS = 15;
const PHASES = ['WINDOW', 'GRACE', 'LATE'] as const;
type Phase = (typeof PHASES)[number];

let bench: Bench;
beforeAll(async () => {
  bench = await createBench();
});
afterAll(async () => {
  await bench?.teardown();
});

/** A member's transactions, and the order they are heard in, each piece of news in one phase of the enrollment. */
const life = fc
  .tuple(transactionSpecs(30 * DAY_MS, { minLength: 2, maxLength: 6, withdrawalWeight: 2 }), targetPick)
  .chain(([specs, target]) => {
    const indices = newsOf(specs, 'x', 0).map((_, i) => i);
    return heardInAnyOrder(indices).chain((order) =>
      fc
        .array(fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.constantFrom(1, 2), weight: 2 }), {
          minLength: order.length,
          maxLength: order.length,
        })
        .map((phases) => ({
          specs,
          target,
          heard: order
            .map((index, i) => ({ index, phase: PHASES[phases[i]] }))
            .sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase)),
        })),
    );
  });

const STATE_OF: Record<ModelOutcome, string> = {
  ELIGIBLE: 'COMPLETED',
  NOT_ELIGIBLE: 'NOT_ELIGIBLE',
  DISQUALIFIED: 'DISQUALIFIED',
};

describe('the member workflow against the reference model', () => {
  it('reaches the verdict and totals of the model for any news, and records news after the verdict as late', async () => {
    let run = 0;
    const seen: Record<ModelOutcome, number> = { ELIGIBLE: 0, NOT_ELIGIBLE: 0, DISQUALIFIED: 0 };
    await fc.assert(
      fc.asyncProperty(life, ({ specs, target, heard: plan }) =>
        bench.withWorker(async () => {
          run += 1;
          // The reward stays pending until the faults are cleared: news can then arrive after an ELIGIBLE verdict.
          bench.points.faults.clear();
          bench.points.faults.push(...Array<503>(1_000).fill(503));
          // The schedule is fixed before the workflow starts, so the model knows the window to the millisecond.
          const memberId = `prop-${run}-${Date.now()}`;
          const t0 = await bench.env.currentTimeMs();
          const schedule = scheduleFor(TERMS, new Date(t0).toISOString());
          const news = newsOf(specs, memberId, t0);
          const heardAt: Record<Phase, number> = {
            WINDOW: t0,
            GRACE: t0 + 30 * DAY + HOUR,
            LATE: t0 + 32 * DAY + 2 * HOUR,
          };
          const heard: (HeardNews & { phase: Phase })[] = plan.map((p) => ({
            news: news[p.index],
            phase: p.phase,
            heardAtMs: heardAt[p.phase],
          }));
          const targetCents = targetFor(target, modelLife(heard, schedule, 1).totals.countedCents);
          const expected = modelLife(heard, schedule, targetCents);
          const m = await bench.enroll(memberId, { campaign: { ...TERMS, targetCents }, schedule });
          seen[expected.outcome] += 1;

          /** Sends one phase's news; a closed workflow (it has its verdict) refuses signals. */
          let refused = 0;
          const send = async (phase: Phase) => {
            for (const h of heard.filter((x) => x.phase === phase)) {
              try {
                await m.handle.signal('transaction', h.news);
              } catch (err) {
                if (!(err instanceof WorkflowNotFoundError)) throw err;
                refused += 1;
              }
            }
          };
          const inPhase = (phase: Phase) => heard.filter((h) => h.phase === phase).map((h) => h.news);

          await send('WINDOW');
          const afterWindowNews = modelLife(
            heard.filter((h) => h.phase === 'WINDOW'),
            m.input.schedule,
            targetCents,
          );
          const early = (await m.view()).state;
          if (afterWindowNews.outcome === 'DISQUALIFIED') expect(early).toBe('DISQUALIFIED');
          else {
            const counted = afterWindowNews.totals.countedCents;
            expect(early).toBe(counted <= 0 ? 'ENROLLED' : counted < targetCents ? 'ACTIVE' : 'GOAL_ACHIEVED');
          }

          await bench.env.sleep(30 * DAY + HOUR);
          await send('GRACE');
          await bench.env.sleep(2 * DAY + HOUR);
          if (expected.outcome === 'ELIGIBLE') expect((await m.view()).state).toBe('PENDING_REWARD');
          await send('LATE');
          bench.points.faults.clear();

          const result = await m.handle.result();
          expect(result).toMatchObject({
            state: STATE_OF[expected.outcome],
            verdict: { outcome: expected.outcome, countedCents: expected.totals.countedCents },
          });
          if (expected.outcome === 'ELIGIBLE') expect(result.reward).toMatchObject({ status: 'ISSUED' });
          else expect(result.reward).toBeUndefined();

          // Late news changed neither the verdict nor the totals, in the workflow's view and in the read model.
          const view = await m.view();
          expect(view).toMatchObject({ state: result.state, ...expected.totals });
          const row = await getEnrollment(bench.db, TERMS.campaignId, m.memberId);
          expect(row).toMatchObject({ state: result.state, ...expected.totals });

          // Everything heard before the verdict was applied; everything after it recorded as late (or refused,
          // once the workflow had closed: the API then records it, see src/db/late.ts).
          const trail = await auditTrail(bench.db, m.handle.workflowId);
          const of = (type: string) =>
            trail.filter((a) => a.type === type).map((a) => (a.payload as { event: TransactionEvent }).event);
          expect(of('TRANSACTION_RECEIVED')).toEqual(expected.applied);
          expect(of('TRANSACTION_REJECTED')).toEqual([]);
          const late = of('LATE_EVENT');
          expect(late.length + refused).toBe(expected.late.length);
          expect(expected.late.slice(0, late.length)).toEqual(late);
          expect(inPhase('LATE').every((n) => expected.late.includes(n))).toBe(true);
          expect(bench.points.credits().filter((c) => c.memberId === m.memberId)).toHaveLength(
            expected.outcome === 'ELIGIBLE' ? 1 : 0,
          );
        }),
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
    // The runs reached more than one verdict (15 runs cannot promise all three; the pure property covers each).
    expect(Object.values(seen).filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
