/**
 * The points API misbehaving the ways real ones do, on the stack `npm start` runs (the Temporal dev server, real
 * time): 429 with Retry-After, 500, a credit booked but answered after the timeout, a refusal. Every eligible member
 * ends with exactly one credit, or in MANUAL_REVIEW with a review item and none.
 */
import { auditTrail } from '../../src/db/audit';
import { createPool, type Db } from '../../src/db/pool';
import { eventually, startTestStack, type TestStack } from '../support/stack';

jest.setTimeout(180_000);

let stack: TestStack;
let db: Db;
const campaign = 'points-faults';

beforeAll(async () => {
  stack = await startTestStack({ REWARD_RETRY_FOR: 'PT2M' });
  db = createPool(stack.databaseUrl, 2);
  const put = await stack.api('PUT', `/v1/campaigns/${campaign}`, {
    targetCents: 50_000,
    rewardPoints: 2_000,
    window: 'PT3S',
    grace: 'PT1S',
  });
  expect(put.status).toBe(201);
});
afterAll(async () => {
  await db?.end();
  await stack?.destroy();
});

/** Enrolls a member and loads the target; the verdict falls about four seconds later. */
async function eligible(memberId: string) {
  expect((await stack.api('POST', `/v1/campaigns/${campaign}/enrollments`, { memberId })).status).toBe(201);
  const load = {
    transactionId: `TX-${memberId}`,
    memberId,
    kind: 'LOAD',
    amountCents: 50_000,
    currency: 'AUD',
    channel: 'DEBIT_CARD',
    occurredAt: new Date().toISOString(),
  };
  expect((await stack.api('POST', '/v1/transactions', load)).status).toBe(202);
}

const finalState = (memberId: string) =>
  eventually(
    async () => {
      const { body } = await stack.api<{ state: string }>('GET', `/v1/campaigns/${campaign}/members/${memberId}`);
      return ['COMPLETED', 'MANUAL_REVIEW'].includes(body.state) && body.state;
    },
    90_000,
    `a final state for ${memberId}`,
  );

const creditsOf = (memberId: string) => stack.points!.credits().filter((c) => c.memberId === memberId);

it('waits as long as a 429 says in Retry-After, survives a 500 and a late answer, and credits once', async () => {
  stack.points!.faults.push({ status: 429, retryAfter: 3 }, 500, 'timeout-after-credit');
  await eligible('F-1');
  expect(await finalState('F-1')).toBe('COMPLETED');
  expect(creditsOf('F-1')).toHaveLength(1);

  const attempts = (await auditTrail(db, `activation:${campaign}:F-1`)).filter((a) => a.type === 'REWARD_ATTEMPT');
  expect(attempts.map((a) => a.payload.outcome)).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'CREDITED']);
  expect(attempts[0].payload).toMatchObject({ retryAfterMs: 3_000 });
  // The second attempt came no sooner than the 429 asked (our own backoff would have waited 1 s).
  expect(Date.parse(attempts[1].occurredAt) - Date.parse(attempts[0].occurredAt)).toBeGreaterThanOrEqual(2_900);
  // The late answer's credit was booked: the retry got the replay, not a second credit.
  expect(attempts[3].payload).toMatchObject({ replay: true });
});

it('puts a refused credit (400) in MANUAL_REVIEW with a review item, and credits nothing', async () => {
  stack.points!.faults.push(400);
  await eligible('F-2');
  expect(await finalState('F-2')).toBe('MANUAL_REVIEW');
  expect(creditsOf('F-2')).toHaveLength(0);
  const reviews = await stack.api<{ items: { memberId: string; kind: string }[] }>(
    'GET',
    `/v1/reviews?state=OPEN&campaignId=${campaign}`,
  );
  expect(reviews.body.items.filter((r) => r.memberId === 'F-2').map((r) => r.kind)).toEqual(['REWARD_FAILED']);
});
