/**
 * Moving an enrollment's deadlines (issue 12, patch moving-deadlines) on the time-skipping server: the timers move
 * (the old one cancelled, a new one named for the new time), a load only the new window holds counts, the refusals
 * change nothing, and runs of code before the patch refuse the update.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { defaultPayloadConverter } from '@temporalio/common';
import { proveTrail } from '../../src/api/proofs';
import { appendAuditLines, auditTrail, trailsOf } from '../../src/db/audit';
import { getEnrollment } from '../../src/db/enrollments';
import { ErrorType } from '../../src/domain/errors';
import type { ScheduleChangeRequest } from '../../src/domain/schedule';
import { scheduleFor } from '../../src/domain/terms';
import type { memberActivation } from '../../src/workflows/member-activation';
import { PATCHES, type ActivationInput } from '../../src/workflows/member-state';
import { changeScheduleForOperationUpdate, changeScheduleUpdate, explanationQuery } from '../../src/workflows/messages';
import { bundleMemberWorkflow } from '../replay/derived-workflows';
import { describeRun, saveHistory } from '../support/histories';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal';
import { DAY, HOUR, TERMS, createBench, eventually, type Bench, type Member } from './harness';

let bench: Bench;
beforeAll(async () => {
  bench = await createBench();
});
afterAll(async () => {
  await bench?.teardown();
});

const move = (m: Member, req: Omit<ScheduleChangeRequest, 'reason'> & { reason?: string }) =>
  m.handle.executeUpdate(changeScheduleUpdate, {
    args: [{ reason: 'card processor outage', requestedBy: 'ops-alice', ...req }],
  });

/** The failure type the update was refused with. */
const refusal = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    return (err.cause as { type?: string } | undefined)?.type;
  }
};

const summaryOf = (e: { userMetadata?: { summary?: unknown } | null }): unknown =>
  e.userMetadata?.summary ? defaultPayloadConverter.fromPayload(e.userMetadata.summary as never) : undefined;

const timerEvents = async (m: Member) => {
  const history = await m.handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.timerStartedEventAttributes || e.timerCanceledEventAttributes);
};

it('moves the window mid-window: the timer moves, and a load only the new window holds counts', () =>
  bench.withWorker(async () => {
    const m = await bench.enroll('M-moved');
    const original = m.input.schedule;
    const view = await move(m, { extendWindowBy: 'P5D' });
    expect(view.windowEndsAt).toBe(new Date(Date.parse(original.windowEndsAt) + 5 * DAY).toISOString());
    expect(view.evaluatesAt).toBe(new Date(Date.parse(original.evaluatesAt) + 5 * DAY).toISOString());
    expect(view.scheduleChanges).toEqual([
      expect.objectContaining({
        requestedBy: 'ops-alice',
        reason: 'card processor outage',
        extendWindowBy: 'P5D',
        windowEndsAt: { from: original.windowEndsAt, to: view.windowEndsAt },
        evaluatesAt: { from: original.evaluatesAt, to: view.evaluatesAt },
      }),
    ]);

    // Past the campaign's window (30 days), inside the moved one (35 days).
    await bench.env.sleep(31 * DAY);
    expect((await m.view()).state).toBe('ENROLLED');
    await m.send({ amountCents: 60_000, occurredAt: m.at(31 * DAY + HOUR) });
    const explanation = await m.handle.query(explanationQuery);
    expect(explanation.counted).toHaveLength(1);
    expect(explanation.counted[0].detail).toMatch(/inside it as moved.*card processor outage \(ops-alice\)/);
    expect((await m.view()).state).toBe('GOAL_ACHIEVED');

    expect(await m.handle.result()).toMatchObject({ state: 'COMPLETED', verdict: { countedCents: 60_000 } });
    const history = await m.handle.fetchHistory();
    expect(describeRun(history).patches).toContain(PATCHES.movingDeadlines);
    const timers = await timerEvents(m);
    // The window's timer, the one for its new end (started in the same task as the first is cancelled), then the
    // grace period's; each named for what it waits for.
    expect(timers.map((e) => (e.timerCanceledEventAttributes ? 'cancelled' : 'started'))).toEqual([
      'started',
      'started',
      'cancelled',
      'started',
    ]);
    const summaries = timers.filter((e) => e.timerStartedEventAttributes).map((e) => summaryOf(e));
    expect(summaries).toEqual([
      `Window ends at ${original.windowEndsAt}`,
      `Window ends at ${view.windowEndsAt}`,
      `Grace period ends, verdict at ${view.evaluatesAt}`,
    ]);
    const trail = await auditTrail(bench.db, m.handle.workflowId);
    expect(trail.filter((a) => a.type === 'SCHEDULE_CHANGED').map((a) => a.payload)).toEqual([
      expect.objectContaining({ requestedBy: 'ops-alice', reason: 'card processor outage' }),
    ]);
    expect(await getEnrollment(bench.db, TERMS.campaignId, 'M-moved')).toMatchObject({
      state: 'COMPLETED',
      windowEndsAt: view.windowEndsAt,
      evaluatesAt: view.evaluatesAt,
      scheduleChanges: [expect.objectContaining({ extendWindowBy: 'P5D' })],
    });
    await saveHistory('patched', `${PATCHES.movingDeadlines}-window`, m.handle);
  }));

