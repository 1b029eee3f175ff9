/**
 * The member workflow's activities one at a time (MockActivityEnvironment, real PostgreSQL, a real HTTP push
 * channel): each is safe to run again, because Temporal runs activities at least once.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createActivities } from '../../src/activities';
import { createRecordingMetrics } from '../../src/activities/metrics';
import { auditTrail } from '../../src/db/audit';
import { putCampaign } from '../../src/db/campaigns';
import { getEnrollment, getLedger } from '../../src/db/enrollments';
import { migrate } from '../../src/db/migrate';
import { notificationsOf } from '../../src/db/notifications';
import { createPool, type Db } from '../../src/db/pool';
import { apply, initialEnrollment, type EnrollmentState, type EnrollmentTerms } from '../../src/domain/enrollment';
import { ErrorType } from '../../src/domain/errors';
import { activationWorkflowId } from '../../src/domain/ids';
import type { NotificationMessage, ProgressRecord } from '../../src/domain/records';
import { TARGET, day, load, schedule } from '../domain/fixtures';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { progressRecord } from '../support/records';

const campaign = {
  campaignId: 'activities',
  targetCents: TARGET,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD' as const,
};

/** A push channel that answers each request with the next status of `answers` (200 once they run out). */
let pushed: { id: string; type: string }[] = [];
let answers: number[] = [];
let channel: Server;
let channelUrl: string;

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase('member_activities');
  await migrate(database.url);
  db = createPool(database.url, 3);
  await putCampaign(db, campaign);
  channel = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      if (status < 300) pushed.push(JSON.parse(body) as { id: string; type: string });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => channel.listen(0, '127.0.0.1', resolve));
  channelUrl = `http://127.0.0.1:${(channel.address() as AddressInfo).port}/push`;
});
afterAll(async () => {
  await new Promise((resolve) => channel?.close(resolve));
  await db?.end();
  await database?.drop();
});
beforeEach(() => {
  pushed = [];
  answers = [];
});

let members = 0;
const nextMember = (): { terms: EnrollmentTerms; workflowId: string } => {
  members += 1;
  const memberId = `M-act-${members}`;
  return { terms: { campaign, memberId, schedule }, workflowId: activationWorkflowId(campaign.campaignId, memberId) };
};

const progress = (
  terms: EnrollmentTerms,
  e: EnrollmentState,
  version: number,
  over: Partial<ProgressRecord> = {},
): ProgressRecord =>
  progressRecord(terms, e, version, day(2), {
    audit: [
      { key: `seq:${version}`, type: 'TRANSACTION_RECEIVED', source: 'REALTIME', occurredAt: day(2), payload: {} },
    ],
    ...over,
  });

const env = () => new MockActivityEnvironment({ activityType: 'recordProgress', attempt: 1 });

describe('recordProgress', () => {
  it('writes the audit lines, the view and the ledger once, however often it runs, and measures what it carries', async () => {
    const { terms, workflowId } = nextMember();
    const registry = new Registry();
    const activities = createActivities({
      db,
      pointsApiUrl: 'http://127.0.0.1:1',
      pointsApiTimeoutMs: 100,
      metrics: createRecordingMetrics(registry),
    });
    const tx = load(20_000, { memberId: terms.memberId, receivedAt: new Date(Date.now() - 1_000).toISOString() });
    const e = apply(terms, initialEnrollment(), tx, day(2)).enrollment;
    const record = progress(terms, e, 1, { measures: { heard: [tx.receivedAt], historyEvents: 5 } });
    await env().run(activities.recordProgress, record);
    await env().run(activities.recordProgress, record); // a retried attempt after a lost answer

    expect((await auditTrail(db, workflowId)).map((a) => a.eventKey)).toEqual(['seq:1']);
    expect(await getEnrollment(db, campaign.campaignId, terms.memberId)).toMatchObject({
      state: 'ACTIVE',
      countedCents: 20_000,
    });
    expect(Object.keys(await getLedger(db, workflowId))).toEqual([tx.transactionId]);
    // Both attempts observed: the metrics count what was recorded, retries included (a retry is rare and cheap).
    const news = await registry.getSingleMetric('activation_news_recorded_total')!.get();
    expect(news.values[0].value).toBe(2);
  });

  it('never lets an older record roll the view or the ledger back (a retry landing after a newer record)', async () => {
    const { terms, workflowId } = nextMember();
    const activities = createActivities({ db, pointsApiUrl: 'http://127.0.0.1:1', pointsApiTimeoutMs: 100 });
    const first = load(20_000, { memberId: terms.memberId });
    const second = load(35_000, { memberId: terms.memberId });
    const e1 = apply(terms, initialEnrollment(), first, day(2)).enrollment;
    const e2 = apply(terms, e1, second, day(3)).enrollment;
    await env().run(activities.recordProgress, progress(terms, e1, 1));
    await env().run(activities.recordProgress, progress(terms, e2, 2));
    // The first record's activity is retried after the second landed: its audit line is kept, its view is not.
    await env().run(activities.recordProgress, progress(terms, e1, 1));
    expect(await getEnrollment(db, campaign.campaignId, terms.memberId)).toMatchObject({
      state: 'GOAL_ACHIEVED',
      countedCents: 55_000,
    });
    expect((await getLedger(db, workflowId))[first.transactionId]).toMatchObject({ amountCents: 20_000 });
    expect((await auditTrail(db, workflowId)).map((a) => a.eventKey)).toEqual(['seq:1', 'seq:2']);
  });
});

