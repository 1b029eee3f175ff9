/**
 * An answer says what happened. A second API instance reaches Temporal and PostgreSQL through proxies that can hold
 * every answer back: the request reaches the server at once and is applied there, but the answer comes after the API's
 * deadline, so the caller hears 503. For every write route: the 503 comes within seconds with Retry-After, the change
 * was applied meanwhile, and the same request again answers the truth (the first request's outcome, applied once),
 * never a 409 for its own change or a second change.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { listen, type RunningServer } from '../../src/api/server';
import { createApiFromConfig } from '../../src/api/wiring';
import { createPool, type Db } from '../../src/db/pool';
import { SETTLEMENT_HEADER } from '../../src/domain/settlement';
import { logger } from '../../src/logger';
import { startDelayProxy, type DelayProxy } from '../support/delay-proxy';
import { loadBody } from '../support/requests';
import { eventually, startTestStack, type TestStack } from '../support/stack';

jest.setTimeout(300_000);

const C = 'ambiguous';
/** Longer than the API's deadlines: 5 s for a Temporal call, 6 s for a PostgreSQL statement. */
const LATE_MS = 7_500;

let stack: TestStack;
let temporalProxy: DelayProxy;
let postgresProxy: DelayProxy;
let slowDb: Db;
let connection: NativeConnection;
let slowApi: RunningServer;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack();
  temporalProxy = await startDelayProxy({ host: '127.0.0.1', port: Number(stack.temporalAddress.split(':').at(-1)) });
  const url = new URL(stack.databaseUrl);
  postgresProxy = await startDelayProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(postgresProxy.port);
  slowDb = createPool(url.toString(), 5);
  connection = await NativeConnection.connect({ address: temporalProxy.address });
  slowApi = await listen(
    createApiFromConfig({
      config: loadConfig(stack.env),
      db: slowDb,
      connection,
      telemetry: { tracing: { exporting: false } as never },
      logger: logger.child({}, { level: 'fatal' }),
    }),
    0,
    '127.0.0.1',
  );
  client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
  const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };
  expect((await stack.api('PUT', `/v1/campaigns/${C}`, terms)).status).toBe(201);
});
afterAll(async () => {
  await client?.connection.close();
  await slowApi?.close();
  await connection?.close();
  await slowDb?.end();
  await temporalProxy?.close();
  await postgresProxy?.close();
  await stack?.destroy();
});

interface Answer<T> {
  status: number;
  body: T;
  retryAfter: string | null;
  ms: number;
}

