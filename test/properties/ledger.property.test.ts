/**
 * Property: for any member's news — loads on every channel, withdrawals, settlement records that change amount or
 * time, returns, duplicates, any order, in and out of the window — folding it through the product's pure rules
 * (`applyEvent`, `totals`, `decideVerdict`) gives the reference model's totals and verdict (reference-model.ts,
 * written from domain.md). fast-check prints the seed and the shrunk counterexample of a failure; replay it with
 * `fc.assert(..., { seed, path })`.
 */
import fc from 'fast-check';
import { decideVerdict, explain, totals } from '../../src/domain/evaluation';
import { applyEvent, type Ledger } from '../../src/domain/ledger';
import type { TransactionEvent } from '../../src/domain/model';
import type { EnrollmentSchedule } from '../../src/domain/terms';
import {
  DAY_MS,
  heardInAnyOrder,
  modelInWindow,
  modelTotals,
  modelVerdict,
  newsOf,
  targetFor,
  targetPick,
  transactionSpecs,
  type ModelOutcome,
} from './reference-model';

const RUNS = 400;

function fold(news: readonly TransactionEvent[]): Ledger {
  const ledger: Ledger = {};
  for (const ev of news) ledger[ev.transactionId] = applyEvent(ledger[ev.transactionId], ev).entry;
  return ledger;
}

/** An enrollment's calendar and target, and its member's news heard in some order with repeats. */
const enrollment = fc
  .record({
    enrolledAtMs: fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
    windowMs: fc.oneof(fc.constant(30 * DAY_MS), fc.integer({ min: 1_000, max: 60 * DAY_MS })),
    graceMs: fc.oneof(fc.constant(2 * DAY_MS), fc.integer({ min: 0, max: 5 * DAY_MS })),
    target: targetPick,
  })
  .chain((e) =>
    transactionSpecs(e.windowMs).chain((specs) => {
      const news = newsOf(specs, 'M-prop', e.enrolledAtMs);
      const schedule: EnrollmentSchedule = {
        enrolledAt: new Date(e.enrolledAtMs).toISOString(),
        windowEndsAt: new Date(e.enrolledAtMs + e.windowMs).toISOString(),
        evaluatesAt: new Date(e.enrolledAtMs + e.windowMs + e.graceMs).toISOString(),
      };
      const targetCents = targetFor(e.target, modelTotals(news, schedule).countedCents);
      return fc
        .record({ heard: heardInAnyOrder(news), again: heardInAnyOrder(news) })
        .map((orders) => ({ ...e, news, ...orders, schedule, targetCents }));
    }),
  );

describe('the ledger and the verdict against the reference model', () => {
  it('give the model totals and verdict for any news, in any order, however often heard', () => {
    const seen: Record<ModelOutcome, number> = { ELIGIBLE: 0, NOT_ELIGIBLE: 0, DISQUALIFIED: 0 };
    fc.assert(
      fc.property(enrollment, ({ heard, schedule, targetCents }) => {
        const ledger = fold(heard);
        const expected = modelTotals(heard, schedule);
        expect(totals(ledger, schedule)).toEqual(expected);
        const verdict = decideVerdict(ledger, schedule, targetCents, schedule.evaluatesAt);
        const outcome = modelVerdict(heard, schedule, targetCents);
        expect(verdict).toMatchObject({ outcome, countedCents: expected.countedCents, targetCents });
        seen[outcome] += 1;
      }),
      { numRuns: RUNS },
    );
    // The generator reaches every verdict (else the property proves less than it says).
    expect(Object.values(seen).every((n) => n > RUNS / 20)).toBe(true);
  });

  it('is order-independent: two orders of the same news give the same ledger figures', () => {
    fc.assert(
      fc.property(enrollment, ({ heard, again, schedule, targetCents }) => {
        const a = fold(heard);
        const b = fold(again);
        expect(totals(b, schedule)).toEqual(totals(a, schedule));
        expect(decideVerdict(b, schedule, targetCents, 'x').outcome).toBe(
          decideVerdict(a, schedule, targetCents, 'x').outcome,
        );
        for (const id of Object.keys(a)) {
          expect(b[id]).toMatchObject({
            status: a[id].status,
            amountCents: a[id].amountCents,
            occurredAt: a[id].occurredAt,
          });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('explains the verdict: each load counted or excluded with its reason, withdrawals without effect too', () => {
    fc.assert(
      fc.property(enrollment, ({ heard, schedule, targetCents }) => {
        const ledger = fold(heard);
        const x = explain(ledger, schedule, targetCents);
        expect(x.counted.reduce((sum, c) => sum + c.amountCents, 0)).toBe(modelTotals(heard, schedule).countedCents);
        for (const e of Object.values(ledger)) {
          const counted = x.counted.some((c) => c.transactionId === e.transactionId);
          const reasons = x.excluded.filter((c) => c.transactionId === e.transactionId).map((c) => c.reason);
          if (e.kind === 'WITHDRAWAL') {
            // Withdrawals never count; those without effect say why. (A second in-window withdrawal gets no line:
            // the first one already disqualified the member, and the workflow hears no news after that.)
            expect(counted).toBe(false);
            if (!modelInWindow(e.occurredAt, schedule)) expect(reasons).toContain('OUTSIDE_WINDOW');
            else if (e.status === 'RETURNED') expect(reasons).toContain('WITHDRAWAL_REVERSED');
            continue;
          }
          if (!modelInWindow(e.occurredAt, schedule)) expect(reasons).toContain('OUTSIDE_WINDOW');
          else if (e.status === 'RETURNED') expect(reasons).toContain('RETURNED');
          else if (e.status === 'PENDING') expect(reasons).toContain('PENDING');
          else expect(counted).toBe(true);
          // Heard more than once: said so, and still counted at most once.
          expect(reasons.includes('DUPLICATE')).toBe(e.duplicates > 0);
          expect(x.counted.filter((c) => c.transactionId === e.transactionId).length).toBeLessThanOrEqual(1);
        }
        expect(x.disqualifiedBy !== undefined).toBe(modelVerdict(heard, schedule, targetCents) === 'DISQUALIFIED');
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps every sum exact with loads at the largest amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), (n) => {
        const schedule: EnrollmentSchedule = {
          enrolledAt: '2026-11-01T00:00:00.000Z',
          windowEndsAt: '2026-12-01T00:00:00.000Z',
          evaluatesAt: '2026-12-03T00:00:00.000Z',
        };
        const news = Array.from({ length: n }, (_, i): TransactionEvent => ({
          source: 'REALTIME',
          transactionId: `TX-${i}`,
          memberId: 'M-prop',
          kind: 'LOAD',
          channel: 'DEBIT_CARD',
          amountCents: 100_000_000,
          currency: 'AUD',
          occurredAt: '2026-11-02T00:00:00.000Z',
          receivedAt: '2026-11-02T00:00:00.000Z',
        }));
        expect(totals(fold(news), schedule).countedCents).toBe(n * 100_000_000);
      }),
      { numRuns: 60 },
    );
  });
});
