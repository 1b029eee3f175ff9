import fc from 'fast-check';
import {
  SUMMARY_MAX,
  aud,
  currentDetails,
  deadlineSummary,
  describeNews,
  describeOptOut,
  describeScheduleChange,
  enrollmentSummary,
  recordSummary,
  rewardSummary,
  webUiText,
} from '../../src/domain/describe';
import { decideVerdict } from '../../src/domain/evaluation';
import type { ActivationState, TransactionEvent } from '../../src/domain/model';
import { ACTIVATION_STATES } from '../../src/domain/model';
import { applyEvent } from '../../src/domain/ledger';
import { TARGET, load as loadOf, schedule } from './fixtures';

describe('the member in words (Web UI)', () => {
  const t = { countedCents: 30_000, instantCents: 20_000, settledCents: 10_000, pendingCents: 5_000 };

  it('formats cents as Australian dollars', () => {
    expect(aud(0)).toBe('AUD 0.00');
    expect(aud(123_456)).toBe('AUD 1234.56');
  });

  it('summarises the enrollment once', () => {
    expect(enrollmentSummary('M-1', 'cold-activation', 50_000, 2_000, schedule)).toBe(
      `Member M-1 in cold-activation: load AUD 500.00 by ${schedule.windowEndsAt}, no withdrawal → 2000 points after ${schedule.evaluatesAt}`,
    );
  });

  it('says where the member stands, and the verdict once there is one', () => {
    const active = currentDetails('ACTIVE', t, 50_000, schedule);
    expect(active).toContain('**ACTIVE** — loading, below the target');
    expect(active).toContain('counted AUD 300.00 of AUD 500.00 (AUD 200.00 to go)');
    expect(active).toContain(`window ends ${schedule.windowEndsAt}`);
    const done = currentDetails('NOT_ELIGIBLE', t, 50_000, schedule, {
      outcome: 'NOT_ELIGIBLE',
      decidedAt: schedule.evaluatesAt,
      countedCents: 30_000,
      targetCents: 50_000,
      reason: 'below the target',
    });
    expect(done).toContain(`verdict NOT_ELIGIBLE at ${schedule.evaluatesAt}: below the target`);
  });

  const load: TransactionEvent = {
    source: 'REALTIME',
    transactionId: 'TX-1',
    memberId: 'M-1',
    kind: 'LOAD',
    channel: 'DEBIT_CARD',
    amountCents: 60_000,
    currency: 'AUD',
    occurredAt: '2026-12-01T00:00:00.000Z',
    receivedAt: '2026-12-01T00:00:01.000Z',
  };

  it('names what a piece of news carried and what it did (the signal itself says only "transaction")', () => {
    expect(describeNews(load, 'APPLIED')).toBe('load AUD 600.00 by DEBIT_CARD (TX-1, real time): applied');
    expect(
      describeNews(
        { ...load, kind: 'WITHDRAWAL', channel: 'ATM', source: 'SETTLEMENT', status: 'SETTLED', transactionId: 'S-9' },
        'DUPLICATE',
      ),
    ).toBe('withdrawal AUD 600.00 by ATM (S-9, settlement SETTLED): a duplicate, changed nothing');
    expect(describeNews(load, 'LATE')).toContain('after the verdict');
  });

  it('describes any payload a signal may carry without failing, in one bounded line', () => {
    fc.assert(
      fc.property(
        fc.anything(),
        fc.constantFrom('APPLIED', 'DUPLICATE', 'CONFLICT', 'LATE' as const),
        (ev, outcome) => {
          const text = describeNews(ev as TransactionEvent, outcome);
          expect(text.length).toBeLessThanOrEqual(SUMMARY_MAX);
          expect(text).not.toContain('\n');
        },
      ),
    );
    expect(describeNews(null as unknown as TransactionEvent, 'CONFLICT')).toBe(
      'transaction (no amount) by undefined (undefined, real time): conflicts with the record heard first, rejected',
    );
  });

  it("names an operator's change: who, which operation, which deadlines from and to", () => {
    const change = {
      changedAt: '2026-12-02T00:00:00.000Z',
      requestedBy: 'ops-carol',
      reason: 'bank file late',
      operationId: 'op-1',
      extendGraceBy: 'P1D',
      windowEndsAt: { from: schedule.windowEndsAt, to: schedule.windowEndsAt },
      evaluatesAt: { from: schedule.evaluatesAt, to: '2027-02-01T00:00:00.000Z' },
    };
    expect(describeScheduleChange(change)).toBe(
      `deadlines moved by ops-carol (operation op-1): verdict ${schedule.evaluatesAt} → 2027-02-01T00:00:00.000Z`,
    );
    const moved = { ...change, windowEndsAt: { from: schedule.windowEndsAt, to: '2027-01-30T00:00:00.000Z' } };
    expect(describeScheduleChange(moved)).toContain(`window end ${schedule.windowEndsAt} → 2027-01-30T00:00:00.000Z`);
  });

  it('names an opt-out: who asked and why, when they said', () => {
    expect(describeOptOut({})).toBe('opt-out');
    expect(describeOptOut({ requestedBy: 'app-user' })).toBe('opt-out by app-user');
    expect(describeOptOut({ requestedBy: 'app-user', reason: 'moving abroad' })).toBe(
      'opt-out by app-user: moving abroad',
    );
    expect(describeOptOut({ reason: 'no longer interested' })).toBe('opt-out: no longer interested');
  });

  it("a record's summary: the latest news, how many came before it, and where the member stands", () => {
    expect(recordSummary([], 'ENROLLED', 0, 50_000)).toBe('Record now ENROLLED, counted AUD 0.00 of AUD 500.00');
    const one = describeNews(load, 'APPLIED');
    expect(recordSummary([one], 'GOAL_ACHIEVED', 60_000, 50_000)).toBe(
      `Record ${one}; now GOAL_ACHIEVED, counted AUD 600.00 of AUD 500.00`,
    );
    expect(recordSummary(['a', 'b', one], 'GOAL_ACHIEVED', 60_000, 50_000)).toContain(`${one} (and 2 before it)`);
    expect(recordSummary(['x'.repeat(1_000)], 'ACTIVE', 1, 50_000)).toHaveLength(SUMMARY_MAX);
  });
});

