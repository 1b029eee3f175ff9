/** The HTTP API against real servers: PostgreSQL, the Temporal test server and a worker. */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import request from 'supertest';
import { auditTrail } from '../../src/db/audit';
import { getLedger } from '../../src/db/enrollments';
import type { Db } from '../../src/db/pool';
import { assignGroup } from '../../src/domain/holdout';
import { MAX_AMOUNT_CENTS } from '../../src/domain/model';
import { startApiBench, type ApiBench } from '../support/api-bench';

let bench: ApiBench;
let env: TestWorkflowEnvironment;
let db: Db;
let app: ApiBench['app'];

const CAMPAIGN = 'api-test';
const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };

beforeAll(async () => {
  bench = await startApiBench('api');
  ({ env, db, app } = bench);
  await request(app).put(`/v1/campaigns/${CAMPAIGN}`).send(terms).expect(201);
});

afterAll(async () => {
  await bench?.teardown();
});

const tx = (over: Record<string, unknown> = {}) => ({
  transactionId: `TX-${randomUUID()}`,
  memberId: 'M-api-1',
  kind: 'LOAD',
  amountCents: 10_000,
  currency: 'AUD',
  channel: 'DEBIT_CARD',
  occurredAt: new Date().toISOString(),
  ...over,
});

const expectError = (res: request.Response, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
};

describe('campaigns', () => {
  it('answers 200 for identical terms and 409 for other terms', async () => {
    const same = await request(app).put(`/v1/campaigns/${CAMPAIGN}`).send(terms);
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ campaignId: CAMPAIGN, ...terms, currency: 'AUD' });
    const other = await request(app)
      .put(`/v1/campaigns/${CAMPAIGN}`)
      .send({ ...terms, targetCents: 1 });
    expectError(other, 409, 'CAMPAIGN_TERMS_IMMUTABLE');
  });

  it('defaults the window and grace period', async () => {
    const res = await request(app).put('/v1/campaigns/defaults-test').send({ targetCents: 100, rewardPoints: 5 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ window: 'P30D', grace: 'PT48H' });
  });

  it.each([
    [{ ...terms, targetCents: undefined }, 'body.targetCents'],
    [{ ...terms, targetCents: -1 }, 'body.targetCents'],
    [{ ...terms, targetCents: 10.5 }, 'body.targetCents'],
    [{ ...terms, rewardPoints: '2000' }, 'body.rewardPoints'],
    [{ ...terms, window: 'P1M' }, 'body.window'],
    [{ ...terms, grace: '48 hours' }, 'body.grace'],
    [{ ...terms, currency: 'USD' }, 'body.currency'],
    [{ ...terms, colour: 'red' }, 'body'],
    // Bounded window and grace (issue 9): a deadline must stay a date PostgreSQL and people can hold.
    [{ ...terms, window: 'P9999999W' }, 'body.window'],
    [{ ...terms, window: 'P367D' }, 'body.window'],
    [{ ...terms, window: 'PT0S' }, 'body.window'],
    [{ ...terms, grace: 'P32D' }, 'body.grace'],
    [{ ...terms, targetCents: MAX_AMOUNT_CENTS + 1 }, 'body.targetCents'],
  ])('refuses %p with a 400 naming %s', async (body, path) => {
    const res = await request(app).put('/v1/campaigns/bad-terms').send(body);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    await request(app).get('/v1/campaigns/bad-terms').expect(404);
  });

  it('takes a grace period of zero and the longest window', async () => {
    const res = await request(app)
      .put('/v1/campaigns/no-grace')
      .send({ ...terms, window: 'P366D', grace: 'PT0S' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ window: 'P366D', grace: 'PT0S' });
  });

  it('refuses a malformed campaign id', async () => {
    expectError(await request(app).put('/v1/campaigns/Not_Valid').send(terms), 400, 'VALIDATION_FAILED');
  });

  it('reports counts per state', async () => {
    await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-count' }).expect(201);
    const res = await request(app).get(`/v1/campaigns/${CAMPAIGN}`).expect(200);
    expect(res.body.counts.ENROLLED).toBeGreaterThanOrEqual(1);
  });

  it('404s an unknown campaign', async () => {
    expectError(await request(app).get('/v1/campaigns/nope'), 404, 'NOT_FOUND');
  });
});

