/**
 * A campaign's reward budget (issue 13) on the time-skipping test server with the real activities and PostgreSQL: the
 * first eligible members take the slots, the next one ends BUDGET_EXHAUSTED and is told why; a reward the points API
 * refuses keeps its slot until a person dismisses its review, after which the next eligible member gets it.
 */
import { auditTrail } from '../../src/db/audit';
import { putCampaign } from '../../src/db/campaigns';
import { getEnrollment } from '../../src/db/enrollments';
import { notificationsOf } from '../../src/db/notifications';
import { inTransaction } from '../../src/db/pool';
import { listReviews, resolveReview } from '../../src/db/reviews';
import { budgetOf } from '../../src/db/campaigns';
import type { CampaignTerms } from '../../src/domain/terms';
import { explanationQuery } from '../../src/workflows/messages';
import { DAY, HOUR, TERMS, createBench, eventually, type Bench } from './harness';

let bench: Bench;
beforeAll(async () => {
  bench = await createBench();
});
afterAll(async () => {
  await bench?.teardown();
});

const budgeted = async (campaignId: string, maxRewards: number): Promise<CampaignTerms> => {
  const campaign = { ...TERMS, campaignId, maxRewards };
  await putCampaign(bench.db, campaign);
  return campaign;
};
const creditsOf = (memberId: string) => bench.points.credits().filter((c) => c.memberId === memberId);

it('the first eligible member takes the one slot; the next ends BUDGET_EXHAUSTED, told why, unpaid', () =>
  bench.withWorker(async () => {
    const campaign = await budgeted('wf-budget-one', 1);
    const first = await bench.enroll('budget-first', { campaign });
    await first.send({ amountCents: 60_000 });
    await bench.env.sleep(HOUR);
    const second = await bench.enroll('budget-second', { campaign });
    await second.send({ amountCents: 60_000 });

    expect(await first.handle.result()).toMatchObject({ state: 'COMPLETED', reward: { status: 'ISSUED' } });
    const result = await second.handle.result();
    expect(result).toMatchObject({ state: 'BUDGET_EXHAUSTED', verdict: { outcome: 'ELIGIBLE' } });
    expect(result.reward?.failure).toBe("campaign wf-budget-one's budget of 1 rewards was spent before this reward");
    expect(creditsOf('budget-first')).toHaveLength(1);
    expect(creditsOf('budget-second')).toHaveLength(0);
    expect(await budgetOf(bench.db, campaign.campaignId)).toEqual({ maxRewards: 1, reserved: 1, remaining: 0 });

    // Told, with the reason; nothing for a person to do.
    const told = await eventually(async () => {
      const n = await notificationsOf(bench.db, campaign.campaignId, 'budget-second');
      return n.some((x) => x.type === 'BUDGET_EXHAUSTED') && n;
    });
    expect(told.find((n) => n.type === 'BUDGET_EXHAUSTED')?.data).toMatchObject({ points: 2_000 });
    expect(await listReviews(bench.db, { campaignId: campaign.campaignId })).toEqual([]);
    const row = await eventually(async () => {
      const r = await getEnrollment(bench.db, campaign.campaignId, 'budget-second');
      return r?.state === 'BUDGET_EXHAUSTED' && r;
    });
    expect(row.reward).toMatchObject({ status: 'FAILED', failure: result.reward?.failure });
    expect((await second.handle.query(explanationQuery)).verdict?.outcome).toBe('ELIGIBLE');
    const trail = await auditTrail(bench.db, second.handle.workflowId);
    expect(trail.filter((a) => a.type === 'REWARD_ATTEMPT').map((a) => a.payload.outcome)).toEqual([
      'BUDGET_EXHAUSTED',
    ]);
    expect(trail.filter((a) => a.type === 'TRANSITION').at(-1)?.payload).toMatchObject({
      from: 'PENDING_REWARD',
      to: 'BUDGET_EXHAUSTED',
    });
  }));

it('a refused reward keeps its slot until its review is dismissed; then the next eligible member gets it', () =>
  bench.withWorker(async () => {
    const campaign = await budgeted('wf-budget-release', 1);
    bench.points.faults.push(422);
    const refused = await bench.enroll('budget-refused', { campaign });
    await refused.send({ amountCents: 60_000 });
    expect(await refused.handle.result()).toMatchObject({ state: 'MANUAL_REVIEW' });
    expect(await budgetOf(bench.db, campaign.campaignId)).toMatchObject({ reserved: 1, remaining: 0 });

    const waiting = await bench.enroll('budget-waiting', { campaign });
    await waiting.send({ amountCents: 60_000 });
    expect(await waiting.handle.result()).toMatchObject({ state: 'BUDGET_EXHAUSTED' });

    const [review] = await eventually(async () => {
      const r = await listReviews(bench.db, { campaignId: campaign.campaignId, state: 'OPEN' });
      return r.length === 1 && r;
    });
    expect(review.kind).toBe('REWARD_FAILED');
    await inTransaction(bench.db, (client) =>
      resolveReview(client, review.id, {
        action: 'DISMISS',
        note: 'account closed',
        resolvedAt: new Date().toISOString(),
      }),
    );
    expect(await budgetOf(bench.db, campaign.campaignId)).toMatchObject({ reserved: 0, remaining: 1 });

    const next = await bench.enroll('budget-next', { campaign });
    await next.send({ amountCents: 60_000 });
    await bench.env.sleep(31 * DAY);
    expect(await next.handle.result()).toMatchObject({ state: 'COMPLETED', reward: { status: 'ISSUED' } });
    expect(creditsOf('budget-next')).toHaveLength(1);
    expect(creditsOf('budget-refused')).toHaveLength(0);
    expect(await budgetOf(bench.db, campaign.campaignId)).toMatchObject({ reserved: 1, remaining: 0 });
  }));
