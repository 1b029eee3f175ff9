/**
 * The one delivery path for news (src/activities/delivery.ts) against a real Temporal server and PostgreSQL: to a
 * running enrollment by signal or update, to a closed one as late news judged by the workflow's own rule, and a record
 * the workflow refuses as a whole answered CONFLICT.
 */
import request from 'supertest';
import { signalNews, updateWithNews } from '../../src/activities/delivery';
import { auditTrail } from '../../src/db/audit';
import { newsTargets, type NewsTarget } from '../../src/db/enrollments';
import { lateEventKey } from '../../src/domain/enrollment';
import { activationWorkflowId } from '../../src/domain/ids';
import { MAX_EVENTS_PER_UPDATE } from '../../src/workflows/messages';
import { load } from '../domain/fixtures';
import { startApiBench, type ApiBench } from '../support/api-bench';
import { eventually } from '../support/stack';

const CAMPAIGN = 'delivery';
let bench: ApiBench;

beforeAll(async () => {
  bench = await startApiBench('delivery');
  await request(bench.app)
    .put(`/v1/campaigns/${CAMPAIGN}`)
    .send({ targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' })
    .expect(201);
});
afterAll(async () => {
  await bench?.teardown();
});

async function enrolled(memberId: string): Promise<NewsTarget> {
  await request(bench.app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId }).expect(201);
  const [target] = (await newsTargets(bench.db, [memberId])).get(memberId) ?? [];
  expect(target).toMatchObject({ campaignId: CAMPAIGN, memberId, state: 'ENROLLED' });
  return target;
}
const now = () => new Date().toISOString();
const deps = () => ({ db: bench.db, temporal: bench.env.client });

it('signals a running enrollment: not late, and the workflow counts it', async () => {
  const target = await enrolled('M-deliver-live');
  const tx = load(20_000, { memberId: target.memberId, occurredAt: now(), receivedAt: now() });
  expect(await signalNews(deps(), target, tx)).toEqual({ late: false });
  await eventually(
    async () => {
      const view = await request(bench.app).get(`/v1/campaigns/${CAMPAIGN}/members/${target.memberId}`);
      return view.body.countedCents === 20_000;
    },
    10_000,
    'the load counted',
  );
});

it('updates a running enrollment: one answer per record, the same update id answered with the first answer', async () => {
  const target = await enrolled('M-deliver-update');
  const a = load(30_000, { memberId: target.memberId, occurredAt: now(), receivedAt: now() });
  const b = load(25_000, { memberId: target.memberId, occurredAt: now(), receivedAt: now() });
  const first = await updateWithNews(deps(), target, [a, b, a], 'chunk-1:M-deliver-update');
  expect(first).toEqual(['APPLIED', 'APPLIED', 'DUPLICATE']);
  expect(await updateWithNews(deps(), target, [a, b, a], 'chunk-1:M-deliver-update')).toEqual(first);
});

it('answers CONFLICT for every record of an update the workflow refuses as a whole', async () => {
  const target = await enrolled('M-deliver-refused');
  const tooMany = Array.from({ length: MAX_EVENTS_PER_UPDATE + 1 }, () =>
    load(100, { memberId: target.memberId, occurredAt: now(), receivedAt: now() }),
  );
  const answers = await updateWithNews(deps(), target, tooMany, 'chunk-2:M-deliver-refused');
  expect(new Set(answers)).toEqual(new Set(['CONFLICT']));
  expect(answers).toHaveLength(tooMany.length);
});

it('records news for an enrollment whose workflow has closed as late, once, by its one key', async () => {
  const target = await enrolled('M-deliver-closed');
  await request(bench.app)
    .post(`/v1/campaigns/${CAMPAIGN}/members/${target.memberId}/cancel`)
    .send({ reason: 'opted out' })
    .expect(200);
  const workflowId = activationWorkflowId(CAMPAIGN, target.memberId);
  await bench.env.client.workflow.getHandle(workflowId).result();
  const [closed] = (await newsTargets(bench.db, [target.memberId])).get(target.memberId) ?? [];
  expect(closed.state).toBe('CANCELLED');

  const tx = load(60_000, { memberId: target.memberId, occurredAt: now(), receivedAt: now() });
  expect(await signalNews(deps(), closed, tx)).toEqual({ late: true });
  expect(await updateWithNews(deps(), closed, [tx], 'chunk-3:M-deliver-closed')).toEqual(['LATE']);
  const late = (await auditTrail(bench.db, workflowId)).filter((l) => l.type === 'LATE_EVENT');
  expect(late.map((l) => l.eventKey)).toEqual([lateEventKey(tx)]);
});
