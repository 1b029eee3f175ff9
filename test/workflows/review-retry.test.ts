/**
 * RETRY_REWARD on a review item (`review:{reviewId}`), on the time-skipping test server with the real activities and
 * the local points API: the two ways it ends. With CAPTURE_HISTORIES=1 both histories become replay fixtures
 * (test/fixtures/histories/reward-retry/); the end-to-end tests only ever see it succeed.
 */
import { auditTrail } from '../../src/db/audit';
import { reviewRetryWorkflowId, rewardIdempotencyKey } from '../../src/domain/ids';
import type { RewardRetryInput, rewardRetry } from '../../src/workflows/review-retry';
import { saveHistory } from '../support/histories';
import { HOUR, TERMS, createBench, type Bench } from './harness';

let bench: Bench;
beforeAll(async () => {
  bench = await createBench();
});
afterAll(async () => {
  await bench?.teardown();
});
beforeEach(() => bench.points.faults.clear());

const retry = (memberId: string) => {
  const input: RewardRetryInput = {
    reviewId: `rv-${memberId}`,
    workflowId: `activation:${TERMS.campaignId}:${memberId}`,
    campaignId: TERMS.campaignId,
    memberId,
    points: TERMS.rewardPoints,
    idempotencyKey: rewardIdempotencyKey(TERMS.campaignId, memberId),
    rewardRetryForMs: HOUR,
    requestedBy: 'ops-alice',
  };
  return bench.env.client.workflow.start<typeof rewardRetry>('rewardRetry', {
    workflowId: reviewRetryWorkflowId(input.reviewId),
    taskQueue: bench.taskQueue,
    args: [input],
  });
};
const credits = (memberId: string) => bench.points.credits().filter((c) => c.memberId === memberId);
const outcomes = async (memberId: string) =>
  (await auditTrail(bench.db, `activation:${TERMS.campaignId}:${memberId}`))
    .filter((a) => a.type === 'REWARD_OUTCOME')
    .map((a) => a.payload);

describe('the reward retry of a review', () => {
  it('credits the points through a flaky points API and records ISSUED', () =>
    bench.withWorker(async () => {
      bench.points.faults.push(503);
      const handle = await retry('retry-issued');
      expect(await handle.result()).toEqual({ status: 'ISSUED' });
      expect(credits('retry-issued')).toHaveLength(1);
      expect(await outcomes('retry-issued')).toEqual([
        expect.objectContaining({ reviewId: 'rv-retry-issued', status: 'ISSUED', requestedBy: 'ops-alice' }),
      ]);
      await saveHistory('reward-retry', 'issued', handle);
    }));

  it('records FAILED, crediting nothing, when the points API refuses', () =>
    bench.withWorker(async () => {
      bench.points.faults.push(409);
      const handle = await retry('retry-refused');
      expect(await handle.result()).toEqual({ status: 'FAILED' });
      expect(credits('retry-refused')).toHaveLength(0);
      const [outcome] = await outcomes('retry-refused');
      expect(outcome).toMatchObject({ reviewId: 'rv-retry-refused', status: 'FAILED' });
      expect(String(outcome.failure)).toContain('the points API refused the credit');
      await saveHistory('reward-retry', 'refused', handle);
    }));
});
