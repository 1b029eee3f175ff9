/**
 * The reward budget under fire (issue 13): far more members than slots, all evaluated in the same second, their rewards
 * credited by a slow points API through two worker processes, one of them SIGKILLed mid-burst with credits in flight
 * and replaced. Exactly maxRewards members are credited, each once; every other eligible member ends BUDGET_EXHAUSTED
 * and is told; the database's count of slots is exactly the cap; a dismissed review gives a slot back to the next one.
 */
import { Pool } from 'pg';
import { startPointsApi, type PointsApi } from '../../src/dev/points-api';
import { inParallel, loadBody } from '../support/requests';
import { eventually, startTestStack, type TestStack } from '../support/stack';
import { exitOf, workerProcesses } from '../support/workers';

const C = 'budget-e2e';
const MAX_REWARDS = 15;
const MEMBERS = Array.from({ length: 120 }, (_, i) => `BG-${String(i).padStart(3, '0')}`);

let stack: TestStack;
let points: PointsApi;
let db: Pool;
const workers = workerProcesses(() => stack);

beforeAll(async () => {
  // Every credit takes 4 s: the burst's credits are in flight together when the worker is killed, even when a busy
  // machine (CI runs suites side by side) is slow to see the first slot taken (1.5 s was once not enough).
  points = await startPointsApi({ port: 0, behaviour: { latencyMs: 4_000 } });
  stack = await startTestStack({ POINTS_API_URL: points.url }, { worker: false });
  db = new Pool({ connectionString: stack.databaseUrl, max: 2 });
}, 180_000);
afterAll(async () => {
  workers.killAll();
  await db?.end();
  await stack?.destroy();
  await points?.stop();
}, 60_000);

const stateOf = async () =>
  Object.fromEntries(
    (
      await db.query<{ state: string; n: number }>(
        'SELECT state, count(*)::int AS n FROM enrollments WHERE campaign_id = $1 GROUP BY state',
        [C],
      )
    ).rows.map((r) => [r.state, r.n]),
  );

it('a burst of verdicts, a slow points API and a worker killed mid-burst: exactly maxRewards credits', async () => {
  // Each load is made in the window's first second; the window is long enough to hear all 120 on a busy machine (with
  // 15 s, 62 members once heard theirs after it closed and were rightly NOT_ELIGIBLE).
  const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'PT40S', grace: 'PT2S', maxRewards: MAX_REWARDS };
  expect((await stack.api('PUT', `/v1/campaigns/${C}`, terms)).status).toBe(201);
  const again = await stack.api<{ error: { code: string } }>('PUT', `/v1/campaigns/${C}`, { ...terms, maxRewards: 16 });
  expect(again.body.error.code).toBe('CAMPAIGN_TERMS_IMMUTABLE');

  const doomed = workers.start();
  workers.start();
  // Everyone enrolled at the same instant: every verdict falls in the same second.
  const enrolledAt = new Date().toISOString();
  await inParallel(MEMBERS, 16, async (memberId) => {
    expect((await stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId, enrolledAt })).status).toBe(201);
    const load = loadBody(memberId, `TX-${memberId}`, 60_000, enrolledAt);
    expect((await stack.api('POST', '/v1/transactions', load)).status).toBe(202);
  });

  // The burst has begun when the first slot is taken; its credit is still on its way (4 s): kill a worker now.
  await Promise.race([
    eventually(
      async () => (await db.query('SELECT 1 FROM rewards WHERE campaign_id = $1 LIMIT 1', [C])).rowCount === 1,
      60_000,
      'the first slot',
    ),
    exitOf(doomed, 'before the burst'),
  ]);
  doomed.kill('SIGKILL');
  expect(points.credits().filter((c) => c.campaignId === C).length).toBeLessThan(MAX_REWARDS);
  workers.start();

  const final = await eventually(
    async () => {
      const s = await stateOf();
      if ((s.COMPLETED ?? 0) + (s.BUDGET_EXHAUSTED ?? 0) === MEMBERS.length) return s;
      // Where it stands, should it never get there.
      throw new Error(`states ${JSON.stringify(s)}, ${points.credits().length} credits`);
    },
    // 120 verdicts and 15 slow credits through one worker after the kill: a minute alone, and once more than two
    // minutes with the whole suite alongside.
    300_000,
    'every verdict and reward',
  );
  expect(final).toEqual({ COMPLETED: MAX_REWARDS, BUDGET_EXHAUSTED: MEMBERS.length - MAX_REWARDS });

  const credits = points.credits().filter((c) => c.campaignId === C);
  expect(credits).toHaveLength(MAX_REWARDS);
  expect(new Set(credits.map((c) => c.memberId)).size).toBe(MAX_REWARDS);
  const completed = await db.query<{ member_id: string }>(
    `SELECT member_id FROM enrollments WHERE campaign_id = $1 AND state = 'COMPLETED' ORDER BY 1`,
    [C],
  );
  expect(completed.rows.map((r) => r.member_id)).toEqual(credits.map((c) => c.memberId).sort());
  const campaign = await stack.api<{ budget: unknown }>('GET', `/v1/campaigns/${C}`);
  expect(campaign.body.budget).toEqual({ maxRewards: MAX_REWARDS, reserved: MAX_REWARDS, remaining: 0 });

  // Every member who found no slot is told, once.
  const told = await eventually(
    async () => {
      const { rows } = await db.query<{ n: number; members: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT member_id)::int AS members FROM notifications
         WHERE campaign_id = $1 AND type = 'BUDGET_EXHAUSTED'`,
        [C],
      );
      return rows[0].n === MEMBERS.length - MAX_REWARDS && rows[0];
    },
    30_000,
    'the BUDGET_EXHAUSTED notifications',
  );
  expect(told.members).toBe(MEMBERS.length - MAX_REWARDS);

  // The report says so; an exhausted member's verdict proves itself.
  const report = await stack.api<{ budget: unknown }>('GET', `/v1/campaigns/${C}/report`);
  expect(report.body.budget).toEqual({
    maxRewards: MAX_REWARDS,
    reserved: MAX_REWARDS,
    remaining: 0,
    exhausted: MEMBERS.length - MAX_REWARDS,
  });
  const exhausted = MEMBERS.find((m) => !credits.some((c) => c.memberId === m))!;
  const view = await stack.api<{ state: string; reward: { failure: string } }>(
    'GET',
    `/v1/campaigns/${C}/members/${exhausted}`,
  );
  expect(view.body).toMatchObject({ state: 'BUDGET_EXHAUSTED' });
  expect(view.body.reward.failure).toMatch(/budget of 15 rewards was spent/);
  const proof = await stack.api<{ verified: boolean }>('GET', `/v1/campaigns/${C}/members/${exhausted}/proof`);
  expect(proof.body.verified).toBe(true);
}, 480_000);
