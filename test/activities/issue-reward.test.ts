/**
 * The issueReward activity (MockActivityEnvironment, real PostgreSQL, the local points API): when the points API
 * says `Retry-After`, the failure carries the wait to the retry policy (issue 9, point 7: it retried after 1 s when
 * told 4 s).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import type { RewardRequest } from '../../src/domain/records';
import { auditTrail } from '../../src/db/audit';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { startPointsApi, type Fault } from '../../src/dev/points-api';
import { createTestDatabase, type TestDatabase } from '../support/db';

let database: TestDatabase;
let db: Db;
let points: Awaited<ReturnType<typeof startPointsApi>>;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  database = await createTestDatabase('issue_reward');
  await migrate(database.url);
  db = createPool(database.url, 3);
  points = await startPointsApi({ port: 0 });
  activities = createActivities({ db, pointsApiUrl: points.url, pointsApiTimeoutMs: 2_000 });
});
afterAll(async () => {
  await points?.stop();
  await db?.end();
  await database?.drop();
});
beforeEach(() => points.faults.clear());

let members = 0;
const request = (): RewardRequest => {
  members += 1;
  const memberId = `M-retry-${members}`;
  return {
    workflowId: `activation:c:${memberId}`,
    campaignId: 'c',
    memberId,
    points: 2_000,
    idempotencyKey: `activation:c:${memberId}`,
  };
};

/** Runs one attempt of issueReward against one injected answer; returns what it threw. */
async function attemptAgainst(fault: Fault, attempt: number, req = request()): Promise<ApplicationFailure> {
  points.faults.push(fault);
  const env = new MockActivityEnvironment({
    attempt,
    activityId: '1',
    activityType: 'issueReward',
    workflowExecution: { workflowId: req.workflowId, runId: 'run-1' },
  });
  const err: unknown = await env.run(activities.issueReward, req).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('issueReward and Retry-After', () => {
  it('asks for the next attempt after the 4 s a 429 said, on attempt 1', async () => {
    const req = request();
    const err = await attemptAgainst({ status: 429, retryAfter: 4 }, 1, req);
    expect(err).toMatchObject({ type: 'POINTS_API_UNAVAILABLE', nonRetryable: false, nextRetryDelay: 4_000 });
    expect(err.message).toContain('HTTP 429');
    expect(points.credits()).toHaveLength(0);
    const attempts = (await auditTrail(db, req.workflowId)).filter((a) => a.type === 'REWARD_ATTEMPT');
    expect(attempts.map((a) => a.payload)).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'UNAVAILABLE', retryAfterMs: 4_000 }),
    ]);
  });

  it('never waits less than the backoff of the attempt', async () => {
    expect((await attemptAgainst({ status: 503, retryAfter: 4 }, 4)).nextRetryDelay).toBe(8_000);
    expect((await attemptAgainst({ status: 429, retryAfter: 0 }, 1)).nextRetryDelay).toBe(1_000);
  });

  it('never waits more than the policy maximum of 10 minutes', async () => {
    expect((await attemptAgainst({ status: 503, retryAfter: 86_400 }, 1)).nextRetryDelay).toBe(600_000);
  });

  it('leaves the wait to the retry policy when the API said nothing', async () => {
    const err = await attemptAgainst(500, 1);
    expect(err.type).toBe('POINTS_API_UNAVAILABLE');
    expect(err.nextRetryDelay).toBeUndefined();
  });

  it('credits on the attempt after the fault, once', async () => {
    const req = request();
    await attemptAgainst({ status: 429, retryAfter: 4 }, 1, req);
    const env = new MockActivityEnvironment({ attempt: 2, activityId: '1', activityType: 'issueReward' });
    const receipt = await env.run(activities.issueReward, req);
    expect(receipt).toMatchObject({ creditId: expect.any(String), alreadyIssued: false });
    expect(points.credits().filter((c) => c.memberId === req.memberId)).toHaveLength(1);
  });
});