it('moves only forward and only before the deadline it moves; a refusal changes nothing', () =>
  bench.withWorker(async () => {
    const m = await bench.enroll('M-refused');
    const original = m.input.schedule;
    expect(await refusal(move(m, { extendGraceBy: 'P31D' }))).toBe(ErrorType.INVALID_SCHEDULE_CHANGE);
    expect(await refusal(move(m, { extendWindowBy: '-P1D' }))).toBe(ErrorType.INVALID_SCHEDULE_CHANGE);
    expect(await refusal(move(m, { extendWindowBy: 'P1D', reason: ' ' }))).toBe(ErrorType.INVALID_SCHEDULE_CHANGE);
    await move(m, { extendGraceBy: 'P20D' });
    // 20 + 11 days past the campaign's calendar: over the 30 days in all.
    expect(await refusal(move(m, { extendWindowBy: 'P11D' }))).toBe(ErrorType.EXTENSION_LIMIT);

    await bench.env.sleep(30 * DAY + HOUR); // the window has ended: CONFIRMING
    expect((await m.view()).state).toBe('CONFIRMING');
    expect(await refusal(move(m, { extendWindowBy: 'P1D' }))).toBe(ErrorType.WINDOW_CLOSED);
    const graced = await move(m, { extendGraceBy: 'P1D' });
    expect(graced.evaluatesAt).toBe(new Date(Date.parse(original.evaluatesAt) + 21 * DAY).toISOString());
    expect(graced.windowEndsAt).toBe(original.windowEndsAt);

    expect(await m.handle.result()).toMatchObject({ state: 'NOT_ELIGIBLE' });
    const timers = await timerEvents(m);
    expect(timers.filter((e) => e.timerCanceledEventAttributes)).toHaveLength(1); // the grace timer, moved once
    const trail = await auditTrail(bench.db, m.handle.workflowId);
    expect(trail.filter((a) => a.type === 'SCHEDULE_CHANGED')).toHaveLength(2);
    const verdict = trail.find((a) => a.type === 'VERDICT')!;
    // The verdict came at the moved evaluatesAt, not the campaign's.
    expect(Date.parse(verdict.occurredAt)).toBeGreaterThanOrEqual(Date.parse(graced.evaluatesAt));
    await saveHistory('patched', `${PATCHES.movingDeadlines}-grace`, m.handle);
  }));

