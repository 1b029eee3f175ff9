/** The built-in points API over real HTTP: idempotency, validation, the ledger, fault injection, persistence. */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPointsApi, type PointsApi } from '../../src/dev/points-api';

const body = (over: Record<string, unknown> = {}) => ({
  memberId: 'M-1',
  campaignId: 'cold-activation',
  points: 2000,
  reason: 'COLD_MEMBER_ACTIVATION',
  ...over,
});

/** The answer bodies this API sends: a credit, or `{ error }`. */
type Answer = {
  creditId?: string;
  error?: { code: string; message: string };
  [field: string]: unknown;
};

async function credit(api: PointsApi, payload: unknown, key?: string, timeoutMs = 5_000) {
  const res = await fetch(`${api.url}/v1/credits`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key ? { 'Idempotency-Key': key } : {}) },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Answer };
}

describe('points API', () => {
  let api: PointsApi;
  beforeEach(async () => {
    api = await startPointsApi({ port: 0 });
  });
  afterEach(async () => {
    await api.stop();
  });

  it('credits once per idempotency key: 201, then 200 replays, 409 for another request', async () => {
    const first = await credit(api, body(), 'activation:cold-activation:M-1');
    expect(first.status).toBe(201);
    expect(first.json).toEqual({
      creditId: expect.any(String),
      memberId: 'M-1',
      campaignId: 'cold-activation',
      points: 2000,
      createdAt: expect.any(String),
    });

    const replay = await credit(api, body(), 'activation:cold-activation:M-1');
    expect(replay.status).toBe(200);
    expect(replay.json).toEqual(first.json);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const reused = await credit(api, body({ points: 1 }), 'activation:cold-activation:M-1');
    expect(reused.status).toBe(409);
    expect(reused.json.error?.code).toBe('IDEMPOTENCY_KEY_REUSED');

    expect(api.credits()).toHaveLength(1);
    const ledger = (await (await fetch(`${api.url}/v1/credits`)).json()) as { credits: unknown[] };
    expect(ledger.credits).toEqual([
      expect.objectContaining({ creditId: first.json.creditId, idempotencyKey: 'activation:cold-activation:M-1' }),
    ]);
    const one = await fetch(`${api.url}/v1/credits/${first.json.creditId}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ memberId: 'M-1', points: 2000 });
    const missing = await fetch(`${api.url}/v1/credits/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'CREDIT_NOT_FOUND' } });
  });

  it('filters the ledger by member and campaign', async () => {
    await credit(api, body(), 'k1');
    await credit(api, body({ memberId: 'M-2' }), 'k2');
    const res = await fetch(`${api.url}/v1/credits?memberId=M-2`);
    expect(((await res.json()) as { credits: Array<{ memberId: string }> }).credits.map((c) => c.memberId)).toEqual([
      'M-2',
    ]);
  });

  it.each([
    ['no idempotency key', body(), undefined, 'MISSING_IDEMPOTENCY_KEY'],
    ['a key with spaces', body(), 'has space', 'VALIDATION_FAILED'],
    ['a bad member id', body({ memberId: 'not valid!' }), 'k', 'VALIDATION_FAILED'],
    ['a bad campaign id', body({ campaignId: 'UPPER' }), 'k', 'VALIDATION_FAILED'],
    ['fractional points', body({ points: 1.5 }), 'k', 'VALIDATION_FAILED'],
    ['zero points', body({ points: 0 }), 'k', 'VALIDATION_FAILED'],
    ['points as a string', body({ points: '2000' }), 'k', 'VALIDATION_FAILED'],
    ['another reason', body({ reason: 'GOODWILL' }), 'k', 'VALIDATION_FAILED'],
    ['a JSON array', [], 'k', 'VALIDATION_FAILED'],
    ['broken JSON', '{"memberId":', 'k', 'INVALID_JSON'],
  ])('rejects %s with 400 and credits nothing', async (_what, payload, key, code) => {
    const res = await credit(api, payload, key);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code, message: expect.any(String) });
    expect(api.credits()).toHaveLength(0);
  });

  it('answers queued status faults without crediting', async () => {
    const queued = await fetch(`${api.url}/_faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ responses: [503, 429, 422] }),
    });
    expect(await queued.json()).toEqual({ faults: [503, 429, 422] });

    const a = await credit(api, body(), 'k');
    expect(a.status).toBe(503);
    expect(a.json.error?.code).toBe('INJECTED_FAULT');
    expect(a.headers.get('retry-after')).toBe('1');
    expect((await credit(api, body(), 'k')).status).toBe(429);
    expect((await credit(api, body(), 'k')).status).toBe(422);
    expect(api.credits()).toHaveLength(0);
    expect((await credit(api, body(), 'k')).status).toBe(201);
  });

  it('answers a fault with the Retry-After it was given, over HTTP and in code', async () => {
    const queued = await fetch(`${api.url}/_faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        responses: [
          { status: 429, retryAfter: 4 },
          { status: 500, retryAfter: 0 },
        ],
      }),
    });
    expect(queued.status).toBe(200);
    expect(await queued.json()).toEqual({
      faults: [
        { status: 429, retryAfter: 4 },
        { status: 500, retryAfter: 0 },
      ],
    });
    api.faults.push({ status: 503, retryAfter: 86_400 });
    expect(await (await fetch(`${api.url}/`)).text()).toContain('429 (Retry-After 4), 500 (Retry-After 0), 503');

    const first = await credit(api, body(), 'k');
    expect(first.status).toBe(429);
    expect(first.json.error?.code).toBe('INJECTED_FAULT');
    expect(first.headers.get('retry-after')).toBe('4');
    const second = await credit(api, body(), 'k');
    expect([second.status, second.headers.get('retry-after')]).toEqual([500, '0']);
    const third = await credit(api, body(), 'k');
    expect([third.status, third.headers.get('retry-after')]).toEqual([503, '86400']);
    // A bare status says Retry-After only for 429 and 503.
    api.faults.push(500);
    expect((await credit(api, body(), 'k')).headers.get('retry-after')).toBeNull();
    expect(api.credits()).toHaveLength(0);
    expect((await credit(api, body(), 'k')).status).toBe(201);
  });

  it.each([
    { status: 429 },
    { retryAfter: 4 },
    { status: 429, retryAfter: -1 },
    { status: 429, retryAfter: 1.5 },
    { status: 429, retryAfter: 86_401 },
    { status: 429, retryAfter: '4' },
    { status: 99, retryAfter: 4 },
    { status: 429, retryAfter: 4, extra: true },
  ])('rejects the fault %p', async (fault) => {
    const res = await fetch(`${api.url}/_faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ responses: [fault] }),
    });
    expect(res.status).toBe(400);
    expect(() => api.faults.push(fault as never)).toThrow(/invalid fault/);
    expect(api.faults.size).toBe(0);
  });

  it('lists and clears the fault queue over HTTP, and rejects invalid faults', async () => {
    api.faults.push(500, 'timeout');
    expect(await (await fetch(`${api.url}/_faults`)).json()).toEqual({ faults: [500, 'timeout'] });
    const cleared = await fetch(`${api.url}/_faults`, { method: 'DELETE' });
    expect(await cleared.json()).toEqual({ faults: [] });
    expect(api.faults.size).toBe(0);

    const bad = await fetch(`${api.url}/_faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ responses: ['slow'] }),
    });
    expect(bad.status).toBe(400);
    expect(() => api.faults.push(42 as never)).toThrow(/invalid fault/);
  });

  it('"timeout" never answers and credits nothing', async () => {
    api.faults.push('timeout');
    await expect(credit(api, body(), 'k', 300)).rejects.toThrow(/timeout|aborted/i);
    expect(api.credits()).toHaveLength(0);
    expect((await credit(api, body(), 'k')).status).toBe(201);
  });

  it('"timeout-after-credit" credits, never answers, and the retry gets a 200 replay', async () => {
    api.faults.push('timeout-after-credit');
    await expect(credit(api, body(), 'k', 300)).rejects.toThrow(/timeout|aborted/i);
    expect(api.credits()).toHaveLength(1);
    const retry = await credit(api, body(), 'k');
    expect(retry.status).toBe(200);
    expect(retry.json.creditId).toBe(api.credits()[0]!.creditId);
  });

  it('stops at once even while a request hangs', async () => {
    api.faults.push('timeout');
    const hanging = credit(api, body(), 'k', 60_000);
    hanging.catch(() => undefined);
    while (api.faults.size > 0) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    await api.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(hanging).rejects.toThrow();
  });

  it('shows the ledger as an HTML page', async () => {
    await credit(api, body({ memberId: 'M-html' }), 'key-<1>');
    const res = await fetch(`${api.url}/`);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('M-html');
    expect(html).toContain('key-&#60;1&#62;');
    expect(html).not.toContain('key-<1>');
  });

  it('answers unknown routes with a 404 error body', async () => {
    const res = await fetch(`${api.url}/v2/nothing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});

describe('points API under load (benchmarks)', () => {
  it('answers after its latency and refuses more than its concurrency limit with 429 and Retry-After', async () => {
    const api = await startPointsApi({ port: 0, behaviour: { latencyMs: 80, maxConcurrent: 2 } });
    try {
      const t0 = Date.now();
      const answers = await Promise.all([1, 2, 3, 4].map((i) => credit(api, body({ memberId: `M-${i}` }), `k${i}`)));
      expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 429, 429]);
      expect(answers.filter((a) => a.status === 429).every((a) => a.headers.get('retry-after') === '1')).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
      expect(api.credits()).toHaveLength(2);
    } finally {
      await api.stop();
    }
  });
});

describe('points API ledger file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'points-ledger-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps credits across restarts, so replays still answer 200 with the same credit', async () => {
    const ledgerFile = path.join(dir, 'ledger.jsonl');
    const first = await startPointsApi({ port: 0, ledgerFile });
    const created = await credit(first, body(), 'k');
    await first.stop();

    const second = await startPointsApi({ port: 0, ledgerFile });
    try {
      const replay = await credit(second, body(), 'k');
      expect(replay.status).toBe(200);
      expect(replay.json).toEqual(created.json);
      expect(second.credits()).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it('ignores a torn last line left by a crash and keeps appending after it', async () => {
    const ledgerFile = path.join(dir, 'ledger.jsonl');
    const first = await startPointsApi({ port: 0, ledgerFile });
    await credit(first, body(), 'k1');
    await first.stop();
    appendFileSync(ledgerFile, '{"creditId":"credit-torn","memb');

    const second = await startPointsApi({ port: 0, ledgerFile });
    await credit(second, body({ memberId: 'M-2' }), 'k2');
    await second.stop();

    const third = await startPointsApi({ port: 0, ledgerFile });
    try {
      expect(third.credits().map((c) => c.idempotencyKey)).toEqual(['k1', 'k2']);
    } finally {
      await third.stop();
    }
  });

  it('names the port when it is taken', async () => {
    const first = await startPointsApi({ port: 0 });
    const port = Number(new URL(first.url).port);
    try {
      await expect(startPointsApi({ port })).rejects.toThrow(`port ${port}`);
    } finally {
      await first.stop();
    }
  });
});
