/**
 * Property: whatever a caller sends — any JSON value, objects with the right keys and wrong or edge values (huge
 * numbers, -0, NaN-like strings, long and unicode strings, impossible times), odd path parameters and query strings,
 * text that is not JSON — the real app (real PostgreSQL, the Temporal test server and a worker) never answers 5xx,
 * and every error has the contract's shape `{"error":{"code","message","details":[]}}`.
 */
import fc from 'fast-check';
import request from 'supertest';
import type { Db } from '../../src/db/pool';
import { startApiBench, type ApiBench } from '../support/api-bench';

let bench: ApiBench;
let db: Db;
let app: ApiBench['app'];

const CAMPAIGN = 'fuzz';
const MEMBER = 'M-fuzz';
const REVIEWS = Array.from({ length: 40 }, (_, i) => `rv-${i.toString(16).padStart(16, 'f')}`);

beforeAll(async () => {
  bench = await startApiBench('api_bodies', { rewardRetryForMs: 3_600_000 });
  ({ db, app } = bench);
  await request(app)
    .put(`/v1/campaigns/${CAMPAIGN}`)
    .send({ targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' })
    .expect(201);
  await request(app).post(`/v1/campaigns/${CAMPAIGN}/enrollments`).send({ memberId: MEMBER }).expect(201);
  // Open review items to resolve: the resolve route then reaches the database, not only its 404.
  for (const id of REVIEWS) {
    await db.query(
      `INSERT INTO reviews (id, workflow_id, campaign_id, member_id, kind, reason, state)
       VALUES ($1, $2, $3, $4, 'REWARD_FAILED', 'fuzz', 'OPEN')`,
      [id, `activation:${CAMPAIGN}:${MEMBER}`, CAMPAIGN, MEMBER],
    );
  }
}, 120_000);

afterAll(async () => {
  await bench?.teardown();
});

// ---- values ------------------------------------------------------------------------------------------------------

const ODD_TIMES = [
  '0000-01-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '+010000-01-01T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '9999-12-31T23:59:59.999-00:01',
  '1970-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00+00:01',
  '2026-11-22T24:00:00Z',
  '2016-12-31T23:59:60Z',
  '2026-11-22T09:30:00+24:00',
  '2026-11-22t09:30:00z',
  '2026-11-22T09:30:00.123456789+11:00',
  '2026-11-22',
  '2026-11-22T09:30:00',
  'now',
  '',
];
const ODD_NUMBERS = [
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_SAFE_INTEGER,
  2 ** 31,
  2 ** 31 - 1,
  100_000_000,
  100_000_001,
  -0,
  0,
  -1,
  0.5,
  1.000000000001,
  5e-324,
];
const ODD_STRINGS = [
  'NaN',
  'Infinity',
  '-0',
  '1e3',
  '0x10',
  'null',
  'undefined',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDC00x',
  '💳🏦',
  'שלום',
  'x'.repeat(10_000),
  '../../etc/passwd',
  "'; DROP TABLE campaigns; --",
  'P9999999W',
  'P367D',
  'PT0S',
  'P32D',
  'P1M',
  `P${'9'.repeat(400)}D`,
  'PT0.001S',
  'RETRY_REWARD',
  'DISMISS',
  'LOAD',
  'WITHDRAWAL',
  'AUD',
  'ATM',
  'BPAY',
  'DEBIT_CARD',
  ...ODD_TIMES,
];

/** Anything a field could hold: edge values, real-looking ones, and any JSON at all. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>(...ODD_NUMBERS, ...ODD_STRINGS, null, true, false, [], {}), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 },
  { arbitrary: fc.integer(), weight: 1 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
);

/**
 * An object with the keys a route expects: all valid; valid but for one key (any value, or missing); or each key
 * valid, any value or missing. Sometimes with an extra key.
 */
const shaped = (fields: Record<string, fc.Arbitrary<unknown>>) => {
  const valid = fc.record(fields);
  const oneBroken = fc
    .tuple(valid, fc.constantFrom(...Object.keys(fields)), fc.option(anyValue, { nil: undefined }))
    .map(([o, key, value]) => {
      const broken: Record<string, unknown> = { ...o };
      if (value === undefined) delete broken[key];
      else broken[key] = value;
      return broken;
    });
  const loose = fc.record(
    Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [
        k,
        fc.oneof({ arbitrary: v, weight: 2 }, { arbitrary: anyValue, weight: 1 }),
      ]),
    ),
    { requiredKeys: [] },
  );
  return fc
    .oneof({ arbitrary: valid, weight: 1 }, { arbitrary: oneBroken, weight: 3 }, { arbitrary: loose, weight: 2 })
    .chain((o) =>
      fc.oneof(
        { arbitrary: fc.constant<Record<string, unknown>>(o), weight: 4 },
        { arbitrary: fc.record({ extra: anyValue }).map((x) => ({ ...o, ...x })), weight: 1 },
      ),
    );
};

