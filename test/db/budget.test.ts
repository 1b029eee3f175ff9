/**
 * The reward budget in PostgreSQL, the one authority on it (migration reward-budget): far more claims than slots,
 * all at once on separate connections, take exactly maxRewards; a repeat claim takes nothing more; a row written by
 * code that knows no budget takes a slot too, or fails when none is left; a slot comes back only from a dismissed
 * review of a reward never issued, and is taken again before any credit.
 */
import { budgetOf, putCampaign } from '../../src/db/campaigns';
import { migrate } from '../../src/db/migrate';
import { createPool, inTransaction, type Db } from '../../src/db/pool';
import { openReviews, resolveReview, listReviews } from '../../src/db/reviews';
import {
  BudgetExhaustedError,
  claimReward,
  markRewardFailed,
  markRewardIssued,
  releaseRewardSlot,
} from '../../src/db/rewards';
import { activationWorkflowId, rewardIdempotencyKey } from '../../src/domain/ids';
import type { RewardRequest } from '../../src/domain/records';
import { createTestDatabase, type TestDatabase } from '../support/db';

let database: TestDatabase;
let db: Db;

const terms = (campaignId: string, maxRewards?: number) => ({
  campaignId,
  targetCents: 50_000,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD' as const,
  ...(maxRewards ? { maxRewards } : {}),
});
const request = (campaignId: string, memberId: string): RewardRequest => ({
  workflowId: activationWorkflowId(campaignId, memberId),
  campaignId,
  memberId,
  points: 2_000,
  idempotencyKey: rewardIdempotencyKey(campaignId, memberId),
});
const held = async (campaignId: string) =>
  (
    await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rewards WHERE campaign_id = $1 AND holds_slot', [
      campaignId,
    ])
  ).rows[0].n;

beforeAll(async () => {
  database = await createTestDatabase('budget');
  await migrate(database.url);
  // 40 connections claim at once; the others wait their turn for as long as it takes (the pool's usual 5 s is about a
  // database that is away, and a busy test machine is not that).
  db = createPool(database.url, 40, 60_000);
});
afterAll(async () => {
  await db?.end();
  await database?.drop();
});

it('far more simultaneous claims than slots take exactly maxRewards, and a repeat takes nothing more', async () => {
  await putCampaign(db, terms('burst', 25));
  const members = Array.from({ length: 300 }, (_, i) => `M-${i}`);
  // Every member claims twice, all at once: a retried activity's claim racing its first.
  const outcomes = await Promise.allSettled([...members, ...members].map((m) => claimReward(db, request('burst', m))));
  const refused = outcomes.filter((o) => o.status === 'rejected');
  for (const o of refused) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(BudgetExhaustedError);
  const winners = new Set(outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [[...members, ...members][i]] : [])));
  expect(winners.size).toBe(25);
  expect(await held('burst')).toBe(25);
  expect(await budgetOf(db, 'burst')).toEqual({ maxRewards: 25, reserved: 25, remaining: 0 });
  // The winners again (the activity retried): their row, no second slot.
  for (const m of winners) expect((await claimReward(db, request('burst', m))).status).toBe('PENDING');
  expect(await budgetOf(db, 'burst')).toMatchObject({ reserved: 25 });
  const refusal = (refused[0] as PromiseRejectedResult).reason as Error;
  expect(refusal.message).toBe("campaign burst's budget of 25 rewards was spent before this reward");
});

it('a campaign without a budget counts nothing and refuses nothing', async () => {
  await putCampaign(db, terms('unlimited'));
  await Promise.all(Array.from({ length: 50 }, (_, i) => claimReward(db, request('unlimited', `U-${i}`))));
  expect(await held('unlimited')).toBe(0);
  expect(await budgetOf(db, 'unlimited')).toBeUndefined();
});

