/**
 * The db layer stores what the rules decided (real PostgreSQL): review items travel typed in the progress record;
 * records of older workflow code still open theirs from the audit payload; late news for a closed enrollment is judged
 * by the workflow's own rule and recorded once by its one key; a person's reward retry changes the state through the
 * lifecycle's review transitions.
 */
import { auditTrail } from '../../src/db/audit';
import { putCampaign } from '../../src/db/campaigns';
import { getEnrollment, recordProgress } from '../../src/db/enrollments';
import { recordLateArrival } from '../../src/db/late';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { listReviews, recordRetriedReward } from '../../src/db/reviews';
import {
  apply,
  evaluate,
  initialEnrollment,
  lateEventKey,
  rewardOutcome,
  windowEnded,
  type EnrollmentState,
  type EnrollmentTerms,
} from '../../src/domain/enrollment';
import type { ExperimentGroup } from '../../src/domain/holdout';
import { activationWorkflowId, rewardIdempotencyKey } from '../../src/domain/ids';
import type { AuditEntry, ProgressRecord, ReviewItem } from '../../src/domain/records';
import { TARGET, day, load, schedule, withdrawal } from '../domain/fixtures';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { progressRecord } from '../support/records';

let database: TestDatabase;
let db: Db;

const campaign = {
  campaignId: 'db-reviews',
  targetCents: TARGET,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD' as const,
};

beforeAll(async () => {
  database = await createTestDatabase('db_reviews');
  await migrate(database.url);
  db = createPool(database.url, 3);
  await putCampaign(db, campaign);
});
afterAll(async () => {
  await db?.end();
  await database?.drop();
});

let members = 0;
/** A member whose enrollment the rules took to a verdict over `loads`, recorded as the workflow would. */
async function decidedMember(
  loadCents: number,
  group?: ExperimentGroup,
): Promise<{ terms: EnrollmentTerms; e: EnrollmentState; workflowId: string }> {
  members += 1;
  const memberId = `M-db-${members}`;
  const terms: EnrollmentTerms = { campaign, memberId, schedule, ...(group ? { group } : {}) };
  const tx = load(loadCents, { memberId });
  let e = apply(terms, initialEnrollment(), tx, day(2)).enrollment;
  e = evaluate(terms, windowEnded(terms, e, day(30)).enrollment, day(32)).enrollment;
  const workflowId = activationWorkflowId(campaign.campaignId, memberId);
  await recordProgress(db, record(terms, e, 1, []));
  return { terms, e, workflowId };
}

const record = (
  terms: EnrollmentTerms,
  e: EnrollmentState,
  version: number,
  audit: AuditEntry[],
  reviews?: ReviewItem[],
): ProgressRecord => progressRecord(terms, e, version, day(32), { audit, ...(reviews ? { reviews } : {}) });

const reviewsOf = async (workflowId: string) =>
  (await listReviews(db, { campaignId: campaign.campaignId })).filter((r) => r.workflowId === workflowId);

it('opens the review items a record carries, once, whatever the audit payload says', async () => {
  const { terms, e, workflowId } = await decidedMember(10_000);
  const line: AuditEntry = { key: 'seq:9', type: 'LATE_EVENT', source: 'REALTIME', occurredAt: day(33), payload: {} };
  const item: ReviewItem = { kind: 'LATE_LOAD_WOULD_QUALIFY', reason: 'because', causeKey: 'seq:9', details: {} };
  await recordProgress(db, record(terms, e, 2, [line], [item]));
  await recordProgress(db, record(terms, e, 2, [line], [item])); // a retried activity
  expect((await reviewsOf(workflowId)).map((r) => [r.kind, r.reason])).toEqual([
    ['LATE_LOAD_WOULD_QUALIFY', 'because'],
  ]);
});

it("opens an older record's review items from its audit payload (an activity scheduled before the deploy)", async () => {
  const { terms, e, workflowId } = await decidedMember(60_000);
  const failed = rewardOutcome(terms, e, { status: 'FAILED', failure: 'HTTP 400' }, day(32));
  const legacy: AuditEntry = {
    key: 'seq:7',
    type: 'REWARD_OUTCOME',
    source: 'WORKFLOW',
    occurredAt: day(32),
    payload: { status: 'FAILED', failure: 'HTTP 400' },
  };
  await recordProgress(db, record(terms, failed.enrollment, 2, [legacy]));
  expect((await reviewsOf(workflowId)).map((r) => r.kind)).toEqual(['REWARD_FAILED']);
});