const nowIso = () => new Date().toISOString();
const bodies = {
  campaign: shaped({
    targetCents: fc.integer({ min: 1, max: 100_000_000 }),
    rewardPoints: fc.integer({ min: 1, max: 10_000 }),
    window: fc.constantFrom('P30D', 'PT1M', 'P366D', 'P52W'),
    grace: fc.constantFrom('PT48H', 'PT0S', 'P31D'),
    currency: fc.constant('AUD'),
  }),
  enrollment: shaped({
    memberId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    enrolledAt: fc.oneof(fc.constant(0).map(nowIso), fc.constantFrom(...ODD_TIMES)),
  }),
  transaction: shaped({
    transactionId: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/),
    memberId: fc.constantFrom(MEMBER, 'M-nobody'),
    kind: fc.constantFrom('LOAD', 'WITHDRAWAL'),
    amountCents: fc.integer({ min: 1, max: 100_000_000 }),
    currency: fc.constant('AUD'),
    channel: fc.constantFrom('DEBIT_CARD', 'APPLE_PAY', 'GOOGLE_PAY', 'BPAY', 'BANK_TRANSFER', 'ATM', 'OTHER'),
    occurredAt: fc.oneof(fc.constant(0).map(nowIso), fc.constantFrom(...ODD_TIMES)),
  }),
  cancel: shaped({ reason: fc.string({ unit: 'grapheme', maxLength: 50 }) }),
  resolve: shaped({
    action: fc.constantFrom('RETRY_REWARD', 'DISMISS'),
    note: fc.string({ unit: 'grapheme', maxLength: 50 }),
  }),
};

/** Any JSON value at the top, or one of the route's shapes. */
const body = (shape: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: shape, weight: 4 }, { arbitrary: fc.jsonValue({ maxDepth: 4 }), weight: 1 });

