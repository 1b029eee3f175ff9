/**
 * Moving an enrollment's deadlines (src/domain/schedule.ts and `changeSchedule` in enrollment.ts), without Temporal:
 * what a request may be, when the enrollment refuses it, and what the move does to the count and the state.
 */
import fc from 'fast-check';
import { apply, changeSchedule, initialEnrollment } from '../../src/domain/enrollment';
import { explain } from '../../src/domain/evaluation';
import {
  appliedBefore,
  scheduleChangeProblem,
  MAX_TOTAL_EXTENSION,
  movedSchedule,
  scheduleChangeRefusal,
  scheduleRequestProblem,
  type ScheduleChangeRequest,
} from '../../src/domain/schedule';
import { parseDurationMs } from '../../src/domain/terms';
import { memberView } from '../../src/domain/view';
import { TARGET, day, load, schedule, withdrawal, terms } from './fixtures';

const req = (over: Partial<ScheduleChangeRequest>): ScheduleChangeRequest => ({
  reason: 'processor outage',
  requestedBy: 'ops-alice',
  ...over,
});
const later = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

describe('a request', () => {
  it.each([
    [{}, 'give extendWindowBy, extendGraceBy or both'],
    [{ extendWindowBy: 'P0D' }, 'extendWindowBy must be longer than zero'],
    [{ extendGraceBy: 'P31D' }, `extendGraceBy must be at most ${MAX_TOTAL_EXTENSION}`],
    [{ extendWindowBy: 'P1M' }, 'extendWindowBy must be an ISO-8601 duration'],
    [{ extendWindowBy: 'P1D', reason: '  ' }, 'reason is required'],
  ])('%j is refused: %s', (over, problem) => {
    expect(scheduleRequestProblem({ reason: 'r', ...over })).toContain(problem);
  });

  it('moves the grace period with the window, and the grace period alone', () => {
    expect(movedSchedule(schedule, req({ extendWindowBy: 'P2D', extendGraceBy: 'PT12H' }))).toEqual({
      enrolledAt: schedule.enrolledAt,
      windowEndsAt: later(schedule.windowEndsAt, 2 * 86_400_000),
      evaluatesAt: later(schedule.evaluatesAt, 2 * 86_400_000 + 12 * 3_600_000),
    });
  });
});

describe('the enrollment refuses', () => {
  const current = schedule;
  it('any change once it has a verdict, or once evaluatesAt has passed', () => {
    expect(scheduleChangeRefusal('COMPLETED', schedule, current, req({ extendGraceBy: 'P1D' }), day(1))?.code).toBe(
      'ALREADY_DECIDED',
    );
    expect(scheduleChangeRefusal('CONFIRMING', schedule, current, req({ extendGraceBy: 'P1D' }), day(32, 13))).toEqual(
      expect.objectContaining({ code: 'ALREADY_DECIDED', state: 'CONFIRMING' }),
    );
  });

  it('a window change once the window has ended, even before its timer has fired', () => {
    expect(scheduleChangeRefusal('CONFIRMING', schedule, current, req({ extendWindowBy: 'P1D' }), day(31))?.code).toBe(
      'WINDOW_CLOSED',
    );
    expect(scheduleChangeRefusal('ACTIVE', schedule, current, req({ extendWindowBy: 'P1D' }), day(30, 13))?.code).toBe(
      'WINDOW_CLOSED',
    );
    expect(scheduleChangeRefusal('CONFIRMING', schedule, current, req({ extendGraceBy: 'P1D' }), day(31))).toBe(
      undefined,
    );
  });

  it(`moves past ${MAX_TOTAL_EXTENSION} in all, whatever the steps`, () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 8 }), (days) => {
        let now = schedule;
        let moved = 0;
        for (const d of days) {
          const r = req({ extendGraceBy: `P${d}D` });
          const refusal = scheduleChangeRefusal('ACTIVE', schedule, now, r, day(1));
          expect(refusal?.code === 'EXTENSION_LIMIT').toBe(moved + d > 30);
          if (!refusal) {
            now = movedSchedule(now, r);
            moved += d;
          }
        }
        expect(Date.parse(now.evaluatesAt) - Date.parse(schedule.evaluatesAt)).toBeLessThanOrEqual(
          parseDurationMs(MAX_TOTAL_EXTENSION),
        );
      }),
    );
  });
});