async function slow<T = Record<string, unknown>>(
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const t0 = Date.now();
  const text = typeof body === 'string';
  const res = await fetch(`${slowApi.url}${p}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': text ? 'text/csv' : 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: text ? body : JSON.stringify(body) }),
  });
  return {
    status: res.status,
    body: (await res.json()) as T,
    retryAfter: res.headers.get('retry-after'),
    ms: Date.now() - t0,
  };
}

/** Sends the request while `proxy` holds answers back: a 503 within seconds, with Retry-After. Then lets answers go. */
async function answeredTooLate(proxy: DelayProxy, send: () => Promise<Answer<unknown>>): Promise<void> {
  proxy.setDelay(LATE_MS);
  try {
    const first = await send();
    expect({ status: first.status, code: (first.body as { error?: { code: string } }).error?.code }).toEqual({
      status: 503,
      code: 'SERVICE_UNAVAILABLE',
    });
    expect(first.retryAfter).toMatch(/^\d+$/);
    expect(first.ms).toBeLessThan(LATE_MS);
  } finally {
    proxy.setDelay(0);
  }
}

const member = (m: string) => `/v1/campaigns/${C}/members/${m}`;
const view = async (m: string) => (await stack.api<Record<string, unknown>>('GET', member(m))).body;

describe('a write answered 503 after Temporal applied it: the retry tells the truth', () => {
  it('enrollment: the retry answers with the enrollment the first request made (one workflow)', async () => {
    await answeredTooLate(temporalProxy, () => slow('POST', `/v1/campaigns/${C}/enrollments`, { memberId: 'A-1' }));
    const started = await eventually(
      async () => (await client.workflow.getHandle(`activation:${C}:A-1`).describe()).runId,
      30_000,
      'the workflow the first request started',
    );
    const retry = await slow<{ memberId: string; state: string }>('POST', `/v1/campaigns/${C}/enrollments`, {
      memberId: 'A-1',
    });
    expect([retry.status, retry.body.memberId, retry.body.state]).toEqual([200, 'A-1', 'ENROLLED']);
    expect((await client.workflow.getHandle(`activation:${C}:A-1`).describe()).runId).toBe(started);
  });

  it('transaction: the retry answers 202 with the same enrollment, and the load counts once', async () => {
    const load = loadBody('A-1', 'AMB-TX-1', 12_000);
    await answeredTooLate(temporalProxy, () => slow('POST', '/v1/transactions', load));
    await eventually(async () => (await view('A-1')).countedCents === 12_000, 30_000, 'the load counted');
    const retry = await slow<{ enrollments: { campaignId: string }[] }>('POST', '/v1/transactions', load);
    expect([retry.status, retry.body.enrollments.map((e) => e.campaignId)]).toEqual([202, [C]]);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await view('A-1')).countedCents).toBe(12_000);
  });

  it('deadline change: the retry answers with the one change made; the key with other content is refused', async () => {
    const change = { extendGraceBy: 'P1D', reason: 'bank file late' };
    await answeredTooLate(temporalProxy, () => slow('POST', `${member('A-1')}/schedule`, change));
    await eventually(
      async () => ((await view('A-1')).scheduleChanges as unknown[] | undefined)?.length === 1,
      30_000,
      'the change made',
    );
    const retry = await slow<{ scheduleChanges: unknown[] }>('POST', `${member('A-1')}/schedule`, change);
    expect([retry.status, retry.body.scheduleChanges.length]).toEqual([200, 1]);

    const key = { 'Idempotency-Key': 'amb-extend-2' };
    const keyed = { extendGraceBy: 'P1D', reason: 'bank file late again' };
    await answeredTooLate(temporalProxy, () => slow('POST', `${member('A-1')}/schedule`, keyed, key));
    const again = await eventually(
      async () => {
        const r = await slow<{ scheduleChanges: unknown[] }>('POST', `${member('A-1')}/schedule`, keyed, key);
        return r.status === 200 && r;
      },
      30_000,
      'the keyed retry',
    );
    expect(again.body.scheduleChanges).toHaveLength(2);
    const other = await slow<{ error: { code: string } }>(
      'POST',
      `${member('A-1')}/schedule`,
      { ...keyed, extendGraceBy: 'P3D' },
      key,
    );
    expect([other.status, other.body.error.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect(((await view('A-1')).scheduleChanges as unknown[]).length).toBe(2);
  });

  it('settlement file: the retry answers with the same batch, applied once', async () => {
    const file = `${SETTLEMENT_HEADER}\nAMB-TX-1,A-1,LOAD,12000,AUD,DEBIT_CARD,${new Date().toISOString()},${new Date().toISOString()},SETTLED\n`;
    await answeredTooLate(temporalProxy, () => slow('POST', '/v1/settlements', file));
    const retry = await slow<{ batchId: string }>('POST', '/v1/settlements', file);
    expect(retry.status).toBe(200);
    const report = await eventually(
      async () => {
        const r = (await stack.api<{ state: string; applied: number }>('GET', `/v1/settlements/${retry.body.batchId}`))
          .body;
        return r.state === 'COMPLETED' && r;
      },
      60_000,
      'the batch applied',
    );
    expect(report.applied).toBe(1);
    expect((await view('A-1')).settledCents).toBe(12_000);
  });

  it('bulk operation without a key: the retry answers with the same operation, which ran once', async () => {
    expect((await stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId: 'A-2' })).status).toBe(201);
    const request = {
      campaignId: C,
      select: { memberIds: ['A-2'] },
      action: 'EXTEND_SCHEDULE',
      args: { extendGraceBy: 'P1D' },
      reason: 'ambiguous bulk extension',
    };
    await answeredTooLate(temporalProxy, () => slow('POST', '/v1/operations', request));
    const retry = await slow<{ operationId: string }>('POST', '/v1/operations', request);
    expect(retry.status).toBe(200);
    await eventually(
      async () =>
        (await stack.api<{ state: string }>('GET', `/v1/operations/${retry.body.operationId}`)).body.state ===
        'COMPLETED',
      60_000,
      'the operation',
    );
    expect(((await view('A-2')).scheduleChanges as { operationId: string }[]).map((c) => c.operationId)).toEqual([
      retry.body.operationId,
    ]);
  });

  it('opt-out: the retry answers 200 with the member view in CANCELLED, not 409', async () => {
    await answeredTooLate(temporalProxy, () => slow('POST', `${member('A-1')}/cancel`, { reason: 'changed my mind' }));
    await eventually(async () => (await view('A-1')).state === 'CANCELLED', 30_000, 'the opt-out applied');
    const retry = await slow<{ state: string }>('POST', `${member('A-1')}/cancel`, { reason: 'changed my mind' });
    expect([retry.status, retry.body.state]).toEqual([200, 'CANCELLED']);
  });

  it('review resolved with RETRY_REWARD: the retry answers with the review resolved, the reward retried once', async () => {
    const fast = 'ambiguous-fast';
    const terms = { targetCents: 10_000, rewardPoints: 500, window: 'PT2S', grace: 'PT1S' };
    expect((await stack.api('PUT', `/v1/campaigns/${fast}`, terms)).status).toBe(201);
    // The points API refuses the first credit: the enrollment goes to MANUAL_REVIEW with a review item.
    stack.points!.faults.push(422);
    expect((await stack.api('POST', `/v1/campaigns/${fast}/enrollments`, { memberId: 'A-3' })).status).toBe(201);
    expect((await stack.api('POST', '/v1/transactions', loadBody('A-3', 'AMB-TX-3', 10_000))).status).toBe(202);
    const review = await eventually(
      async () => {
        const items = (await stack.api<{ items: { id: string; memberId: string }[] }>('GET', '/v1/reviews?state=OPEN'))
          .body.items;
        return items.find((i) => i.memberId === 'A-3');
      },
      60_000,
      'the review item',
    );
    const decision = { action: 'RETRY_REWARD', note: 'points API fixed' };
    await answeredTooLate(temporalProxy, () => slow('POST', `/v1/reviews/${review.id}/resolve`, decision));
    const retry = await slow<{ state: string; resolution: { action: string } }>(
      'POST',
      `/v1/reviews/${review.id}/resolve`,
      decision,
    );
    expect([retry.status, retry.body.state, retry.body.resolution.action]).toEqual([200, 'RESOLVED', 'RETRY_REWARD']);
    // And again, once resolved: the same answer.
    const third = await slow<{ state: string }>('POST', `/v1/reviews/${review.id}/resolve`, decision);
    expect([third.status, third.body.state]).toEqual([200, 'RESOLVED']);
    const dismiss = await slow<{ error: { code: string } }>('POST', `/v1/reviews/${review.id}/resolve`, {
      action: 'DISMISS',
      note: 'other',
    });
    expect([dismiss.status, dismiss.body.error.code]).toEqual([409, 'REVIEW_ALREADY_RESOLVED']);
    await eventually(
      async () =>
        (await stack.api<{ state: string }>('GET', `/v1/campaigns/${fast}/members/A-3`)).body.state === 'COMPLETED',
      60_000,
      'the reward issued on retry',
    );
  });
});

describe('a write answered 503 after PostgreSQL applied it: the retry tells the truth', () => {
  it('campaign: the retry answers 200 with the terms the first request created', async () => {
    const terms = { targetCents: 30_000, rewardPoints: 1_000, window: 'P30D', grace: 'PT48H' };
    // The API's connections to PostgreSQL are open (a read first): the insert itself is what is answered too late.
    expect((await slow('GET', `/v1/campaigns/${C}`)).status).toBe(200);
    await answeredTooLate(postgresProxy, () => slow('PUT', '/v1/campaigns/ambiguous-pg', terms));
    const retry = await eventually(
      async () => {
        const r = await slow<{ targetCents: number }>('PUT', '/v1/campaigns/ambiguous-pg', terms);
        return r.status !== 503 && r;
      },
      30_000,
      'PostgreSQL answering again',
    );
    expect([retry.status, retry.body.targetCents]).toEqual([200, 30_000]);
  });
});