/** Raw request bodies that JSON.stringify cannot write: -0, 1e400, deep nesting, broken JSON, other charsets. */
const rawBody = fc.oneof(
  fc.constantFrom(
    '{"amountCents":-0,"targetCents":-0}',
    '{"amountCents":1e400,"targetCents":1e400,"rewardPoints":1e400}',
    '{"memberId":"M-1","memberId":"M-2"}',
    `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
    `{"memberId":${'['.repeat(5_000)}${']'.repeat(5_000)}}`,
    '{"__proto__":{"isAdmin":true},"memberId":"M-proto"}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{"a":',
    '',
    'null',
    '"just a string"',
    '\uFEFF{"memberId":"M-bom"}',
    '{"reason":"\\u0000","note":"\\ud800"}',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/merge-patch+json',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'text/plain',
);

/** Path parameters: valid, taken, and anything, percent-encoded or raw and broken. */
const pathParam = fc.oneof(
  { arbitrary: fc.constantFrom(CAMPAIGN, MEMBER, 'cold-activation', 'nope', ...REVIEWS.slice(0, 3)), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }).map(encodeURIComponent), weight: 3 },
  {
    arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%2F', '..', '.', '%F0%9F%92%B3', 'a'.repeat(5_000)),
    weight: 2,
  },
);
const queryString = fc.oneof(
  fc.constantFrom('', '?state=OPEN', '?state=RESOLVED', '?state=MAYBE', '?state=OPEN&state=RESOLVED', '?state[]=x'),
  fc.constantFrom('?campaignId=fuzz', '?campaignId=%zz', '?%zz=1', '?a[b][c]=d', '?__proto__=x', '?constructor=1'),
  fc
    .dictionary(
      fc.string({ maxLength: 12 }),
      fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.string(), { maxLength: 3 })),
    )
    .map(
      (q) =>
        `?${new URLSearchParams(Object.entries(q).flatMap(([k, v]) => [v].flat().map((x): [string, string] => [k, x])))}`,
    ),
);

// ---- the property ------------------------------------------------------------------------------------------------

const expectContractAnswer = (res: request.Response, what: string) => {
  if (res.status >= 500) throw new Error(`${what} answered ${res.status}: ${res.text.slice(0, 500)}`);
  if (res.status >= 400) {
    expect(res.body).toEqual({
      error: {
        code: expect.stringMatching(/^[A-Z][A-Z0-9_]*$/),
        message: expect.any(String),
        details: expect.any(Array),
      },
    });
  }
};

const send = (method: 'post' | 'put', path: string, payload: unknown) =>
  request(app)[method](path).set('Content-Type', 'application/json').send(JSON.stringify(payload));

describe('random requests never get a 5xx', () => {
  it('PUT /v1/campaigns/{campaignId}', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('fuzz-new', CAMPAIGN), pathParam),
        body(bodies.campaign),
        async (id, b) => {
          expectContractAnswer(
            await send('put', `/v1/campaigns/${id}`, b),
            `PUT /v1/campaigns/${id} ${JSON.stringify(b)}`,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('POST /v1/campaigns/{campaignId}/enrollments', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(CAMPAIGN), pathParam), body(bodies.enrollment), async (id, b) => {
        const path = `/v1/campaigns/${id}/enrollments`;
        expectContractAnswer(await send('post', path, b), `POST ${path} ${JSON.stringify(b)}`);
      }),
      { numRuns: 150 },
    );
  });

  it('POST /v1/transactions', async () => {
    await fc.assert(
      fc.asyncProperty(body(bodies.transaction), async (b) => {
        expectContractAnswer(await send('post', '/v1/transactions', b), `POST /v1/transactions ${JSON.stringify(b)}`);
      }),
      { numRuns: 200 },
    );
  });

  it('POST /v1/campaigns/{campaignId}/members/{memberId}/cancel', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(CAMPAIGN), pathParam),
        fc.oneof(fc.constant(MEMBER), pathParam),
        body(bodies.cancel),
        async (c, m, b) => {
          const path = `/v1/campaigns/${c}/members/${m}/cancel`;
          expectContractAnswer(await send('post', path, b), `POST ${path} ${JSON.stringify(b)}`);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('POST /v1/reviews/{id}/resolve', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(...REVIEWS), pathParam), body(bodies.resolve), async (id, b) => {
        const path = `/v1/reviews/${id}/resolve`;
        expectContractAnswer(await send('post', path, b), `POST ${path} ${JSON.stringify(b)}`);
      }),
      { numRuns: 150 },
    );
  });

  it('raw bodies and other media types on every JSON route', async () => {
    const routes = [
      ['put', `/v1/campaigns/${CAMPAIGN}`],
      ['post', `/v1/campaigns/${CAMPAIGN}/enrollments`],
      ['post', '/v1/transactions'],
      ['post', `/v1/campaigns/${CAMPAIGN}/members/${MEMBER}-raw/cancel`],
      ['post', `/v1/reviews/${REVIEWS[REVIEWS.length - 1]}/resolve`],
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), rawBody, contentType, async ([method, path], raw, type) => {
        const res = await request(app)[method](path).set('Content-Type', type).send(raw);
        expectContractAnswer(res, `${method.toUpperCase()} ${path} (${type}) ${JSON.stringify(raw.slice(0, 200))}`);
      }),
      { numRuns: 150 },
    );
  });

  it('GET …/members/{m}/events with odd path parameters and Last-Event-IDs: a stream or a contract error', async () => {
    const server = app.listen(0);
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    const lastEventId = fc.oneof(
      fc.constant(undefined),
      fc.nat().map(String),
      fc.string({ unit: fc.constantFrom(...'0123456789-+.e x'.split('')), maxLength: 20 }),
      fc.stringMatching(/^[\x21-\x7e]{0,30}$/),
    );
    let streamed = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.constant(CAMPAIGN), pathParam),
          fc.oneof(fc.constant(MEMBER), pathParam),
          lastEventId,
          async (c, m, id) => {
            const abort = new AbortController();
            const url = `${base}/v1/campaigns/${c}/members/${m}/events`;
            const res = await fetch(url, {
              headers: id === undefined ? {} : { 'Last-Event-ID': id },
              signal: abort.signal,
            });
            const what = `GET ${url} (Last-Event-ID ${JSON.stringify(id)})`;
            if (res.status === 200) {
              expect({ what, type: res.headers.get('content-type') }).toEqual({
                what,
                type: 'text/event-stream; charset=utf-8',
              });
              abort.abort();
              streamed += 1;
              return;
            }
            if (res.status >= 500) throw new Error(`${what} answered ${res.status}: ${await res.text()}`);
            expect(await res.json()).toEqual({
              error: {
                code: expect.stringMatching(/^[A-Z][A-Z0-9_]*$/),
                message: expect.any(String),
                details: expect.any(Array),
              },
            });
          },
        ),
        { numRuns: 150 },
      );
      // Some runs reached a real stream (the known member, a good or no Last-Event-ID), not only refusals.
      expect(streamed).toBeGreaterThan(10);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('GET with odd path parameters and query strings', async () => {
    const paths = [
      (a: string) => `/v1/campaigns/${a}`,
      (a: string) => `/v1/campaigns/${a}/report`,
      (a: string, b: string) => `/v1/campaigns/${a}/members/${b}`,
      (a: string, b: string) => `/v1/campaigns/${a}/members/${b}/explanation`,
      (a: string) => `/v1/settlements/${a}`,
      () => '/v1/reviews',
      (a: string) => `/v1/${a}`,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.oneof(fc.constant(CAMPAIGN), pathParam),
        fc.oneof(fc.constant(MEMBER), pathParam),
        queryString,
        async (path, a, b, query) => {
          const url = `${path(a, b)}${query}`;
          expectContractAnswer(await request(app).get(url), `GET ${url}`);
        },
      ),
      { numRuns: 250 },
    );
  });
});
