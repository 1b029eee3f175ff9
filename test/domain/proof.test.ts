import fc from 'fast-check';
import { cancel, changeSchedule, rewardOutcome, scheduleOf, type EnrollmentTerms } from '../../src/domain/enrollment';
import { replayTrail, outcomeProblem, type TrailLine } from '../../src/domain/proof';
import type { TransactionEvent } from '../../src/domain/model';
import { day, load, settlementOf, terms, withdrawal } from './fixtures';
import { Life } from './life';

const edited = (lines: TrailLine[], position: number, payload: Record<string, unknown>): TrailLine[] =>
  lines.map((l) => (l.position === position ? { ...l, payload: { ...l.payload, ...payload } } : l));

describe('replaying an audit trail through the rules', () => {
  it('reaches the verdict of an eligible member, the reward and every state on the way', () => {
    const life = new Life()
      .news(load(30_000))
      .news(load(25_000, { occurredAt: day(3), receivedAt: day(3) }))
      .deadlines()
      .rewarded();
    const replay = replayTrail('M1', life.lines);
    expect(replay).toMatchObject({ agrees: true, state: 'COMPLETED', countedCents: 55_000 });
    expect(replay.verdict?.outcome).toBe('ELIGIBLE');
    expect(replay.replayed).toBe(life.lines.filter((l) => l.type !== 'ENROLLED').length);
  });

  it('proves a member who found the budget spent, and catches a trail that claims a failure instead', () => {
    const life = new Life().news(load(60_000)).deadlines();
    const at = life.lines.at(-1)!.occurredAt;
    life.record(rewardOutcome(terms, life.e, { status: 'BUDGET_EXHAUSTED', failure: 'spent' }, at), at);
    const replay = replayTrail('M1', life.lines);
    expect(replay).toMatchObject({ agrees: true, state: 'BUDGET_EXHAUSTED' });
    expect(outcomeProblem(replay, { state: 'BUDGET_EXHAUSTED', countedCents: 60_000 })).toBeUndefined();
    const outcome = life.lines.find((l) => l.type === 'REWARD_OUTCOME')!;
    // The same trail saying the reward failed leads to MANUAL_REVIEW: its BUDGET_EXHAUSTED transition diverges.
    expect(replayTrail('M1', edited(life.lines, outcome.position, { status: 'FAILED' })).agrees).toBe(false);
  });

  it('agrees with a disqualification, a cancellation, rejected news, late news and a moved deadline', () => {
    const w = withdrawal(1_000, { occurredAt: day(2), receivedAt: day(2) });
    const disqualified = new Life().news(load(60_000)).news(w).news(settlementOf(w, 'RETURNED'));
    expect(replayTrail('M1', disqualified.lines)).toMatchObject({ agrees: true, state: 'DISQUALIFIED' });

    const cancelled = new Life().news(load(10_000));
    cancelled.record(cancel(terms, cancelled.e, { reason: 'asked', requestedBy: 'ops' }, day(4)), day(4));
    expect(replayTrail('M1', cancelled.lines)).toMatchObject({ agrees: true, state: 'CANCELLED' });

    const rejected = new Life().news(load(10_000, { memberId: 'SOMEONE-ELSE' }));
    expect(rejected.lines.map((l) => l.type)).toContain('TRANSACTION_REJECTED');
    expect(replayTrail('M1', rejected.lines).agrees).toBe(true);

    // Only the moved window holds the load: the replay counts it because the trail moved the window first.
    const late = load(50_000, { occurredAt: day(31), receivedAt: day(31) });
    const moved = new Life();
    moved.record(changeSchedule(terms, moved.e, { extendWindowBy: 'P5D', reason: 'outage' }, day(29)), day(29));
    moved
      .news(late)
      .deadlines()
      .rewarded()
      .news(load(10, { occurredAt: day(33), receivedAt: day(40) }));
    const replay = replayTrail('M1', moved.lines);
    expect(replay).toMatchObject({ agrees: true, state: 'COMPLETED', countedCents: 50_000 });
    expect(replay.schedule?.windowEndsAt).toBe(
      new Date(Date.parse(terms.schedule.windowEndsAt) + 5 * 86_400_000).toISOString(),
    );
  });

  it("proves a holdout member's trail: the group is a fact of the ENROLLED line, HOLDOUT_QUALIFIED its claim", () => {
    const holdout: EnrollmentTerms = {
      ...terms,
      campaign: { ...terms.campaign, holdoutPercent: 20 },
      group: 'HOLDOUT',
    };
    const life = new Life(holdout).news(load(60_000)).deadlines();
    expect(life.e.state).toBe('HOLDOUT_QUALIFIED');
    expect(life.lines[0].payload).toMatchObject({ group: 'HOLDOUT' });
    expect(replayTrail('M1', life.lines)).toMatchObject({ agrees: true, state: 'HOLDOUT_QUALIFIED' });
    // The same facts for a treated member lead to PENDING_REWARD: a trail whose group was taken away diverges.
    const { group: _group, ...treated } = life.lines[0].payload;
    const regrouped = life.lines.map((l) => (l.position === 1 ? { ...l, payload: treated } : l));
    expect(replayTrail('M1', regrouped)).toMatchObject({ agrees: false });
  });

  it("proves a holdout member's late news by its impact, in trails from before and after its line lost its review", () => {
    const holdout: EnrollmentTerms = { ...terms, group: 'HOLDOUT' };
    const late = withdrawal(1_000, { occurredAt: day(5), receivedAt: day(40) });
    const life = new Life(holdout).news(load(60_000)).deadlines().news(late);
    const line = life.lines.find((l) => l.type === 'LATE_EVENT')!;
    expect(line.payload.impact).toEqual({ actual: 'ELIGIBLE', wouldBe: 'DISQUALIFIED' });
    expect(replayTrail('M1', life.lines)).toMatchObject({ agrees: true, state: 'HOLDOUT_QUALIFIED' });
    // Code before the fix named a review in the payload (never a rule's claim for a holdout): its trails still prove.
    const review = { kind: 'LATE_WITHDRAWAL_AFTER_REWARD', reason: 'inside the window of a rewarded member' };
    const older = edited(life.lines, line.position, { impact: { ...(line.payload.impact as object), review } });
    expect(replayTrail('M1', older)).toMatchObject({ agrees: true, state: 'HOLDOUT_QUALIFIED' });
    // A line claiming another impact than the facts give is caught.
    const tampered = edited(life.lines, line.position, { impact: { actual: 'ELIGIBLE', wouldBe: 'ELIGIBLE' } });
    expect(replayTrail('M1', tampered)).toMatchObject({ agrees: false, divergence: { position: line.position } });
  });

  it('reads payloads whatever order their keys come back in (jsonb keeps its own)', () => {
    const reversed = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reversed)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reversed(x)]),
            )
          : v;
    const life = new Life();
    life.record(changeSchedule(terms, life.e, { extendWindowBy: 'P2D', reason: 'outage' }, day(3)), day(3));
    life.news(load(60_000)).deadlines().rewarded();
    const trail = life.lines.map((l) => ({ ...l, payload: reversed(l.payload) as Record<string, unknown> }));
    expect(replayTrail('M1', trail)).toMatchObject({ agrees: true, state: 'COMPLETED' });
  });

  it('names the first line whose claim the facts do not support', () => {
    const life = new Life().news(load(30_000)).deadlines();
    const verdict = life.lines.find((l) => l.type === 'VERDICT')!;
    const replay = replayTrail('M1', edited(life.lines, verdict.position, { outcome: 'ELIGIBLE' }));
    expect(replay.agrees).toBe(false);
    expect(replay.divergence).toMatchObject({ position: verdict.position, type: 'VERDICT' });
    expect(replay.divergence?.expected).toMatchObject({ outcome: 'NOT_ELIGIBLE', countedCents: 30_000 });
    expect(replay.divergence?.recorded).toMatchObject({ outcome: 'ELIGIBLE' });
  });

  it('catches an amount edited in a fact: the claims after it no longer follow', () => {
    const life = new Life().news(load(60_000)).deadlines().rewarded();
    const received = life.lines.find((l) => l.type === 'TRANSACTION_RECEIVED')!;
    const event = { ...(received.payload.event as TransactionEvent), amountCents: 6_000 };
    const replay = replayTrail('M1', edited(life.lines, received.position, { event }));
    expect(replay.agrees).toBe(false);
    // 6,000 cents make ACTIVE, not GOAL_ACHIEVED: the very next transition says otherwise.
    expect(replay.divergence).toMatchObject({ type: 'TRANSITION', position: received.position + 1 });
  });

  it('refuses a verdict before its time and a window that closed early', () => {
    const life = new Life().news(load(60_000)).deadlines();
    const verdict = life.lines.find((l) => l.type === 'VERDICT')!;
    const early = edited(life.lines, verdict.position, { decidedAt: day(20) });
    expect(replayTrail('M1', early).divergence?.problem).toMatch(/before the grace period ended/);

    const confirming = life.lines.find((l) => l.type === 'TRANSITION' && l.payload.to === 'CONFIRMING')!;
    const closedEarly = life.lines.map((l) => (l.position === confirming.position ? { ...l, occurredAt: day(10) } : l));
    expect(replayTrail('M1', closedEarly).divergence?.problem).toMatch(/window closed before it ended/);
  });

  it('sees a deleted line: a claim is missing, or one is left without its cause', () => {
    const life = new Life().news(load(60_000)).deadlines().rewarded();
    for (const gone of life.lines.filter((l) => l.type !== 'ENROLLED')) {
      const trail = life.lines.filter((l) => l !== gone);
      const replay = replayTrail('M1', trail);
      const recorded = {
        state: 'COMPLETED' as const,
        countedCents: 60_000,
        verdict: replay.verdict && { outcome: 'ELIGIBLE' as const, countedCents: 60_000, targetCents: 50_000 },
      };
      // Either the replay diverges, or (the trail's last lines gone) it falls short of what was recorded.
      const caught = !replay.agrees || outcomeProblem(replay, recorded) !== undefined;
      expect({ deleted: gone.type, position: gone.position, caught }).toEqual({
        deleted: gone.type,
        position: gone.position,
        caught: true,
      });
    }
    expect(
      replayTrail(
        'M1',
        life.lines.filter((l) => l.type !== 'ENROLLED'),
      ).divergence?.problem,
    ).toMatch(/no ENROLLED/);
  });

  it('holds for any news in any order: the trail the rules write always replays to the same end (property)', () => {
    const event = fc.record({
      kind: fc.constantFrom('LOAD', 'WITHDRAWAL'),
      amountCents: fc.integer({ min: 1, max: 80_000 }),
      day: fc.integer({ min: -2, max: 34 }),
      settle: fc.constantFrom(undefined, 'SETTLED', 'RETURNED'),
      heardDay: fc.integer({ min: 0, max: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 12 }),
        fc.option(fc.integer({ min: 1, max: 20 })),
        fc.boolean(),
        (events, extend, holdout) => {
          const life = new Life(holdout ? { ...terms, group: 'HOLDOUT' } : terms);
          if (extend !== null) {
            life.record(
              changeSchedule(life.terms, life.e, { extendWindowBy: `P${extend}D`, reason: 'r' }, day(1, 0)),
              day(1, 0),
            );
          }
          const sorted = events.map((x, i) => ({ ...x, i })).sort((a, b) => a.heardDay - b.heardDay || a.i - b.i);
          let deadlinesDone = false;
          for (const x of sorted) {
            const s = scheduleOf(terms, life.e);
            const heard = day(x.heardDay);
            if (!deadlinesDone && Date.parse(heard) >= Date.parse(s.evaluatesAt)) {
              life.deadlines();
              deadlinesDone = true;
            }
            const base =
              x.kind === 'LOAD'
                ? load(x.amountCents, { occurredAt: day(x.day), receivedAt: heard })
                : withdrawal(x.amountCents, { occurredAt: day(x.day), receivedAt: heard });
            life.news(base, heard);
            if (x.settle) life.news(settlementOf(base, x.settle, { receivedAt: heard }), heard);
          }
          if (!deadlinesDone) life.deadlines();
          const replay = replayTrail('M1', life.lines);
          expect(replay.agrees).toBe(true);
          expect(replay.state).toBe(life.e.state);
          expect(replay.verdict).toEqual(life.e.verdict);
          // And any claim changed is caught.
          const claims = life.lines.filter((l) => l.type === 'VERDICT' || l.type === 'TRANSITION');
          for (const c of claims) {
            const field =
              c.type === 'VERDICT' ? { countedCents: Number(c.payload.countedCents) + 1 } : { to: 'COMPLETED' };
            expect(replayTrail('M1', edited(life.lines, c.position, field)).agrees).toBe(false);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