describe('enrollments', () => {
  it('enrolls once: the repeat answers 200 with the same body and starts no second workflow', async () => {
    const first = await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-once' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      campaignId: CAMPAIGN,
      memberId: 'M-once',
      workflowId: `activation:${CAMPAIGN}:M-once`,
      state: 'ENROLLED',
    });
    expect(Date.parse(first.body.evaluatesAt) - Date.parse(first.body.enrolledAt)).toBe(32 * 86_400_000);
    const handle = env.client.workflow.getHandle(first.body.workflowId);
    const run = (await handle.describe()).runId;
    const again = await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-once' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const after = await handle.describe();
    expect(after.runId).toBe(run);
    expect(after.status.name).toBe('RUNNING');
  });

  it('records the start with the row (the ENROLLED line and notification): the run itself records nothing', async () => {
    const res = await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-start' });
    expect(res.status).toBe(201);
    const trail = await auditTrail(db, res.body.workflowId);
    expect(trail.map((a) => [a.eventKey, a.type])).toEqual([['enrolled', 'ENROLLED']]);
    const { rows } = await db.query('SELECT id, type, status FROM notifications WHERE workflow_id = $1', [
      res.body.workflowId,
    ]);
    expect(rows).toEqual([{ id: `${res.body.workflowId}:ENROLLED`, type: 'ENROLLED', status: 'RECORDED' }]);
    await new Promise((r) => setTimeout(r, 300));
    const history = await env.client.workflow.getHandle(res.body.workflowId).fetchHistory();
    expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('starts one workflow when twin requests race', async () => {
    const [a, b] = await Promise.all([
      request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-twin' }),
      request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-twin' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.body).toEqual(b.body);
  });

  it('keeps a backdated enrolledAt', async () => {
    const enrolledAt = '2026-01-01T00:00:00.000Z';
    const res = await request(app)
      .post(`/v1/campaigns/${CAMPAIGN}/enrollments`)
      .send({ memberId: 'M-back', enrolledAt });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ enrolledAt, windowEndsAt: '2026-01-31T00:00:00.000Z' });
  });

  it.each([
    [{}, 'body.memberId'],
    [{ memberId: '' }, 'body.memberId'],
    [{ memberId: 'has:colon' }, 'body.memberId'],
    [{ memberId: 'x'.repeat(65) }, 'body.memberId'],
    [{ memberId: 'M-ok', enrolledAt: 'tomorrow' }, 'body.enrolledAt'],
    [{ memberId: 'M-ok', enrolledAt: new Date(Date.now() + 86_400_000).toISOString() }, 'body.enrolledAt'],
    [{ memberId: 'M-ok', enrolledAt: '2026-02-30T00:00:00Z' }, 'body.enrolledAt'],
    [{ memberId: 'M-ok', enrolledAt: '1969-12-31T23:59:59Z' }, 'body.enrolledAt'],
    [{ memberId: 'M-ok', extra: true }, 'body'],
  ])('refuses %p with a 400 naming %s', async (body, path) => {
    const res = await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send(body);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('refuses an enrolledAt in year 0000 and starts no workflow', async () => {
    // Before issue 9 this answered 500 after starting the workflow: an orphan whose recordProgress retried forever.
    const res = await request(app)
      .post(`/v1/campaigns/${CAMPAIGN}/enrollments`)
      .send({ memberId: 'M-year0', enrolledAt: '0000-01-01T00:00:00Z' });
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['body.enrolledAt']);
    await expect(env.client.workflow.getHandle(`activation:${CAMPAIGN}:M-year0`).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    expectError(await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/M-year0`), 404, 'NOT_FOUND');
  });

  it('takes the earliest acceptable enrolledAt', async () => {
    const res = await request(app)
      .post(`/v1/campaigns/${CAMPAIGN}/enrollments`)
      .send({ memberId: 'M-1970', enrolledAt: '1970-01-01T00:00:00Z' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      enrolledAt: '1970-01-01T00:00:00.000Z',
      windowEndsAt: '1970-01-31T00:00:00.000Z',
    });
  });

  it('404s enrollment into an unknown campaign', async () => {
    expectError(await request(app).post('/v1/campaigns/ghost/enrollments').send({ memberId: 'M1' }), 404, 'NOT_FOUND');
  });
});

describe('members', () => {
  it('shows the balance view, fresh after a transaction', async () => {
    await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-view' }).expect(201);
    const view = await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/M-view`).expect(200);
    expect(view.body).toMatchObject({
      state: 'ENROLLED',
      targetCents: 50_000,
      countedCents: 0,
      remainingCents: 50_000,
    });
    const accepted = await request(app)
      .post('/v1/transactions')
      .send(tx({ memberId: 'M-view', amountCents: 12_345 }));
    expect(accepted.status).toBe(202);
    expect(accepted.body.enrollments).toEqual([{ campaignId: CAMPAIGN, workflowId: `activation:${CAMPAIGN}:M-view` }]);
    const deadline = Date.now() + 5_000;
    let body;
    do {
      body = (await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/M-view`)).body;
    } while (body.countedCents !== 12_345 && Date.now() < deadline);
    expect(body).toMatchObject({ state: 'ACTIVE', countedCents: 12_345, instantCents: 12_345, remainingCents: 37_655 });
    const explanation = await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/M-view/explanation`).expect(200);
    expect(explanation.body.counted).toEqual([expect.objectContaining({ amountCents: 12_345, status: 'INSTANT' })]);
  });

  it('404s a member who is not enrolled', async () => {
    expectError(await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/nobody`), 404, 'NOT_FOUND');
    expectError(await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/nobody/explanation`), 404, 'NOT_FOUND');
    expectError(await request(app).post(`/v1/campaigns/${CAMPAIGN}/members/nobody/cancel`), 404, 'NOT_FOUND');
  });

  it('400s a malformed member id in the path', async () => {
    expectError(await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/bad%20id`), 400, 'VALIDATION_FAILED');
  });

  it('cancels; the same opt-out again answers the same (a retry after a 503 must not hear 409)', async () => {
    await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-cancel' }).expect(201);
    const res = await request(app)
      .post(`/v1/campaigns/${CAMPAIGN}/members/M-cancel/cancel`)
      .set('X-Caller-Id', 'agent-7')
      .send({ reason: 'member asked' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ memberId: 'M-cancel', state: 'CANCELLED' });
    const again = await request(app).post(`/v1/campaigns/${CAMPAIGN}/members/M-cancel/cancel`).send({});
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ memberId: 'M-cancel', state: 'CANCELLED', updatedAt: res.body.updatedAt });
  });

  it('refuses to opt out a member with another verdict: 409 ALREADY_DECIDED with the state', async () => {
    await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-withdrew' }).expect(201);
    await request(app)
      .post('/v1/transactions')
      .send(tx({ memberId: 'M-withdrew', kind: 'WITHDRAWAL', channel: 'ATM' }))
      .expect(202);
    const deadline = Date.now() + 20_000;
    let res;
    do {
      res = await request(app).post(`/v1/campaigns/${CAMPAIGN}/members/M-withdrew/cancel`).send({});
      if (res.status === 409) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    expectError(res, 409, 'ALREADY_DECIDED');
    expect(res.body.error.details).toEqual([{ state: 'DISQUALIFIED' }]);
  });
});

describe('a holdout member', () => {
  it('is explained as in the holdout group, never rewarded, when the verdict is ELIGIBLE', async () => {
    const campaign = 'api-holdout';
    await request(app)
      .put(`/v1/campaigns/${campaign}`)
      .send({ ...terms, window: 'PT2S', grace: 'PT1S', holdoutPercent: 50 })
      .expect(201);
    const memberId = Array.from({ length: 100 }, (_, i) => `M-held-${i}`).find(
      (m) => assignGroup(campaign, m, 50) === 'HOLDOUT',
    )!;
    await request(app).post(`/v1/campaigns/${campaign}/enrollments`).send({ memberId }).expect(201);
    await request(app)
      .post('/v1/transactions')
      .send(tx({ memberId, amountCents: 55_000 }))
      .expect(202);
    const deadline = Date.now() + 20_000;
    let view;
    do {
      view = (await request(app).get(`/v1/campaigns/${campaign}/members/${memberId}`)).body;
    } while (view.state !== 'HOLDOUT_QUALIFIED' && Date.now() < deadline);
    expect(view).toMatchObject({ state: 'HOLDOUT_QUALIFIED', group: 'HOLDOUT' });
    const explanation = await request(app).get(`/v1/campaigns/${campaign}/members/${memberId}/explanation`).expect(200);
    expect(explanation.body).toMatchObject({ group: 'HOLDOUT', state: 'HOLDOUT_QUALIFIED' });
    expect(explanation.body.verdict).toMatchObject({
      outcome: 'ELIGIBLE',
      countedCents: 55_000,
      reason: 'loaded A$550.00 in the window, target A$500.00, no withdrawal; in the holdout group, never rewarded',
    });
  });
});

describe('transactions', () => {
  it('accepts a transaction for a member with no enrollment and stores nothing', async () => {
    const res = await request(app)
      .post('/v1/transactions')
      .send(tx({ memberId: 'M-unknown' }));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ enrollments: [], late: [] });
  });

  it('is harmless to repost', async () => {
    await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-repost' }).expect(201);
    const body = tx({ memberId: 'M-repost', amountCents: 7_000 });
    for (let i = 0; i < 3; i++) await request(app).post('/v1/transactions').send(body).expect(202);
    const deadline = Date.now() + 5_000;
    let view;
    do {
      view = (await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/M-repost`)).body;
    } while (view.countedCents === 0 && Date.now() < deadline);
    await new Promise((r) => setTimeout(r, 300));
    view = (await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/M-repost`)).body;
    expect(view.countedCents).toBe(7_000);
  });

  it.each([
    [{ transactionId: undefined }, 'body.transactionId'],
    [{ transactionId: 'has space' }, 'body.transactionId'],
    [{ memberId: 'bad id' }, 'body.memberId'],
    [{ kind: 'REFUND' }, 'body.kind'],
    [{ amountCents: 0 }, 'body.amountCents'],
    [{ amountCents: -5 }, 'body.amountCents'],
    [{ amountCents: 10.01 }, 'body.amountCents'],
    [{ amountCents: '100' }, 'body.amountCents'],
    [{ currency: 'USD' }, 'body.currency'],
    [{ channel: 'CHEQUE' }, 'body.channel'],
    [{ channel: 'ATM' }, 'body.channel'],
    [{ kind: 'WITHDRAWAL', channel: 'BPAY' }, 'body.channel'],
    [{ occurredAt: 'last tuesday' }, 'body.occurredAt'],
    [{ occurredAt: new Date(Date.now() + 3_600_000).toISOString() }, 'body.occurredAt'],
    [{ occurredAt: '2026-02-30T00:00:00Z' }, 'body.occurredAt'],
    [{ occurredAt: '+010000-01-01T00:00:00Z' }, 'body.occurredAt'],
    [{ occurredAt: '2026-11-22T24:00:00Z' }, 'body.occurredAt'],
    [{ amountCents: Number.MAX_SAFE_INTEGER }, 'body.amountCents'],
    [{ amountCents: MAX_AMOUNT_CENTS + 1 }, 'body.amountCents'],
    [{ amountCents: 1e308 }, 'body.amountCents'],
    [{ note: 'extra' }, 'body'],
  ])('refuses %p with a 400 naming %s', async (over, path) => {
    const res = await request(app).post('/v1/transactions').send(tx(over));
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('refuses a time in year 0000, stores nothing, and the campaign report still answers', async () => {
    // Before issue 9 this was 202 and stored; from then on the report answered 500 (PostgreSQL has no year 0).
    await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-tx-year0' }).expect(201);
    const body = tx({ memberId: 'M-tx-year0', occurredAt: '0000-01-01T00:00:00Z' });
    const res = await request(app).post('/v1/transactions').send(body);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['body.occurredAt']);

    // A later, good transaction of the member is recorded; the refused one never is.
    const good = tx({ memberId: 'M-tx-year0', amountCents: 1_234 });
    await request(app).post('/v1/transactions').send(good).expect(202);
    const workflowId = `activation:${CAMPAIGN}:M-tx-year0`;
    const deadline = Date.now() + 5_000;
    while (!(await getLedger(db, workflowId))[good.transactionId] && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Object.keys(await getLedger(db, workflowId))).toEqual([good.transactionId]);
    const trail = await auditTrail(db, workflowId);
    expect(JSON.stringify(trail)).not.toContain(body.transactionId);
    expect((await request(app).get(`/v1/campaigns/${CAMPAIGN}/report`)).status).toBe(200);
  });

  it('keeps sums exact: three loads of the largest amount count exactly three times it', async () => {
    await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: 'M-max' }).expect(201);
    for (let i = 0; i < 3; i++) {
      await request(app)
        .post('/v1/transactions')
        .send(tx({ memberId: 'M-max', amountCents: MAX_AMOUNT_CENTS }))
        .expect(202);
    }
    const deadline = Date.now() + 5_000;
    let view;
    do {
      view = (await request(app).get(`/v1/campaigns/${CAMPAIGN}/members/M-max`)).body;
    } while (view.countedCents !== 3 * MAX_AMOUNT_CENTS && Date.now() < deadline);
    expect(view).toMatchObject({ state: 'GOAL_ACHIEVED', countedCents: 300_000_000, instantCents: 300_000_000 });
  });

  it('refuses invalid JSON, other media types and bodies over 1 MiB', async () => {
    const badJson = await request(app).post('/v1/transactions').set('Content-Type', 'application/json').send('{"a":');
    expectError(badJson, 400, 'INVALID_JSON');
    const text = await request(app).post('/v1/transactions').set('Content-Type', 'text/plain').send('hello');
    expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const huge = JSON.stringify({ ...tx(), pad: 'x'.repeat(1024 * 1024) });
    const tooBig = await request(app).post('/v1/transactions').set('Content-Type', 'application/json').send(huge);
    expectError(tooBig, 413, 'PAYLOAD_TOO_LARGE');
  });
});

describe('operations', () => {
  it('answers health, readiness, metrics and the OpenAPI document', async () => {
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    const ready = await request(app).get('/readyz').expect(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { postgres: true, temporal: true } });
    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(metrics.text).toContain('http_request_duration_seconds_bucket');
    const doc = await request(app).get('/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/transactions', '/v1/campaigns/{campaignId}/enrollments']),
    );
    for (const kind of ['Load', 'Withdrawal']) {
      expect(doc.body.components.schemas[kind].required).toEqual(
        expect.arrayContaining([
          'transactionId',
          'memberId',
          'kind',
          'amountCents',
          'currency',
          'channel',
          'occurredAt',
        ]),
      );
    }
  });

  it('answers unknown routes with the error body', async () => {
    expectError(await request(app).get('/v2/whatever'), 404, 'NOT_FOUND');
  });

  it('answers a method a known path does not have with 405 and the methods it has', async () => {
    const res = await request(app).delete(`/v1/campaigns/${CAMPAIGN}`);
    expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('PUT, GET, HEAD, OPTIONS');
    const options = await request(app).options('/v1/transactions');
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('POST, OPTIONS');
    expectError(
      await request(app).patch('/v1/campaigns/Not_A_Campaign/members/x/explanation'),
      405,
      'METHOD_NOT_ALLOWED',
    );
  });
});
