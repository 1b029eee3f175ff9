/**
 * A holdout member (issue 13) on the time-skipping test server with the real activities and PostgreSQL: tracked like
 * any other member, judged by the same rules, never rewarded and never told. And the database's guard for the case
 * the rules cannot cover: a worker on code that knows no holdout (a rolling deploy) carrying a holdout member's run.
 */
import { auditTrail } from '../../src/db/audit';
import { getEnrollment, insertEnrollment } from '../../src/db/enrollments';
import { notificationsOf } from '../../src/db/notifications';
import { listReviews } from '../../src/db/reviews';
import { scheduleFor } from '../../src/domain/terms';
import { explanationQuery } from '../../src/workflows/messages';
import { DAY, HOUR, TERMS, createBench, eventually, type Bench, type Member } from './harness';

let bench: Bench;
beforeAll(async () => {
  bench = await createBench();
});
afterAll(async () => {
  await bench?.teardown();
});

const HOLDOUT = { campaign: { ...TERMS, holdoutPercent: 50 }, group: 'HOLDOUT' as const };
const creditsOf = (memberId: string) => bench.points.credits().filter((c) => c.memberId === memberId);
const rewardRows = async (memberId: string) =>
  (await bench.db.query('SELECT status FROM rewards WHERE member_id = $1', [memberId])).rows;
const reviewsOf = async (memberId: string) =>
  (await listReviews(bench.db, { campaignId: TERMS.campaignId })).filter((r) => r.memberId === memberId);

/**
 * Runs `fn` while no audit line can be written (a slow database): the verdict's record, the run's first to write audit
 * lines, waits, and so the run is still open, with its verdict, when `fn` sends it news. Its recorder retries until
 * the lines can be written.
 */
async function withAuditHeld(fn: () => Promise<void>): Promise<void> {
  const client = await bench.db.connect();
  try {
    await client.query('BEGIN');
    await client.query('LOCK TABLE audit_events IN EXCLUSIVE MODE');
    await fn();
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

/** A holdout member decided with `loadCents` counted, then late news heard by the still-open run. */
async function lateNewsAfterVerdict(
  memberId: string,
  loadCents: number,
  verdictState: string,
  late: (m: Member) => Parameters<Member['send']>[0],
) {
  const m = await bench.enroll(memberId, HOLDOUT);
  await m.send({ amountCents: loadCents, occurredAt: m.at(HOUR) });
  await eventually(() => getEnrollment(bench.db, TERMS.campaignId, memberId));
  await withAuditHeld(async () => {
    await bench.env.sleep(32 * DAY + 1_000);
    await eventually(async () => (await m.view()).state === verdictState);
    await m.send(late(m));
  });
  expect(await m.handle.result()).toMatchObject({ state: verdictState });
  return (await auditTrail(bench.db, m.handle.workflowId)).filter((a) => a.type === 'LATE_EVENT');
}

describe('a holdout member', () => {
  it('who would have qualified ends HOLDOUT_QUALIFIED: same verdict, no reward, no notification', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('holdout-qualified', HOLDOUT);
      await m.send({ amountCents: 60_000, occurredAt: m.at(HOUR) });
      expect(await m.view()).toMatchObject({ state: 'GOAL_ACHIEVED', group: 'HOLDOUT', countedCents: 60_000 });
      const metadata = await m.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toContain('holdout group');

      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'HOLDOUT_QUALIFIED', verdict: { outcome: 'ELIGIBLE' } });
      expect(result.reward).toBeUndefined();
      // The Web UI's current details give the verdict's reason in AUD: no dollar sign for its markdown to read maths from.
      const decided = await m.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(decided.currentDetails).toContain('verdict ELIGIBLE');
      expect(decided.currentDetails).toContain('loaded AUD 600.00 in the window, target AUD 500.00, no withdrawal');
      expect(decided.currentDetails).not.toContain('$');
      // The explanation says why there is no reward.
      const explanation = await m.handle.query(explanationQuery);
      expect(explanation.verdict).toMatchObject({ outcome: 'ELIGIBLE', countedCents: 60_000 });
      expect(explanation.verdict?.reason).toMatch(/; in the holdout group, never rewarded$/);
      expect(creditsOf('holdout-qualified')).toHaveLength(0);
      expect(await rewardRows('holdout-qualified')).toEqual([]);
      expect(await notificationsOf(bench.db, TERMS.campaignId, 'holdout-qualified')).toEqual([]);

      const row = await eventually(async () => {
        const r = await getEnrollment(bench.db, TERMS.campaignId, 'holdout-qualified');
        return r?.state === 'HOLDOUT_QUALIFIED' && r;
      });
      expect(row).toMatchObject({ group: 'HOLDOUT', countedCents: 60_000, verdict: { outcome: 'ELIGIBLE' } });
      const trail = await auditTrail(bench.db, m.handle.workflowId);
      expect(trail.find((a) => a.type === 'ENROLLED')?.payload).toMatchObject({ group: 'HOLDOUT' });
      expect(trail.filter((a) => a.type === 'TRANSITION').map((a) => a.payload.to)).toEqual([
        'GOAL_ACHIEVED',
        'CONFIRMING',
        'HOLDOUT_QUALIFIED',
      ]);
      expect(trail.some((a) => a.type === 'NOTIFICATION' || a.type === 'REWARD_ATTEMPT')).toBe(false);
    }));

  it('who withdraws is disqualified like anyone, and is not told', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('holdout-withdrawer', HOLDOUT);
      await m.send({ amountCents: 60_000, occurredAt: m.at(HOUR) });
      await m.send({ kind: 'WITHDRAWAL', channel: 'ATM', amountCents: 1_000, occurredAt: m.at(2 * HOUR) });
      expect(await m.handle.result()).toMatchObject({ state: 'DISQUALIFIED', verdict: { outcome: 'DISQUALIFIED' } });
      expect((await m.handle.query(explanationQuery)).verdict?.outcome).toBe('DISQUALIFIED');
      expect(await notificationsOf(bench.db, TERMS.campaignId, 'holdout-withdrawer')).toEqual([]);
    }));

  it('below the target is NOT_ELIGIBLE, untold', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('holdout-short', HOLDOUT);
      await m.send({ amountCents: 10_000, occurredAt: m.at(HOUR) });
      await bench.env.sleep(30 * DAY + HOUR);
      expect(await m.handle.result()).toMatchObject({ state: 'NOT_ELIGIBLE' });
      expect(await notificationsOf(bench.db, TERMS.campaignId, 'holdout-short')).toEqual([]);
    }));
});