it('code that knows no budget (a plain INSERT) takes a slot too, and fails when none is left', async () => {
  await putCampaign(db, terms('old-code', 1));
  const insert = (m: string) =>
    db.query(
      `INSERT INTO rewards (workflow_id, campaign_id, member_id, points, idempotency_key, status)
       VALUES ($1, 'old-code', $2, 2000, $3, 'PENDING') ON CONFLICT (workflow_id) DO NOTHING`,
      [activationWorkflowId('old-code', m), m, rewardIdempotencyKey('old-code', m)],
    );
  await insert('O-1');
  await expect(insert('O-2')).rejects.toMatchObject({ code: '23514', constraint: 'campaigns_rewards_within_budget' });
  expect(await budgetOf(db, 'old-code')).toMatchObject({ reserved: 1, remaining: 0 });
});

it('a dismissed review of a failed reward gives its slot back; an issued one never does', async () => {
  await putCampaign(db, terms('release', 2));
  const [a, b, c] = ['R-a', 'R-b', 'R-c'].map((m) => request('release', m));
  await claimReward(db, a);
  await claimReward(db, b);
  await expect(claimReward(db, c)).rejects.toBeInstanceOf(BudgetExhaustedError);
  await markRewardIssued(db, a.workflowId, 'cr-a');
  // An attempt in flight (PENDING) keeps its slot; an issued reward keeps it for ever.
  expect(await releaseRewardSlot(db, b.workflowId)).toBe(false);
  expect(await releaseRewardSlot(db, a.workflowId)).toBe(false);
  await expect(
    db.query('UPDATE rewards SET holds_slot = false WHERE workflow_id = $1', [a.workflowId]),
  ).rejects.toMatchObject({ constraint: 'rewards_issued_keeps_slot' });

  // B's reward fails for good; its review is dismissed: the slot goes back, with a line in B's trail.
  await markRewardFailed(db, b.workflowId, 'HTTP 400');
  const subject = { workflowId: b.workflowId, campaignId: 'release', memberId: 'R-b' };
  await openReviews(db, subject, [
    { kind: 'REWARD_FAILED', reason: 'the reward could not be issued: HTTP 400', causeKey: 'outcome', details: {} },
  ]);
  const [review] = await listReviews(db, { campaignId: 'release', state: 'OPEN' });
  await inTransaction(db, (client) =>
    resolveReview(client, review.id, { action: 'DISMISS', note: 'bad account', resolvedAt: new Date().toISOString() }),
  );
  expect(await budgetOf(db, 'release')).toMatchObject({ reserved: 1, remaining: 1 });
  const lines = await db.query<{ type: string }>(
    'SELECT type FROM audit_events WHERE workflow_id = $1 ORDER BY position',
    [b.workflowId],
  );
  expect(lines.rows.map((r) => r.type)).toEqual(['REVIEW_OPENED', 'REVIEW_RESOLVED', 'REWARD_SLOT_RELEASED']);

  // C takes the slot; B retried later finds none, and its row stays FAILED without one.
  await claimReward(db, c);
  await expect(claimReward(db, b)).rejects.toBeInstanceOf(BudgetExhaustedError);
  const row = await db.query('SELECT status, holds_slot FROM rewards WHERE workflow_id = $1', [b.workflowId]);
  expect(row.rows[0]).toEqual({ status: 'FAILED', holds_slot: false });
  expect(await budgetOf(db, 'release')).toMatchObject({ reserved: 2, remaining: 0 });
});

it('a failed reward tried again is PENDING while in flight, and takes its slot back first if it gave it up', async () => {
  await putCampaign(db, terms('again', 1));
  const a = request('again', 'A-1');
  await claimReward(db, a);
  await markRewardFailed(db, a.workflowId, 'HTTP 400');
  expect(await releaseRewardSlot(db, a.workflowId)).toBe(true);
  expect(await budgetOf(db, 'again')).toMatchObject({ reserved: 0 });
  expect(await claimReward(db, a)).toMatchObject({ status: 'PENDING' });
  expect(await budgetOf(db, 'again')).toMatchObject({ reserved: 1 });
  // In flight: a dismissal now gives nothing back.
  expect(await releaseRewardSlot(db, a.workflowId)).toBe(false);
});
