/**
 * OpenTelemetry from the HTTP request through the workflow to its activities, on real servers (the `npm start` stack:
 * PostgreSQL, the Temporal dev server, the points API, worker and API in this process), with the spans caught by an
 * in-memory exporter wired in through the stack's own telemetry. The worker runs the bundle Jest's global setup built
 * with the same workflow interceptors as the production bundle (scripts/build-bundle.mjs); test/workflows/replay.test.ts
 * replays the saved (untraced) histories with it, and the traced runs made here must replay with it too.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, NoopSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { clientInterceptors, workflowSinks } from '../../src/telemetry/temporal';
import { createTracing } from '../../src/telemetry/tracing';
import { TRACING_PATCH } from '../../src/telemetry/workflow-interceptors';
import { captureHistories, describeRun } from '../support/histories';
import { eventually, startTestStack, type TestStack } from '../support/stack';
import { workflowBundle } from '../support/temporal';

const exporter = new InMemorySpanExporter();
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ WORKFLOW_BUNDLE: workflowBundle().codePath }, { spanExporter: exporter });
}, 180_000);
afterAll(async () => {
  // With CAPTURE_HISTORIES=1: traced runs of each workflow type become replay fixtures (what a production run is
  // like once spans are exported), next to the untraced ones the end-to-end tests capture.
  if (stack)
    await captureHistories(
      { address: stack.temporalAddress },
      { group: 'traced', capturedFrom: 'test/observability/tracing.test.ts', workflowIds: TRACED_RUNS },
    );
  await stack?.destroy();
}, 60_000);

const BATCH = 'traced-batch';
const TRACED_RUNS = ['activation:traced:T-1', 'activation:traced-tx:T-2', `settlement:${BATCH}`];

const spans = () => exporter.getFinishedSpans();
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const traceOf = (s: ReadableSpan) => s.spanContext().traceId;

/** The one finished span matching, once it exists (workflow spans arrive when the workflow task completes). */
const span = (what: string, match: (s: ReadableSpan) => boolean) =>
  eventually(async () => spans().find(match), 30_000, what);

const load = (transactionId: string, memberId: string) => ({
  transactionId,
  memberId,
  kind: 'LOAD',
  amountCents: 1_000,
  currency: 'AUD',
  channel: 'DEBIT_CARD',
  occurredAt: new Date().toISOString(),
});

/** The span's ancestors, nearest first, as far as they were exported. */
function ancestry(s: ReadableSpan): ReadableSpan[] {
  const byId = new Map(spans().map((x) => [idOf(x), x]));
  const chain: ReadableSpan[] = [];
  for (let p = s.parentSpanId && byId.get(s.parentSpanId); p; p = p.parentSpanId && byId.get(p.parentSpanId)) {
    chain.push(p);
  }
  return chain;
}

it('follows an enrollment from the HTTP request through the workflow run into an activity, in one trace', async () => {
  const C = 'traced';
  expect(
    (
      await stack.api('PUT', `/v1/campaigns/${C}`, {
        targetCents: 1_000,
        rewardPoints: 10,
        window: 'PT2S',
        grace: 'PT1S',
      })
    ).status,
  ).toBe(201);
  expect((await stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId: 'T-1' })).status).toBe(201);
  // A qualifying load (its own request, its own trace), so that the run ends by issuing the reward.
  expect((await stack.api('POST', '/v1/transactions', load('TX-TRACED-1', 'T-1'))).status).toBe(202);

  const http = await span(
    'the server span of the enrollment request',
    (s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/campaigns/:campaignId/enrollments',
  );
  expect(http.attributes['http.response.status_code']).toBe(201);
  expect(http.attributes['http.route']).toBe('/v1/campaigns/:campaignId/enrollments');
  expect(http.parentSpanId).toBeUndefined();
  const trace = traceOf(http);

  const start = await span(
    'the client span starting the workflow',
    (s) => s.name === 'StartWorkflow:memberActivation' && traceOf(s) === trace,
  );
  expect(start.parentSpanId).toBe(idOf(http));

  // The run's span ends with the run: a 2-second window, a 1-second grace, then the reward.
  const run = await span(
    'the workflow run span',
    (s) => s.name === 'RunWorkflow:memberActivation' && traceOf(s) === trace,
  );
  expect(run.parentSpanId).toBe(idOf(start));

  const issue = await span(
    'the reward activity span',
    (s) => s.name === 'RunActivity:issueReward' && traceOf(s) === trace,
  );
  const chain = ancestry(issue);
  expect(chain[0]?.name).toBe('StartActivity:issueReward');
  // Activity → its schedule span in the workflow → … → the run → the client call → the HTTP request.
  expect(chain.map((s) => s.name)).toEqual(expect.arrayContaining(['RunWorkflow:memberActivation']));
  expect(chain.slice(-3).map(idOf)).toEqual([idOf(run), idOf(start), idOf(http)]);
  expect(chain.every((s) => traceOf(s) === trace)).toBe(true);

  // Each side names itself: the API and the worker share this process under npm start, hence one service name.
  for (const s of [http, start, run, issue]) {
    expect(s.resource.attributes['service.name']).toBe('cold-member-activation');
  }
  const member = await stack.api<{ state: string }>('GET', `/v1/campaigns/${C}/members/T-1`);
  expect(member.body.state).toBe('COMPLETED');
});

