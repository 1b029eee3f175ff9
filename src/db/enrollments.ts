/** The per-enrollment read model, its ledger rows and the audit trail the member workflow writes. */
import type { ProgressRecord } from '../domain/records';
import type { Verdict } from '../domain/evaluation';
import type { ExperimentGroup } from '../domain/holdout';
import type { Ledger, LedgerEntry } from '../domain/ledger';
import { VERDICT_STATES, type ActivationState } from '../domain/model';
import type { ScheduleChange } from '../domain/schedule';
import type { EnrollmentSchedule } from '../domain/terms';
import { remainingCents, type DisqualifiedBy, type MemberView, type RewardView } from '../domain/view';
import { legacyReviewsFromAudit, openReviews } from './reviews';
import { appendAudit, notificationAudit } from './audit';
import { markRewardFailed } from './rewards';
import { insertNotifications } from './notifications';
import { inTransaction, type Db } from './pool';
import type { Queryable } from './queryable';

interface EnrollmentRow {
  campaign_id: string;
  member_id: string;
  workflow_id: string;
  state: ActivationState;
  enrolled_at: Date;
  window_ends_at: Date;
  evaluates_at: Date;
  target_cents: number;
  reward_points: number;
  counted_cents: number;
  instant_cents: number;
  settled_cents: number;
  pending_cents: number;
  disqualified_by: DisqualifiedBy | null;
  reward: RewardView | null;
  verdict: Verdict | null;
  schedule_changes: ScheduleChange[] | null;
  experiment_group: ExperimentGroup;
  version: number;
  updated_at: Date;
}

export interface Enrollment extends MemberView {
  workflowId: string;
  rewardPoints: number;
  /** The view's version: the member workflow's record sequence (0: as the API wrote it at enrollment). */
  version: number;
}

const toEnrollment = (r: EnrollmentRow): Enrollment => ({
  campaignId: r.campaign_id,
  memberId: r.member_id,
  group: r.experiment_group,
  workflowId: r.workflow_id,
  state: r.state,
  enrolledAt: r.enrolled_at.toISOString(),
  windowEndsAt: r.window_ends_at.toISOString(),
  evaluatesAt: r.evaluates_at.toISOString(),
  targetCents: r.target_cents,
  rewardPoints: r.reward_points,
  countedCents: r.counted_cents,
  instantCents: r.instant_cents,
  settledCents: r.settled_cents,
  pendingCents: r.pending_cents,
  remainingCents: remainingCents(r.target_cents, r.counted_cents),
  ...(r.disqualified_by ? { disqualifiedBy: r.disqualified_by } : {}),
  ...(r.reward ? { reward: r.reward } : {}),
  ...(r.verdict ? { verdict: r.verdict } : {}),
  ...(r.schedule_changes?.length ? { scheduleChanges: r.schedule_changes } : {}),
  updatedAt: r.updated_at.toISOString(),
  version: r.version,
});

export interface NewEnrollment {
  campaignId: string;
  memberId: string;
  workflowId: string;
  targetCents: number;
  rewardPoints: number;
  schedule: EnrollmentSchedule;
  /** Absent: TREATMENT. */
  group?: ExperimentGroup;
}