it("a bulk operation's change costs one task: the run hands its lines to the operation, which writes them once", () =>
  bench.withWorker(async () => {
    const m = await bench.enroll('M-handover');
    const { workflowId } = m.handle;
    const durableRecords = async () =>
      ((await m.handle.fetchHistory()).events ?? []).filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordProgress',
      ).length;
    await m.send({ amountCents: 10_000 });
    await eventually(
      async () => (await getEnrollment(bench.db, TERMS.campaignId, m.memberId))?.countedCents === 10_000,
    );
    const before = await durableRecords();

    const req = { extendGraceBy: 'P1D', reason: 'bank file late', requestedBy: 'ops-carol', operationId: 'op-h' };
    const updateId = 'op-h:M-handover';
    const first = await m.handle.executeUpdate(changeScheduleForOperationUpdate, { args: [req], updateId });
    expect(first.view.evaluatesAt).toBe(new Date(Date.parse(m.input.schedule.evaluatesAt) + DAY).toISOString());
    // The run's unwritten lines through the change, in order: the load heard before it and what it did, the change.
    expect(first.audit.map((a) => a.type)).toEqual(['TRANSACTION_RECEIVED', 'TRANSITION', 'SCHEDULE_CHANGED']);
    expect(first.audit[2].payload).toMatchObject({ operationId: 'op-h', requestedBy: 'ops-carol' });
    // The view is written at once (the fast record), the lines are not: no durable record, no second task for them.
    await eventually(
      async () => (await getEnrollment(bench.db, TERMS.campaignId, m.memberId))?.evaluatesAt === first.view.evaluatesAt,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await durableRecords()).toBe(before);
    expect((await auditTrail(bench.db, workflowId)).map((a) => a.type)).not.toContain('SCHEDULE_CHANGED');

    // The Web UI's timeline: each record is named for the news it carries (the signal and the update say only
    // their names), the fast records here being local activities' markers.
    const markers = ((await m.handle.fetchHistory()).events ?? [])
      .filter((e) => e.markerRecordedEventAttributes && summaryOf(e) !== undefined) // not the patches' markers
      .map((e) => summaryOf(e));
    expect(markers).toEqual([
      expect.stringMatching(
        /^Record load AUD 100\.00 by DEBIT_CARD \(TX-M-handover-\d+, real time\): applied; now ACTIVE/,
      ),
      expect.stringMatching(/^Record deadlines moved by ops-carol \(operation op-h\): verdict .* → .*; now ACTIVE/),
    ]);

    // The operation writes them (with the member's outcome).
    const subject = { workflowId, campaignId: TERMS.campaignId, memberId: m.memberId };
    await appendAuditLines(bench.db, [{ subject, entries: first.audit }]);
    // A retried page sends the same update again: the same answer, nothing changed twice; under another update id
    // (a repeat the server does not know) the operation's change is not applied again, and the same lines come back.
    expect(await m.handle.executeUpdate(changeScheduleForOperationUpdate, { args: [req], updateId })).toEqual(first);
    const other = await m.handle.executeUpdate(changeScheduleForOperationUpdate, {
      args: [req],
      updateId: `${updateId}:again`,
    });
    expect(other.audit).toEqual(first.audit);
    expect(other.view.scheduleChanges).toHaveLength(1);
    await appendAuditLines(bench.db, [{ subject, entries: other.audit }]);
    // A change without its operation is not one.
    expect(
      await refusal(m.handle.executeUpdate(changeScheduleForOperationUpdate, { args: [{ ...req, operationId: '' }] })),
    ).toBe(ErrorType.INVALID_SCHEDULE_CHANGE);

    // At the verdict the run writes its lines as ever; the ones already there are not written twice, and the trail
    // proves the verdict.
    expect(await m.handle.result()).toMatchObject({ state: 'NOT_ELIGIBLE' });
    const trail = await auditTrail(bench.db, workflowId);
    expect(trail.filter((a) => a.type === 'SCHEDULE_CHANGED')).toHaveLength(1);
    expect(trail.filter((a) => a.type === 'TRANSACTION_RECEIVED')).toHaveLength(1);
    const e = (await getEnrollment(bench.db, TERMS.campaignId, m.memberId))!;
    expect(e.evaluatesAt).toBe(first.view.evaluatesAt);
    const proof = proveTrail(e, (await trailsOf(bench.db, [workflowId])).get(workflowId) ?? []);
    expect({ verified: proof.verified, chain: proof.chain.intact, replay: proof.replay.agrees }).toEqual({
      verified: true,
      chain: true,
      replay: true,
    });
  }));

it('a verdict is final: a decided run has ended, and takes no change', () =>
  bench.withWorker(async () => {
    const m = await bench.enroll('M-decided');
    await m.send({ amountCents: 5_000, kind: 'WITHDRAWAL', channel: 'ATM' });
    expect(await m.handle.result()).toMatchObject({ state: 'DISQUALIFIED' });
    // The API answers this ALREADY_DECIDED from the read model (test/e2e/schedule.test.ts).
    await expect(move(m, { extendGraceBy: 'P1D' })).rejects.toThrow(WorkflowNotFoundError);
  }));

it('code before the patch refuses the change; after the deploy the same run takes it, and its history replays', async () => {
  const before = await bundleMemberWorkflow('before-moving-deadlines');
  const env = await createTimeSkippingEnv();
  try {
    const taskQueue = `moving-${randomUUID()}`;
    const worker = (codePath: string) =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: { codePath },
        maxCachedWorkflows: 0,
        activities: createActivities({ db: bench.db, pointsApiUrl: bench.points.url, pointsApiTimeoutMs: 1_000 }),
      });
    const now = new Date(await env.currentTimeMs()).toISOString();
    const input: ActivationInput = {
      campaign: TERMS,
      memberId: 'M-deploy',
      schedule: scheduleFor(TERMS, now),
      rewardRetryForMs: DAY,
    };
    const handle = await env.client.workflow.start<typeof memberActivation>('memberActivation', {
      workflowId: `activation:${TERMS.campaignId}:M-deploy`,
      taskQueue,
      args: [input],
    });
    const change = () =>
      handle.executeUpdate(changeScheduleUpdate, { args: [{ extendWindowBy: 'P2D', reason: 'outage' }] });
    await (
      await worker(before)
    ).runUntil(async () => {
      expect(await refusal(change())).toBe(ErrorType.INVALID_SCHEDULE_CHANGE);
    });
    await (
      await worker(workflowBundle().codePath)
    ).runUntil(async () => {
      expect((await change()).windowEndsAt).toBe(
        new Date(Date.parse(input.schedule.windowEndsAt) + 2 * DAY).toISOString(),
      );
      await env.sleep(33 * DAY);
      expect(await handle.result()).toMatchObject({ state: 'NOT_ELIGIBLE' });
    });
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await handle.fetchHistory(), handle.workflowId);
  } finally {
    await env.teardown();
  }
}, 180_000);