it('follows a transaction from the HTTP request into the signal handler of the member workflow', async () => {
  const C = 'traced-tx';
  await stack.api('PUT', `/v1/campaigns/${C}`, { targetCents: 50_000, rewardPoints: 10, window: 'P30D' });
  expect((await stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId: 'T-2' })).status).toBe(201);
  const before = new Set(spans().map(idOf));
  expect((await stack.api('POST', '/v1/transactions', load('TX-TRACED-2', 'T-2'))).status).toBe(202);

  const http = await span(
    'the server span of the transaction request',
    (s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/transactions' && !before.has(idOf(s)),
  );
  const signal = await span(
    'the client span signalling the workflow',
    (s) => s.name.startsWith('SignalWorkflow:') && traceOf(s) === traceOf(http),
  );
  expect(signal.parentSpanId).toBe(idOf(http));
  const handled = await span(
    'the workflow span handling the signal',
    (s) => s.name.startsWith('HandleSignal:') && traceOf(s) === traceOf(http),
  );
  expect(handled.parentSpanId).toBe(idOf(signal));
});

it('follows a settlement file from the HTTP request into the batch workflow and its updates of members', async () => {
  const now = new Date().toISOString();
  const csv = [
    'transactionId,memberId,kind,amountCents,currency,channel,occurredAt,settledAt,status',
    `TX-TRACED-2,T-2,LOAD,1000,AUD,DEBIT_CARD,${now},${now},SETTLED`,
    `TX-TRACED-3,T-2,LOAD,2500,AUD,BPAY,${now},${now},SETTLED`,
  ].join('\n');
  const res = await fetch(`${stack.apiUrl}/v1/settlements`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', 'Idempotency-Key': BATCH },
    body: `${csv}\n`,
  });
  expect(res.status).toBe(202);
  const http = await span(
    'the server span of the settlement upload',
    (s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/settlements',
  );
  const run = await span(
    'the batch workflow run',
    (s) => s.name === 'RunWorkflow:settlementBatch' && traceOf(s) === traceOf(http),
  );
  // The batch's activity updates the member workflow within the same trace.
  await span(
    'the update of the member workflow',
    (s) => s.name.startsWith('HandleUpdate:') && traceOf(s) === traceOf(run),
  );
  await eventually(
    async () => (await stack.api<{ state: string }>('GET', `/v1/settlements/${BATCH}`)).body.state === 'COMPLETED',
    60_000,
    'the batch to complete',
  );
});

it('keeps probes and scrapes out of the traces', async () => {
  const before = spans().length;
  for (const p of ['/healthz', '/metrics']) expect((await fetch(`${stack.apiUrl}${p}`)).status).toBe(200);
  expect(
    spans()
      .slice(before)
      .filter((s) => s.kind === SpanKind.SERVER),
  ).toEqual([]);
});

it('marks traced runs with the tracing patch, and they replay with the bundle', async () => {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    const client = new Client({ connection });
    const histories = [];
    for (const workflowId of TRACED_RUNS) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      expect(describeRun(history).patches).toContain(TRACING_PATCH);
      histories.push({ workflowId, history });
    }
    const results = Worker.runReplayHistories(
      { workflowBundle: workflowBundle(), sinks: workflowSinks(), replayName: 'traced-runs' },
      histories,
    );
    const errors: (Error | undefined)[] = [];
    for await (const result of results) errors.push(result.error);
    expect(errors).toEqual(TRACED_RUNS.map(() => undefined));
  } finally {
    await connection.close();
  }
}, 120_000);

describe('the exporter', () => {
  it('makes spans but exports nothing without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const tracing = createTracing({ serviceName: 'probe' });
    expect(tracing.exporting).toBe(false);
    expect(tracing.spanProcessor).toBeInstanceOf(NoopSpanProcessor);
    await tracing.shutdown();
  });

  it('carries traces into workflows only when spans are exported (traced runs cost the worker memory)', () => {
    expect(clientInterceptors({ exporting: false })).toEqual({});
    expect(clientInterceptors({ exporting: true }).workflow).toHaveLength(1);
  });

  it('sends spans as OTLP/HTTP to <endpoint>/v1/traces', async () => {
    const received: { path: string; body: string }[] = [];
    const collector: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
      const tracing = createTracing({ serviceName: 'otlp-probe', otlpEndpoint: endpoint });
      expect(tracing.exporting).toBe(true);
      tracing.tracer.startSpan('probe-span').end();
      await tracing.shutdown(); // flushes the batch
      expect(received.map((r) => r.path)).toEqual(['/v1/traces']);
      expect(received[0]?.body).toContain('probe-span');
      expect(received[0]?.body).toContain('otlp-probe');
    } finally {
      await new Promise((r) => collector.close(r));
    }
  });
});