describe('notify', () => {
  const message = (memberId: string, type: NotificationMessage['type'] = 'ENROLLED'): NotificationMessage => ({
    id: `n:${memberId}:${type}`,
    type,
    workflowId: activationWorkflowId(campaign.campaignId, memberId),
    campaignId: campaign.campaignId,
    memberId,
    occurredAt: day(0),
    data: { targetCents: TARGET },
  });
  const run = (activities: ReturnType<typeof createActivities>, m: NotificationMessage) =>
    new MockActivityEnvironment({ activityType: 'notify', attempt: 1 }).run(activities.notify, m);

  it('records only, without a push channel', async () => {
    const { terms } = nextMember();
    const activities = createActivities({ db, pointsApiUrl: 'http://127.0.0.1:1', pointsApiTimeoutMs: 100 });
    const m = message(terms.memberId);
    expect(await run(activities, m)).toMatchObject({ delivered: false });
    expect((await notificationsOf(db, campaign.campaignId, terms.memberId)).map((n) => n.status)).toEqual(['RECORDED']);
    expect(pushed).toEqual([]);
  });

  it('pushes once: a retry after delivery does not push again, and the audit trail has it once', async () => {
    const { terms, workflowId } = nextMember();
    const activities = createActivities({
      db,
      pointsApiUrl: 'http://127.0.0.1:1',
      pointsApiTimeoutMs: 100,
      notifyUrl: channelUrl,
    });
    const m = message(terms.memberId, 'GOAL_ACHIEVED');
    expect(await run(activities, m)).toEqual({ delivered: true });
    expect(await run(activities, m)).toEqual({ delivered: true, detail: 'already delivered' });
    expect(pushed.map((p) => p.id)).toEqual([m.id]);
    expect((await notificationsOf(db, campaign.campaignId, terms.memberId)).map((n) => n.status)).toEqual([
      'DELIVERED',
    ]);
    expect((await auditTrail(db, workflowId)).filter((a) => a.type === 'NOTIFICATION')).toHaveLength(1);
  });

  it('fails retryably while the channel is down, and delivers on the attempt after it is back', async () => {
    const { terms } = nextMember();
    const activities = createActivities({
      db,
      pointsApiUrl: 'http://127.0.0.1:1',
      pointsApiTimeoutMs: 100,
      notifyUrl: channelUrl,
    });
    const m = message(terms.memberId);
    answers = [503];
    const err = await run(activities, m).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: ErrorType.PUSH_CHANNEL_UNAVAILABLE, nonRetryable: false });
    const [failed] = await notificationsOf(db, campaign.campaignId, terms.memberId);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(await run(activities, m)).toEqual({ delivered: true });
    expect(await notificationsOf(db, campaign.campaignId, terms.memberId)).toMatchObject([
      { status: 'DELIVERED', attempts: 2 },
    ]);
    expect(pushed.map((p) => p.id)).toEqual([m.id]);
  });
});
