/**
 * The OpenAPI document's promises that hold for every route, checked on the document itself (no servers): every route
 * of the app is in it, with an operationId and a tag, and with every status the edge can answer. Schemathesis
 * (test/outside/schemathesis.test.ts) then holds the running API to it.
 */
import { createApp } from '../../src/api/app';
import { buildOpenApiDocument } from '../../src/api/openapi';
import type { Service } from '../../src/api/service';
import { logger } from '../../src/logger';

type Operation = {
  operationId?: string;
  tags?: string[];
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, { required?: boolean }> }>;
};

const doc = buildOpenApiDocument();
const operations: { method: string; path: string; op: Operation }[] = Object.entries(doc.paths ?? {}).flatMap(
  ([p, item]) => Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ method, path: p, op })),
);
const v1 = operations.filter((o) => o.path.startsWith('/v1/'));
const withJsonBody = operations.filter((o) => o.op.requestBody?.content['application/json']);
const label = (o: { method: string; path: string }) => `${o.method.toUpperCase()} ${o.path}`;

it('documents exactly the routes the app serves', () => {
  const app = createApp({ service: {} as Service, logger: logger.child({}, { level: 'silent' }) });
  const served = (app.router.stack as { route?: { path: string; methods: Record<string, boolean> } }[])
    .flatMap((layer) =>
      layer.route ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route!.path}`) : [],
    )
    .map((route) => route.replace(/:(\w+)/g, '{$1}'));
  expect(operations.map(label).sort()).toEqual(served.sort());
});

it('names and tags every operation', () => {
  const ids = operations.map((o) => o.op.operationId);
  expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
  expect(new Set(ids).size).toBe(ids.length);
  const tags = new Set((doc.tags ?? []).map((t) => t.name));
  for (const o of operations) {
    expect({ op: label(o), tags: o.op.tags?.filter((t) => tags.has(t)).length }).toEqual({ op: label(o), tags: 1 });
  }
});

it.each(
  operations.filter((o) => o.op.parameters?.some((p) => p.in === 'path' || p.in === 'query')).map((o) => [label(o), o]),
)('%s documents the 400 of its parameters', (_label, o) => {
  expect(Object.keys(o.op.responses)).toContain('400');
});

it.each(withJsonBody.map((o) => [label(o), o]))('%s documents its JSON body and its 400, 413, 415', (_label, o) => {
  // An opt-out, a backtest (of the actual terms) and a reconciliation (no repair) may come without a body; every other
  // JSON body is required.
  expect(o.op.requestBody!.required).toBe(
    !['cancelEnrollment', 'backtestCampaign', 'reconcileCampaign'].includes(o.op.operationId!),
  );
  expect(Object.keys(o.op.responses)).toEqual(expect.arrayContaining(['400', '413', '415']));
});

it.each(v1.map((o) => [label(o), o]))('%s documents 503 SERVICE_UNAVAILABLE with Retry-After', (_label, o) => {
  const unavailable = o.op.responses['503'];
  expect(unavailable?.content?.['application/json']).toEqual({ schema: { $ref: '#/components/schemas/Error' } });
  expect(unavailable?.headers?.['Retry-After']).toMatchObject({ required: true, schema: { type: 'integer' } });
});

it('documents the settlement file: text/csv, required, Idempotency-Key and X-Caller-Id, 415 and 422', () => {
  const op = operations.find((o) => o.op.operationId === 'submitSettlement')!.op;
  expect(op.requestBody).toMatchObject({ required: true, content: { 'text/csv': expect.anything() } });
  expect(op.parameters?.filter((p) => p.in === 'header').map((p) => p.name)).toEqual([
    'Idempotency-Key',
    'X-Caller-Id',
  ]);
  expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '415', '422', '503']));
});

it('documents X-Caller-Id where it is recorded', () => {
  const reading = operations.filter((o) => o.op.parameters?.some((p) => p.in === 'header' && p.name === 'X-Caller-Id'));
  expect(reading.map((o) => o.op.operationId).sort()).toEqual([
    'cancelEnrollment',
    'changeSchedule',
    'resolveReview',
    'startOperation',
    'submitSettlement',
  ]);
});

it('documents readiness as 200 ready or 503 unavailable, with the checks', () => {
  const op = operations.find((o) => o.path === '/readyz')!.op;
  expect(Object.keys(op.responses).sort()).toEqual(['200', '503']);
  expect(op.responses['503'].headers?.['Retry-After']).toMatchObject({ required: true });
  const schemas = doc.components!.schemas as Record<string, { properties: Record<string, unknown> }>;
  expect(schemas.Ready.properties.status).toEqual({ type: 'string', enum: ['ready'] });
  expect(schemas.NotReady.properties.status).toEqual({ type: 'string', enum: ['unavailable'] });
  expect(operations.find((o) => o.path === '/metrics')!.op.responses['200'].content).toHaveProperty(['text/plain']);
});

it('says a transaction is a load or a withdrawal, each with its channels, by kind', () => {
  const schemas = doc.components!.schemas as Record<string, Record<string, unknown>>;
  expect(schemas.Transaction).toEqual({
    oneOf: [{ $ref: '#/components/schemas/Load' }, { $ref: '#/components/schemas/Withdrawal' }],
    discriminator: {
      propertyName: 'kind',
      mapping: { LOAD: '#/components/schemas/Load', WITHDRAWAL: '#/components/schemas/Withdrawal' },
    },
  });
  const props = (name: string) => schemas[name].properties as Record<string, { enum?: string[]; pattern?: string }>;
  expect(props('Load').channel.enum).toEqual(['DEBIT_CARD', 'APPLE_PAY', 'GOOGLE_PAY', 'BPAY', 'BANK_TRANSFER']);
  expect(props('Withdrawal').channel.enum).toEqual(['ATM', 'BANK_TRANSFER', 'OTHER']);
  expect(new RegExp(props('Load').occurredAt.pattern!).test('2026-11-22T20:30:00+11:00')).toBe(true);
  expect(new RegExp(props('CampaignTerms').window.pattern!).test('P30D')).toBe(true);
  expect(new RegExp(props('CampaignTerms').window.pattern!).test('30 days')).toBe(false);
});

it('marks the error details as always present', () => {
  const error = (doc.components!.schemas as Record<string, { properties: { error: { required: string[] } } }>).Error;
  expect(error.properties.error.required.sort()).toEqual(['code', 'details', 'message']);
});

it('describes the member stream as OpenAPI 3.2 does: each event an item, its data the member view in JSON', () => {
  expect(doc.openapi).toBe('3.2.0');
  const op = operations.find((o) => o.op.operationId === 'followMember')!.op;
  const stream = op.responses['200'].content!['text/event-stream'] as { schema?: unknown; itemSchema?: unknown };
  // `schema` would describe the whole stream; each event is an item.
  expect(stream).toEqual({ itemSchema: { $ref: '#/components/schemas/MemberEvent' } });
  const event = (doc.components!.schemas as Record<string, Record<string, unknown>>).MemberEvent;
  expect(event).toMatchObject({
    type: 'object',
    required: expect.arrayContaining(['id', 'event', 'data']),
    properties: {
      id: { type: 'string', pattern: '^\\d{1,15}$' },
      event: { type: 'string', enum: ['member'] },
      data: {
        type: 'string',
        contentMediaType: 'application/json',
        contentSchema: { $ref: '#/components/schemas/Member' },
      },
      retry: { type: 'integer' },
    },
  });
  expect(op.parameters?.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(['lastEventId', 'maxSeconds']);
});