/** Inserts the enrollment's first row; returns false if it already existed. */
export async function insertEnrollment(db: Queryable, e: NewEnrollment): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO enrollments (campaign_id, member_id, workflow_id, state, enrolled_at, window_ends_at, evaluates_at,
                              target_cents, reward_points, experiment_group)
     VALUES ($1, $2, $3, 'ENROLLED', $4, $5, $6, $7, $8, $9)
     ON CONFLICT (campaign_id, member_id) DO NOTHING`,
    [
      e.campaignId,
      e.memberId,
      e.workflowId,
      e.schedule.enrolledAt,
      e.schedule.windowEndsAt,
      e.schedule.evaluatesAt,
      e.targetCents,
      e.rewardPoints,
      e.group ?? 'TREATMENT',
    ],
  );
  return rowCount === 1;
}

/** Sets the deadlines of an enrollment not yet written by its workflow (version 0) to those it was started with. */
export async function setEnrollmentSchedule(
  db: Queryable,
  campaignId: string,
  memberId: string,
  schedule: EnrollmentSchedule,
): Promise<void> {
  await db.query(
    `UPDATE enrollments SET enrolled_at = $3, window_ends_at = $4, evaluates_at = $5
     WHERE campaign_id = $1 AND member_id = $2 AND version = 0`,
    [campaignId, memberId, schedule.enrolledAt, schedule.windowEndsAt, schedule.evaluatesAt],
  );
}

export async function getEnrollment(
  db: Queryable,
  campaignId: string,
  memberId: string,
): Promise<Enrollment | undefined> {
  const { rows } = await db.query<EnrollmentRow>(
    'SELECT * FROM enrollments WHERE campaign_id = $1 AND member_id = $2',
    [campaignId, memberId],
  );
  return rows[0] && toEnrollment(rows[0]);
}

/**
 * A page of a campaign's decided enrollments (a verdict state), in member id order after `after`: the verifier walks a
 * campaign with these, one page in memory at a time (keyset on the primary key, so page 2,000 costs what page 1 does).
 */
export async function decidedEnrollments(
  db: Queryable,
  campaignId: string,
  after: string | undefined,
  limit: number,
): Promise<Enrollment[]> {
  const { rows } = await db.query<EnrollmentRow>(
    `SELECT * FROM enrollments
     WHERE campaign_id = $1 AND state = ANY($2::text[]) AND ($3::text IS NULL OR member_id > $3)
     ORDER BY member_id LIMIT $4`,
    [campaignId, VERDICT_STATES, after ?? null, limit],
  );
  return rows.map(toEnrollment);
}

export async function countDecided(db: Queryable, campaignId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM enrollments WHERE campaign_id = $1 AND state = ANY($2::text[])',
    [campaignId, VERDICT_STATES],
  );
  return rows[0].n;
}

/** An enrollment news is for. */
export interface NewsTarget {
  campaignId: string;
  memberId: string;
  workflowId: string;
  /** Its state in the read model when it was looked up. */
  state: ActivationState;
}

/** The enrollments of each of these members (read model), in campaign order. */
export async function newsTargets(db: Queryable, memberIds: readonly string[]): Promise<Map<string, NewsTarget[]>> {
  const { rows } = await db.query<{
    campaign_id: string;
    member_id: string;
    workflow_id: string;
    state: ActivationState;
  }>(
    'SELECT campaign_id, member_id, workflow_id, state FROM enrollments WHERE member_id = ANY($1) ORDER BY campaign_id',
    [memberIds],
  );
  const byMember = new Map<string, NewsTarget[]>();
  for (const r of rows) {
    const targets = byMember.get(r.member_id) ?? [];
    targets.push({ campaignId: r.campaign_id, memberId: r.member_id, workflowId: r.workflow_id, state: r.state });
    byMember.set(r.member_id, targets);
  }
  return byMember;
}

export async function getLedger(db: Queryable, workflowId: string): Promise<Ledger> {
  const { rows } = await db.query<{ transaction_id: string; entry: LedgerEntry }>(
    'SELECT transaction_id, entry FROM ledger_entries WHERE workflow_id = $1',
    [workflowId],
  );
  return Object.fromEntries(rows.map((r) => [r.transaction_id, r.entry]));
}

/**
 * Writes what the member workflow has learnt since its last record, in one transaction: the audit lines
 * (each once, by key), the view (only if newer) and the changed ledger entries. Safe to retry.
 */
export async function recordProgress(pool: Db, p: ProgressRecord): Promise<{ viewUpdated: boolean }> {
  return inTransaction(pool, async (client) => {
    await appendAudit(client, p, [...p.audit, ...(p.notifications ?? []).map(notificationAudit)]);
    await openReviews(client, p, p.reviews ?? legacyReviewsFromAudit(p.audit, p.view.group));
    await insertNotifications(client, p.notifications ?? []);
    const v = p.view;
    const { rows: upserted } = await client.query<{ inserted: boolean }>(
      `INSERT INTO enrollments AS e (campaign_id, member_id, workflow_id, state, enrolled_at, window_ends_at, evaluates_at,
              target_cents, reward_points, counted_cents, instant_cents, settled_cents, pending_cents,
              disqualified_by, reward, verdict, version, updated_at, schedule_changes, experiment_group)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
       ON CONFLICT (campaign_id, member_id) DO UPDATE SET
         window_ends_at = EXCLUDED.window_ends_at, evaluates_at = EXCLUDED.evaluates_at,
         schedule_changes = EXCLUDED.schedule_changes,
         state = EXCLUDED.state, counted_cents = EXCLUDED.counted_cents, instant_cents = EXCLUDED.instant_cents,
         settled_cents = EXCLUDED.settled_cents, pending_cents = EXCLUDED.pending_cents,
         disqualified_by = EXCLUDED.disqualified_by, reward = EXCLUDED.reward, verdict = EXCLUDED.verdict,
         version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
       WHERE e.version < EXCLUDED.version
       RETURNING (xmax = 0) AS inserted`,
      [
        p.campaignId,
        p.memberId,
        p.workflowId,
        v.state,
        v.enrolledAt,
        v.windowEndsAt,
        v.evaluatesAt,
        v.targetCents,
        p.rewardPoints,
        v.countedCents,
        v.instantCents,
        v.settledCents,
        v.pendingCents,
        v.disqualifiedBy ? JSON.stringify(v.disqualifiedBy) : null,
        v.reward ? JSON.stringify(v.reward) : null,
        v.verdict ? JSON.stringify(v.verdict) : null,
        p.version,
        v.updatedAt,
        v.scheduleChanges?.length ? JSON.stringify(v.scheduleChanges) : null,
        // Older runs' views carry no group: they were all treated.
        v.group ?? 'TREATMENT',
      ],
    );
    const viewUpdated = upserted.length === 1;
    // The workflow gave up on the reward (MANUAL_REVIEW, BUDGET_EXHAUSTED): no attempt is in flight any more, so the
    // row says FAILED, and a dismissal of its review may give its slot back.
    if (viewUpdated && v.reward?.status === 'FAILED') {
      await markRewardFailed(client, p.workflowId, v.reward.failure ?? 'not issued');
    }
    // This record made the row: the enrollment's start was never recorded (the API's transaction was lost).
    if (upserted[0]?.inserted && p.ifNew) {
      await appendAudit(client, p, [...p.ifNew.audit, ...p.ifNew.notifications.map(notificationAudit)]);
      await insertNotifications(client, p.ifNew.notifications);
    }
    // A stale retry (a newer record already landed) must not roll ledger rows back.
    if (viewUpdated && p.entries.length > 0) {
      await client.query(
        `INSERT INTO ledger_entries (workflow_id, transaction_id, entry)
         SELECT $1, e->>'transactionId', e FROM jsonb_array_elements($2::jsonb) AS e
         ON CONFLICT (workflow_id, transaction_id) DO UPDATE SET entry = EXCLUDED.entry, updated_at = now()
         WHERE ledger_entries.entry IS DISTINCT FROM EXCLUDED.entry`,
        [p.workflowId, JSON.stringify(p.entries)],
      );
    }
    // The whole ledger: entries it does not have were left by a speculative record (a failed workflow task's).
    if (viewUpdated && p.ledgerComplete) {
      await client.query(
        'DELETE FROM ledger_entries WHERE workflow_id = $1 AND NOT (transaction_id = ANY($2::text[]))',
        [p.workflowId, p.entries.map((e) => e.transactionId)],
      );
    }
    return { viewUpdated };
  });
}
