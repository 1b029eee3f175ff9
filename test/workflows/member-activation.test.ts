/**
 * The member workflow lives through its whole 30 days + 48 h on the time-skipping test server, with the
 * real activities writing to PostgreSQL and calling the local points API. Continue-as-new is tested on a real dev
 * server (continue-as-new.test.ts): the test server's clock wedges around it.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { auditTrail } from '../../src/db/audit';
import { getEnrollment, getLedger } from '../../src/db/enrollments';
import { notificationsOf } from '../../src/db/notifications';
import { cancelUpdate, explanationQuery } from '../../src/workflows/messages';
import { DAY, HOUR, TERMS, createBench, eventually, type Bench } from './harness';

let bench: Bench;
beforeAll(async () => {
  bench = await createBench();
});
afterAll(async () => {
  await bench?.teardown();
});
beforeEach(() => bench.points.faults.clear());

const notificationTypes = async (memberId: string) =>
  (await notificationsOf(bench.db, TERMS.campaignId, memberId)).map((n) => n.type).sort();
const creditsOf = (memberId: string) => bench.points.credits().filter((c) => c.memberId === memberId);

describe('the member workflow', () => {
  it('rewards a member who loads the target and never withdraws, once, after the grace period', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('happy');
      await m.send({ amountCents: 30_000, occurredAt: m.at(HOUR) });
      expect((await m.view()).state).toBe('ACTIVE');
      await m.send({ amountCents: 20_000, channel: 'APPLE_PAY', occurredAt: m.at(2 * HOUR) });
      expect(await m.view()).toMatchObject({ state: 'GOAL_ACHIEVED', countedCents: 50_000, remainingCents: 0 });
      // What the Web UI shows as the workflow's current details.
      const metadata = await m.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toContain('**GOAL_ACHIEVED** — on target');
      expect(metadata.currentDetails).toContain('counted AUD 500.00 of AUD 500.00');

      await bench.env.sleep(30 * DAY + HOUR);
      expect((await m.view()).state).toBe('CONFIRMING');

      const result = await m.handle.result();
      expect(result).toMatchObject({
        state: 'COMPLETED',
        verdict: { outcome: 'ELIGIBLE' },
        reward: { status: 'ISSUED' },
      });
      expect(Date.parse(result.verdict!.decidedAt)).toBeGreaterThanOrEqual(Date.parse(m.input.schedule.evaluatesAt));
      expect(creditsOf('happy')).toHaveLength(1);
      expect(creditsOf('happy')[0]).toMatchObject({ points: 2_000, campaignId: TERMS.campaignId });

      const row = await getEnrollment(bench.db, TERMS.campaignId, 'happy');
      expect(row).toMatchObject({
        state: 'COMPLETED',
        countedCents: 50_000,
        reward: { status: 'ISSUED', points: 2_000, idempotencyKey: `activation:${TERMS.campaignId}:happy` },
      });
      expect(await notificationTypes('happy')).toEqual(['ENROLLED', 'GOAL_ACHIEVED', 'REWARD_ISSUED']);
      const trail = await auditTrail(bench.db, m.handle.workflowId);
      expect(trail.filter((a) => a.type === 'TRANSITION').map((a) => a.payload.to)).toEqual([
        'ACTIVE',
        'GOAL_ACHIEVED',
        'CONFIRMING',
        'PENDING_REWARD',
        'COMPLETED',
      ]);
      expect(trail.filter((a) => a.type === 'TRANSACTION_RECEIVED')).toHaveLength(2);
    }));

  it('disqualifies at once on a withdrawal inside the window, without waiting for the grace period', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('withdrawer');
      await m.send({ amountCents: 60_000, occurredAt: m.at(HOUR) });
      await bench.env.sleep(3 * DAY);
      const w = await m.send({ kind: 'WITHDRAWAL', channel: 'ATM', amountCents: 2_000, occurredAt: m.at(3 * DAY) });
      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'DISQUALIFIED', verdict: { outcome: 'DISQUALIFIED' } });
      expect(Date.parse(result.verdict!.decidedAt)).toBeLessThan(Date.parse(m.input.schedule.windowEndsAt));
      const row = await getEnrollment(bench.db, TERMS.campaignId, 'withdrawer');
      expect(row?.disqualifiedBy).toMatchObject({ transactionId: w.transactionId, amountCents: 2_000 });
      expect(await notificationTypes('withdrawer')).toEqual(['DISQUALIFIED', 'ENROLLED', 'GOAL_ACHIEVED']);
      expect(creditsOf('withdrawer')).toHaveLength(0);
    }));

  it('disqualifies on an in-window withdrawal heard only during the grace period', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('late-withdrawal');
      await m.send({ amountCents: 60_000, occurredAt: m.at(HOUR) });
      await bench.env.sleep(30 * DAY + HOUR);
      await m.send({ kind: 'WITHDRAWAL', channel: 'BANK_TRANSFER', amountCents: 100, occurredAt: m.at(29 * DAY) });
      expect(await m.handle.result()).toMatchObject({ state: 'DISQUALIFIED' });
    }));

  it('ignores withdrawals outside the window', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('outside-withdrawal');
      await m.send({ kind: 'WITHDRAWAL', channel: 'ATM', amountCents: 5_000, occurredAt: m.at(-HOUR) });
      await m.send({ amountCents: 50_000, occurredAt: m.at(HOUR) });
      await bench.env.sleep(30 * DAY + HOUR);
      await m.send({ kind: 'WITHDRAWAL', channel: 'OTHER', amountCents: 5_000, occurredAt: m.at(30 * DAY + HOUR) });
      expect(await m.handle.result()).toMatchObject({ state: 'COMPLETED' });
      expect(creditsOf('outside-withdrawal')).toHaveLength(1);
    }));

  it('counts a transaction once however often it is heard', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('duplicates');
      const load = await m.send({ amountCents: 30_000, occurredAt: m.at(HOUR) });
      await m.send(load);
      await m.send(load);
      await m.send({ ...load, source: 'SETTLEMENT', status: 'SETTLED', settledAt: m.at(DAY) });
      await m.send({ ...load, source: 'SETTLEMENT', status: 'SETTLED', settledAt: m.at(DAY) });
      expect(await m.view()).toMatchObject({ countedCents: 30_000, settledCents: 30_000, instantCents: 0 });
      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'NOT_ELIGIBLE', verdict: { countedCents: 30_000 } });
      const explanation = await m.handle.query(explanationQuery);
      expect(explanation.excluded).toEqual([
        expect.objectContaining({
          transactionId: load.transactionId,
          reason: 'DUPLICATE',
          detail: 'heard 3 more times; counted once',
        }),
      ]);
      expect(await notificationTypes('duplicates')).toEqual(['ENROLLED', 'NOT_ELIGIBLE']);
    }));

  it('does not count a load dated after the window even when heard in the grace period', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('after-window');
      await m.send({ amountCents: 10_000, occurredAt: m.at(HOUR) });
      await bench.env.sleep(30 * DAY + HOUR);
      const late = await m.send({ amountCents: 90_000, occurredAt: m.at(30 * DAY + 30 * 60_000) });
      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'NOT_ELIGIBLE', verdict: { countedCents: 10_000 } });
      const ledger = await getLedger(bench.db, m.handle.workflowId);
      expect(ledger[late.transactionId]).toMatchObject({ amountCents: 90_000, status: 'INSTANT' });
      const explanation = await m.handle.query(explanationQuery);
      expect(explanation.excluded.find((e) => e.transactionId === late.transactionId)?.reason).toBe('OUTSIDE_WINDOW');
    }));

  it('shows a delayed load as pending and does not count it unless it settles', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('pending');
      await m.send({ amountCents: 60_000, channel: 'BPAY', occurredAt: m.at(HOUR) });
      expect(await m.view()).toMatchObject({ state: 'ENROLLED', countedCents: 0, pendingCents: 60_000 });
      expect(await m.handle.result()).toMatchObject({ state: 'NOT_ELIGIBLE' });
      const explanation = await m.handle.query(explanationQuery);
      expect(explanation.excluded.map((e) => e.reason)).toEqual(['PENDING']);
    }));

  it('counts a delayed load that settles in the grace period, and tells the member', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('settles-in-grace');
      const bpay = await m.send({ amountCents: 60_000, channel: 'BANK_TRANSFER', occurredAt: m.at(29 * DAY) });
      await bench.env.sleep(31 * DAY);
      await m.send({ ...bpay, source: 'SETTLEMENT', status: 'SETTLED', settledAt: m.at(31 * DAY) });
      expect(await m.view()).toMatchObject({ state: 'CONFIRMING', countedCents: 60_000, pendingCents: 0 });
      expect(await m.handle.result()).toMatchObject({ state: 'COMPLETED' });
      expect(await notificationTypes('settles-in-grace')).toEqual([
        'ENROLLED',
        'GOAL_ACHIEVED',
        'LOAD_SETTLED',
        'REWARD_ISSUED',
      ]);
    }));

  it('drops back below the target when a load is returned', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('returned');
      const a = await m.send({ amountCents: 40_000, occurredAt: m.at(HOUR) });
      await m.send({ amountCents: 20_000, channel: 'GOOGLE_PAY', occurredAt: m.at(2 * HOUR) });
      expect((await m.view()).state).toBe('GOAL_ACHIEVED');
      await m.send({ ...a, source: 'SETTLEMENT', status: 'RETURNED', settledAt: m.at(DAY) });
      expect(await m.view()).toMatchObject({ state: 'ACTIVE', countedCents: 20_000 });
      expect(await m.handle.result()).toMatchObject({ state: 'NOT_ELIGIBLE' });
    }));

  it('cancels on request before the verdict', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('cancels');
      await m.send({ amountCents: 10_000, occurredAt: m.at(HOUR) });
      const view = await m.handle.executeUpdate(cancelUpdate, {
        args: [{ requestedBy: 'ops@example', reason: 'opt-out' }],
      });
      expect(view.state).toBe('CANCELLED');
      expect(await m.handle.result()).toMatchObject({ state: 'CANCELLED', verdict: { outcome: 'CANCELLED' } });
      await eventually(async () => (await getEnrollment(bench.db, TERMS.campaignId, 'cancels'))?.state === 'CANCELLED');
      const trail = await auditTrail(bench.db, m.handle.workflowId);
      expect(trail.find((a) => a.type === 'CANCEL_REQUESTED')?.payload).toMatchObject({ requestedBy: 'ops@example' });
    }));

  it('refuses to cancel once the enrollment has a verdict', () =>
    bench.withWorker(async () => {
      // Keep the reward pending: the points API answers 503 to every attempt until the faults are cleared. (Not a
      // hanging points API: a workflow terminated with an activity in flight wedges the test server's clock.)
      bench.points.faults.push(...Array<number>(1_000).fill(503));
      const m = await bench.enroll('too-late-to-cancel');
      await m.send({ amountCents: 50_000, occurredAt: m.at(HOUR) });
      await bench.env.sleep(32 * DAY + HOUR);
      expect((await m.view()).state).toBe('PENDING_REWARD');
      const err = await m.handle.executeUpdate(cancelUpdate, { args: [{}] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'ALREADY_DECIDED' });
      expect((await m.view()).state).toBe('PENDING_REWARD');

      bench.points.faults.clear();
      expect(await m.handle.result()).toMatchObject({ state: 'COMPLETED', reward: { status: 'ISSUED' } });
      expect(creditsOf('too-late-to-cancel')).toHaveLength(1);
    }));

  it('retries transient reward failures and credits exactly once', () =>
    bench.withWorker(async () => {
      bench.points.faults.push(503, 429, 'timeout-after-credit', 502);
      const m = await bench.enroll('flaky-points');
      await m.send({ amountCents: 50_000, occurredAt: m.at(HOUR) });
      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'COMPLETED', reward: { status: 'ISSUED' } });
      expect(creditsOf('flaky-points')).toHaveLength(1);
      expect(result.reward?.creditId).toBe(creditsOf('flaky-points')[0].creditId);
      const attempts = (await auditTrail(bench.db, m.handle.workflowId)).filter((a) => a.type === 'REWARD_ATTEMPT');
      expect(attempts.map((a) => a.payload.outcome)).toEqual([
        'UNAVAILABLE',
        'UNAVAILABLE',
        'UNAVAILABLE',
        'UNAVAILABLE',
        'CREDITED',
      ]);
      expect(attempts[4].payload.replay).toBe(true);
      const { rows } = await bench.db.query('SELECT status, attempts FROM rewards WHERE workflow_id = $1', [
        m.handle.workflowId,
      ]);
      expect(rows).toEqual([{ status: 'ISSUED', attempts: 5 }]);
    }));

  it('puts the enrollment in MANUAL_REVIEW on a non-retryable answer', () =>
    bench.withWorker(async () => {
      bench.points.faults.push(422);
      const m = await bench.enroll('refused');
      await m.send({ amountCents: 70_000, occurredAt: m.at(HOUR) });
      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'MANUAL_REVIEW', reward: { status: 'FAILED' } });
      expect(result.reward?.failure).toContain('HTTP 422');
      expect(creditsOf('refused')).toHaveLength(0);
      const row = await eventually(async () => {
        const r = await getEnrollment(bench.db, TERMS.campaignId, 'refused');
        return r?.state === 'MANUAL_REVIEW' && r;
      });
      expect(row.reward).toMatchObject({ status: 'FAILED' });
    }));

  it('puts the enrollment in MANUAL_REVIEW when transient failures outlast REWARD_RETRY_FOR', () =>
    bench.withWorker(async () => {
      bench.points.faults.push(...Array<503>(200).fill(503));
      const m = await bench.enroll('always-down', { rewardRetryForMs: HOUR });
      await m.send({ amountCents: 70_000, occurredAt: m.at(HOUR) });
      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'MANUAL_REVIEW', reward: { status: 'FAILED' } });
      expect(result.reward?.failure).toContain('kept failing for 1 h');
      expect(creditsOf('always-down')).toHaveLength(0);
    }));
});
