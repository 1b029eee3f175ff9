/**
 * Bulk operations in PostgreSQL (real): each selection condition, the snapshot taken once, pages by member id, and
 * outcomes recorded once (the first wins: a page applied again after a crash cannot recount a member).
 */
import { putCampaign } from '../../src/db/campaigns';
import { insertEnrollment } from '../../src/db/enrollments';
import { migrate } from '../../src/db/migrate';
import {
  insertOperation,
  operationReport,
  pendingMembers,
  previewSelection,
  recordMemberOutcomes,
  snapshotSelection,
} from '../../src/db/operations';
import { createPool, type Db } from '../../src/db/pool';
import { activationWorkflowId } from '../../src/domain/ids';
import type { Selection } from '../../src/domain/operations';
import { scheduleFor } from '../../src/domain/terms';
import { createTestDatabase, type TestDatabase } from '../support/db';

let database: TestDatabase;
let db: Db;
const C = 'db-ops';
const terms = {
  campaignId: C,
  targetCents: 50_000,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD' as const,
};

beforeAll(async () => {
  database = await createTestDatabase('db_operations');
  await migrate(database.url);
  db = createPool(database.url, 3);
  await putCampaign(db, terms);
  // Ten members enrolled a day apart, each with a different count and state.
  for (let i = 0; i < 10; i++) {
    const memberId = `O-${i}`;
    await insertEnrollment(db, {
      campaignId: C,
      memberId,
      workflowId: activationWorkflowId(C, memberId),
      targetCents: 50_000,
      rewardPoints: 2_000,
      schedule: scheduleFor(terms, new Date(Date.UTC(2026, 10, 1 + i)).toISOString()),
    });
    await db.query(`UPDATE enrollments SET counted_cents = $2, state = $3 WHERE member_id = $1`, [
      memberId,
      i * 10_000,
      i === 0 ? 'ENROLLED' : i < 5 ? 'ACTIVE' : 'GOAL_ACHIEVED',
    ]);
  }
});
afterAll(async () => {
  await db?.end();
  await database?.drop();
});

const ids = async (select: Selection) => (await previewSelection(db, C, select, 100)).sample.map((m) => m.memberId);

it('selects by every condition given, all of them at once', async () => {
  expect(await ids({})).toHaveLength(10);
  expect(await ids({ states: ['ENROLLED', 'ACTIVE'] })).toEqual(['O-0', 'O-1', 'O-2', 'O-3', 'O-4']);
  expect(await ids({ countedBelow: 30_000 })).toEqual(['O-0', 'O-1', 'O-2']);
  expect(await ids({ countedAtLeast: 80_000 })).toEqual(['O-8', 'O-9']);
  // evaluatesAt = enrolledAt + 32 days: O-i evaluates on 2026-12-03 + i.
  expect(await ids({ evaluatesBefore: '2026-12-05T00:00:00.000Z' })).toEqual(['O-0', 'O-1']);
  expect(await ids({ evaluatesAfter: '2026-12-11T00:00:00.000Z' })).toEqual(['O-8', 'O-9']);
  expect(await ids({ memberIds: ['O-3', 'O-7', 'nobody'] })).toEqual(['O-3', 'O-7']);
  expect(await ids({ states: ['GOAL_ACHIEVED'], countedBelow: 70_000, memberIds: ['O-5', 'O-6', 'O-7'] })).toEqual([
    'O-5',
    'O-6',
  ]);
  expect((await previewSelection(db, C, {}, 3)).count).toBe(10);
});

it('snapshots the selection once, pages by member id, and keeps the first outcome of each member', async () => {
  const request = {
    campaignId: C,
    select: { states: ['ACTIVE' as const] },
    action: 'CANCEL' as const,
    args: {},
    reason: 'r',
  };
  expect(await insertOperation(db, 'op-db-1', request)).toBe(true);
  expect(await insertOperation(db, 'op-db-1', request)).toBe(false);
  expect(await snapshotSelection(db, 'op-db-1')).toBe(4);
  // Later changes to the read model do not change the snapshot, nor does taking it again.
  await db.query(`UPDATE enrollments SET state = 'ACTIVE' WHERE member_id = 'O-0'`);
  expect(await snapshotSelection(db, 'op-db-1')).toBe(4);

  const first = await pendingMembers(db, 'op-db-1', undefined, 3);
  expect(first.map((m) => m.memberId)).toEqual(['O-1', 'O-2', 'O-3']);
  expect((await pendingMembers(db, 'op-db-1', 'O-3', 3)).map((m) => m.memberId)).toEqual(['O-4']);
  await recordMemberOutcomes(db, 'op-db-1', [
    { memberId: 'O-1', outcome: 'CHANGED' },
    { memberId: 'O-2', outcome: 'REFUSED', detail: 'ALREADY_DECIDED' },
  ]);
  // The same page applied again after a crash: the recorded outcomes stand.
  await recordMemberOutcomes(db, 'op-db-1', [
    { memberId: 'O-1', outcome: 'REFUSED', detail: 'ALREADY_DECIDED' },
    { memberId: 'O-3', outcome: 'CHANGED' },
  ]);
  expect((await pendingMembers(db, 'op-db-1', undefined, 10)).map((m) => m.memberId)).toEqual(['O-4']);
  expect(await operationReport(db, 'op-db-1')).toMatchObject({
    state: 'RUNNING',
    selected: 4,
    processed: 3,
    outcomes: { changed: 2, refused: { ALREADY_DECIDED: 1 }, failed: 0, pending: 1 },
    exceptions: [{ memberId: 'O-2', outcome: 'REFUSED', detail: 'ALREADY_DECIDED' }],
  });
});