it('judges late news for a closed enrollment by the workflow rule, and records the same news once', async () => {
  const { terms, workflowId } = await decidedMember(10_000); // NOT_ELIGIBLE
  const late = load(45_000, { memberId: terms.memberId, occurredAt: day(5) });
  const ref = { campaignId: campaign.campaignId, memberId: terms.memberId };
  await recordLateArrival(db, ref, late);
  await recordLateArrival(db, ref, late);
  const lines = (await auditTrail(db, workflowId)).filter((a) => a.type === 'LATE_EVENT');
  expect(lines.map((l) => l.eventKey)).toEqual([lateEventKey(late)]);
  expect(lines[0].payload).toMatchObject({
    workflowClosed: true,
    impact: { actual: 'NOT_ELIGIBLE', wouldBe: 'ELIGIBLE' },
  });
  expect((await reviewsOf(workflowId)).map((r) => r.kind)).toEqual(['LATE_LOAD_WOULD_QUALIFY']);
  // a withdrawal after it does not tip anything further: no second review
  await recordLateArrival(db, ref, withdrawal(100, { memberId: terms.memberId, occurredAt: day(40) }));
  expect(await reviewsOf(workflowId)).toHaveLength(1);
});

it("records a closed holdout enrollment's late news with its impact, and opens no review for it", async () => {
  const lateLines = async (workflowId: string) =>
    (await auditTrail(db, workflowId)).filter((a) => a.type === 'LATE_EVENT').map((a) => a.payload);
  // HOLDOUT_QUALIFIED, then an in-window withdrawal; NOT_ELIGIBLE, then a load that would have qualified.
  const qualified = await decidedMember(60_000, 'HOLDOUT');
  const short = await decidedMember(10_000, 'HOLDOUT');
  expect([qualified.e.state, short.e.state]).toEqual(['HOLDOUT_QUALIFIED', 'NOT_ELIGIBLE']);
  const ref = (terms: EnrollmentTerms) => ({ campaignId: campaign.campaignId, memberId: terms.memberId });
  await recordLateArrival(db, ref(qualified.terms), withdrawal(100, { memberId: qualified.terms.memberId }));
  await recordLateArrival(db, ref(short.terms), load(45_000, { memberId: short.terms.memberId, occurredAt: day(5) }));

  expect(await lateLines(qualified.workflowId)).toEqual([
    expect.objectContaining({ workflowClosed: true, impact: { actual: 'ELIGIBLE', wouldBe: 'DISQUALIFIED' } }),
  ]);
  expect(await lateLines(short.workflowId)).toEqual([
    expect.objectContaining({ workflowClosed: true, impact: { actual: 'NOT_ELIGIBLE', wouldBe: 'ELIGIBLE' } }),
  ]);
  expect(await reviewsOf(qualified.workflowId)).toEqual([]);
  expect(await reviewsOf(short.workflowId)).toEqual([]);
});

it("opens no review from an older record's late line for a holdout member, whatever its payload says", async () => {
  // An activity scheduled by code before the fix, retried after the deploy: its LATE_EVENT payload says review.
  const { terms, e, workflowId } = await decidedMember(10_000, 'HOLDOUT');
  const legacy: AuditEntry = {
    key: 'seq:9',
    type: 'LATE_EVENT',
    source: 'REALTIME',
    occurredAt: day(33),
    payload: {
      event: load(45_000, { memberId: terms.memberId, occurredAt: day(5) }),
      state: 'NOT_ELIGIBLE',
      impact: {
        wouldBe: 'ELIGIBLE',
        actual: 'NOT_ELIGIBLE',
        review: { kind: 'LATE_LOAD_WOULD_QUALIFY', reason: 'would have made the member eligible' },
      },
    },
  };
  await recordProgress(db, record(terms, e, 2, [legacy]));
  expect(await reviewsOf(workflowId)).toEqual([]);
  expect((await auditTrail(db, workflowId)).map((a) => a.eventKey)).toContain('seq:9');
});

it("a person's retry completes a MANUAL_REVIEW enrollment, and a failed one opens a new review", async () => {
  const { terms, e, workflowId } = await decidedMember(60_000);
  const failed = rewardOutcome(terms, e, { status: 'FAILED', failure: 'HTTP 400' }, day(32)).enrollment;
  await recordProgress(db, record(terms, failed, 2, []));
  const request = {
    workflowId,
    campaignId: campaign.campaignId,
    memberId: terms.memberId,
    points: 2_000,
    idempotencyKey: rewardIdempotencyKey(campaign.campaignId, terms.memberId),
  };
  await recordRetriedReward(db, { reviewId: 'rv-a', request, failure: 'HTTP 500' });
  expect((await getEnrollment(db, campaign.campaignId, terms.memberId))?.state).toBe('MANUAL_REVIEW');
  expect((await reviewsOf(workflowId)).map((r) => r.kind)).toEqual(['REWARD_FAILED']);

  await recordRetriedReward(db, {
    reviewId: 'rv-b',
    request,
    receipt: { creditId: 'cr-9', issuedAt: day(33), alreadyIssued: false },
  });
  const after = await getEnrollment(db, campaign.campaignId, terms.memberId);
  expect(after).toMatchObject({ state: 'COMPLETED', reward: { status: 'ISSUED', creditId: 'cr-9' } });
  const transition = (await auditTrail(db, workflowId)).find((a) => a.eventKey === 'review-retry:rv-b:transition');
  expect(transition?.payload).toMatchObject({ from: 'MANUAL_REVIEW', to: 'COMPLETED' });
});