/** A `$` not escaped by a backslash (itself not escaped): the Web UI's markdown would read maths from it. */
const UNESCAPED_DOLLAR = /(?:^|[^\\])(?:\\\\)*\$/;

describe('text for the Web UI (markdown with maths)', () => {
  const t = { countedCents: 55_000, instantCents: 55_000, settledCents: 0, pendingCents: 0 };

  it("shows a verdict's reason with its amounts as AUD, not as a formula between two dollar signs", () => {
    const tx = loadOf(55_000);
    const verdict = decideVerdict({ [tx.transactionId]: applyEvent(undefined, tx).entry }, schedule, TARGET, 'x');
    expect(verdict.reason).toBe('loaded A$550.00 in the window, target A$500.00, no withdrawal');
    const details = currentDetails('HOLDOUT_QUALIFIED', t, TARGET, schedule, verdict, 'HOLDOUT');
    expect(details).toContain(
      'verdict ELIGIBLE at x: loaded AUD 550.00 in the window, target AUD 500.00, no withdrawal',
    );
    expect(details).not.toContain('$');
  });

  it('escapes any other dollar sign and backslash, so the text shows as written', () => {
    expect(webUiText('refund of $5 and $6')).toBe('refund of \\$5 and \\$6');
    expect(webUiText('a\\$b')).toBe('a\\\\\\$b');
    expect(webUiText('A$12.50, A$, US$3')).toBe('AUD 12.50, A\\$, US\\$3');
    expect(webUiText('**ACTIVE** — counted AUD 1.00')).toBe('**ACTIVE** — counted AUD 1.00');
  });

  const text = fc.string({ unit: fc.constantFrom('$', '\\', 'A', '5', ' ', '.', '\n', 'x') });
  const anyText = fc.oneof(text, fc.string({ unit: 'binary' }));
  const state = fc.constantFrom(...(ACTIVATION_STATES as readonly ActivationState[]));
  const verdict = fc.record({
    outcome: fc.constantFrom('ELIGIBLE', 'NOT_ELIGIBLE', 'DISQUALIFIED', 'CANCELLED' as const),
    decidedAt: anyText,
    countedCents: fc.nat(),
    targetCents: fc.nat(),
    reason: anyText,
  });
  const group = fc.constantFrom(undefined, 'TREATMENT', 'HOLDOUT' as const);
  const calendar = fc.record({ enrolledAt: anyText, windowEndsAt: anyText, evaluatesAt: anyText });

  it('never carries an unescaped $: current details and the static summary, whatever they are made of', () => {
    fc.assert(
      fc.property(
        state,
        fc.option(verdict, { nil: undefined }),
        group,
        calendar,
        anyText,
        anyText,
        (st, v, g, c, m, k) => {
          expect(currentDetails(st, t, TARGET, c, v, g)).not.toMatch(UNESCAPED_DOLLAR);
          expect(enrollmentSummary(m, k, TARGET, 2_000, c, g)).not.toMatch(UNESCAPED_DOLLAR);
        },
      ),
    );
  });

  it("never carries an unescaped $: a record's summary, whatever the news and the opt-out said, in one bounded line", () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 4 }), state, anyText, (notes, st, reason) => {
        const heard = [...notes, describeOptOut({ reason, requestedBy: reason })];
        const summary = recordSummary(heard, st, 1, TARGET);
        expect(summary).not.toMatch(UNESCAPED_DOLLAR);
        expect(summary.length).toBeLessThanOrEqual(SUMMARY_MAX);
        expect(summary).not.toContain('\n');
      }),
    );
  });

  it('never carries an unescaped $: the timers and the reward activity', () => {
    fc.assert(
      fc.property(anyText, anyText, fc.nat(), fc.option(anyText, { nil: undefined }), (name, at, points, review) => {
        expect(deadlineSummary(name, at)).not.toMatch(UNESCAPED_DOLLAR);
        expect(rewardSummary(points, at, review)).not.toMatch(UNESCAPED_DOLLAR);
      }),
    );
    expect(deadlineSummary('Window ends', '2027-01-01T00:00:00.000Z')).toBe('Window ends at 2027-01-01T00:00:00.000Z');
    expect(rewardSummary(2_000, 'activation:c:m')).toBe('Credit 2000 points (idempotency key activation:c:m)');
    expect(rewardSummary(2_000, 'activation:c:m', 'rv-1')).toBe(
      'Credit 2000 points again for review rv-1 (idempotency key activation:c:m)',
    );
  });
});