describe("a holdout member's late news, heard by the run after its verdict", () => {
  it('an in-window withdrawal after HOLDOUT_QUALIFIED is recorded with its impact and opens no review', () =>
    bench.withWorker(async () => {
      const late = await lateNewsAfterVerdict('holdout-late-withdrawal', 60_000, 'HOLDOUT_QUALIFIED', (m) => ({
        kind: 'WITHDRAWAL',
        channel: 'ATM',
        amountCents: 1_000,
        occurredAt: m.at(2 * HOUR),
      }));
      expect(await reviewsOf('holdout-late-withdrawal')).toEqual([]);
      expect(late).toHaveLength(1);
      expect(late[0].payload).toMatchObject({ state: 'HOLDOUT_QUALIFIED', event: { kind: 'WITHDRAWAL' } });
      expect(late[0].payload.impact).toEqual({ actual: 'ELIGIBLE', wouldBe: 'DISQUALIFIED' });
    }));

  it('a load that would have qualified a NOT_ELIGIBLE member is recorded with its impact and opens no review', () =>
    bench.withWorker(async () => {
      const late = await lateNewsAfterVerdict('holdout-late-load', 10_000, 'NOT_ELIGIBLE', (m) => ({
        amountCents: 45_000,
        occurredAt: m.at(2 * HOUR),
      }));
      expect(await reviewsOf('holdout-late-load')).toEqual([]);
      expect(late).toHaveLength(1);
      expect(late[0].payload).toMatchObject({ state: 'NOT_ELIGIBLE', event: { kind: 'LOAD', amountCents: 45_000 } });
      expect(late[0].payload.impact).toEqual({ actual: 'NOT_ELIGIBLE', wouldBe: 'ELIGIBLE' });
    }));
});

describe('the database, for code that knows no holdout', () => {
  it('refuses the reward and drops the notifications of an enrollment whose row says HOLDOUT', () =>
    bench.withWorker(async () => {
      // The API wrote the row (HOLDOUT); the run carries no group, as a run on older code would treat the member.
      const now = new Date(await bench.env.currentTimeMs()).toISOString();
      await insertEnrollment(bench.db, {
        campaignId: TERMS.campaignId,
        memberId: 'holdout-old-code',
        workflowId: `activation:${TERMS.campaignId}:holdout-old-code`,
        targetCents: TERMS.targetCents,
        rewardPoints: TERMS.rewardPoints,
        schedule: scheduleFor(TERMS, now),
        group: 'HOLDOUT',
      });
      const m = await bench.enroll('holdout-old-code');
      await m.send({ amountCents: 60_000, occurredAt: m.at(HOUR) });
      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'MANUAL_REVIEW', reward: { status: 'FAILED' } });
      expect(result.reward?.failure).toContain('holdout');
      expect(creditsOf('holdout-old-code')).toHaveLength(0);
      expect(await rewardRows('holdout-old-code')).toEqual([]);
      expect(await notificationsOf(bench.db, TERMS.campaignId, 'holdout-old-code')).toEqual([]);
      const trail = await auditTrail(bench.db, m.handle.workflowId);
      expect(trail.filter((a) => a.type === 'REWARD_ATTEMPT').map((a) => a.payload.outcome)).toEqual([
        'HOLDOUT_REFUSED',
      ]);
    }));
});