describe("the update's validator", () => {
  it('answers a bad request, a refusal, or nothing; a bulk operation it has taken before is answered, not refused', () => {
    const req = { extendWindowBy: 'P2D', reason: 'outage', operationId: 'op-1' };
    expect(scheduleChangeProblem({ state: 'ACTIVE' }, schedule, schedule, { reason: 'r' }, day(3))).toEqual({
      invalid: 'give extendWindowBy, extendGraceBy or both',
    });
    expect(scheduleChangeProblem({ state: 'ACTIVE' }, schedule, schedule, req, day(3))).toBeUndefined();
    const moved = changeSchedule(terms, initialEnrollment(), req, day(3)).enrollment;
    // The window has ended by day 40 for anyone, but the operation's repeat changes nothing and is not refused.
    expect(scheduleChangeProblem(moved, schedule, moved.schedule!, req, day(31))).toBeUndefined();
    expect(
      scheduleChangeProblem(moved, schedule, moved.schedule!, { ...req, operationId: 'op-2' }, day(33)),
    ).toMatchObject({
      code: 'WINDOW_CLOSED',
    });
    expect(appliedBefore(moved.scheduleChanges, { operationId: 'op-1' })).toBe(true);
    expect(appliedBefore(moved.scheduleChanges, {})).toBe(false);
  });

  it("a request's key makes it once: the same again is answered, other content under the same key is refused", () => {
    const req = { extendGraceBy: 'P1D', reason: 'late file', requestId: 'key-1' };
    const moved = changeSchedule(terms, initialEnrollment(), req, day(3)).enrollment;
    expect(moved.scheduleChanges).toEqual([expect.objectContaining({ requestId: 'key-1', extendGraceBy: 'P1D' })]);
    expect(appliedBefore(moved.scheduleChanges, req)).toBe(true);
    // The same again, even once the deadline has passed: answered, nothing refused, nothing to change.
    expect(scheduleChangeProblem(moved, schedule, moved.schedule!, req, day(40))).toBeUndefined();
    expect(scheduleChangeProblem(moved, schedule, moved.schedule!, { ...req, extendGraceBy: 'P2D' }, day(4))).toEqual({
      reused: expect.stringMatching(/key-1 was used for another change/),
    });
    expect(scheduleChangeProblem(moved, schedule, moved.schedule!, { ...req, reason: 'other' }, day(4))).toMatchObject({
      reused: expect.any(String),
    });
    // Another key: another change.
    expect(
      scheduleChangeProblem(moved, schedule, moved.schedule!, { ...req, requestId: 'key-2' }, day(4)),
    ).toBeUndefined();
    expect(appliedBefore(moved.scheduleChanges, { requestId: 'key-2' })).toBe(false);
  });
});

describe('a move', () => {
  it('counts a load only the new window holds, reaches the goal, and the explanation says why', () => {
    const late = load(60_000, { occurredAt: day(31) });
    const heard = apply(terms, initialEnrollment(), late, day(31)).enrollment;
    expect(heard.state).toBe('ENROLLED'); // outside the campaign's window
    const step = changeSchedule(terms, heard, req({ extendWindowBy: 'P5D' }), day(31));
    expect(step.enrollment.state).toBe('GOAL_ACHIEVED');
    expect(step.outcome.windowEndsAt).toBe(later(schedule.windowEndsAt, 5 * 86_400_000));
    expect(step.audit.map((a) => a.type)).toEqual(['SCHEDULE_CHANGED', 'TRANSITION']);
    expect(step.audit[0].payload).toMatchObject({
      requestedBy: 'ops-alice',
      reason: 'processor outage',
      windowEndsAt: { from: schedule.windowEndsAt, to: step.outcome.windowEndsAt },
    });
    expect(step.notifications.map((n) => n.type)).toEqual(['GOAL_ACHIEVED']);
    expect(memberView(terms, step.enrollment, day(31))).toMatchObject({
      countedCents: 60_000,
      windowEndsAt: step.outcome.windowEndsAt,
      scheduleChanges: [expect.objectContaining({ extendWindowBy: 'P5D' })],
    });
    const why = explain(step.enrollment.ledger, step.outcome, TARGET, undefined, step.enrollment.scheduleChanges);
    expect(why.counted[0].detail).toContain(`the campaign's window (it ended ${schedule.windowEndsAt})`);
  });

  it('disqualifies at once for a withdrawal only the new window holds', () => {
    const e = apply(terms, initialEnrollment(), withdrawal(1_000, { occurredAt: day(30, 18) }), day(30, 18)).enrollment;
    const step = changeSchedule(terms, e, req({ extendWindowBy: 'P1D' }), day(30, 11));
    expect(step.enrollment.state).toBe('DISQUALIFIED');
    expect(step.enrollment.verdict?.outcome).toBe('DISQUALIFIED');
  });

  it('of the grace period alone changes no count', () => {
    const e = apply(terms, initialEnrollment(), load(10_000), day(2)).enrollment;
    const step = changeSchedule(terms, e, req({ extendGraceBy: 'P3D' }), day(3));
    expect(step.enrollment.state).toBe('ACTIVE');
    expect(step.audit.map((a) => a.type)).toEqual(['SCHEDULE_CHANGED']);
    expect(step.outcome.windowEndsAt).toBe(schedule.windowEndsAt);
  });
});
