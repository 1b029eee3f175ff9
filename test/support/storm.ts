/**
 * A continue-as-new storm through the real product, shared by the end-to-end test (e2e/storm.test.ts) and the bench's
 * longer soak (bench/storm.ts): the API, the settlement batch, a bulk operation and a worker whose PostgreSQL is slowed
 * (through a delay proxy) for part of the time, with every member's run continuing as new every few events. Real-time
 * loads (some posted twice), two settlement files (settlements, delayed loads, returns), deadline changes one by one
 * and in bulk, and at the end every member opts out. Then, for every member: the counted amount is the sum of what
 * counts, each piece of news is in the audit trail once, the explanation's counted items add up to the counted amount,
 * the verdict proves itself, every settlement line was answered once and the reconciliation finds nothing missing. It
 * reports what was sent, by kind, the shapes of history the storm went through (history-shapes.ts) and every check
 * that failed, rather than stopping at the first: a caller asserts `failures` is empty.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createPool, type Db } from '../../src/db/pool';
import { SETTLEMENT_HEADER } from '../../src/domain/settlement';
import { createWorker } from '../../src/workers/worker';
import { startDelayProxy, type DelayProxy } from './delay-proxy';
import { addShapes, emptyShapes, type HistoryShapes } from './history-shapes';
import { inParallel } from './requests';
import { eventually, startTestStack, type TestStack } from './stack';

export interface StormSize {
  members: number;
  loadsPerMember: number;
  /** Members sending their loads at once. */
  width: number;
  /** The worker's database is slowed this long after the loads begin… */
  troubleAfterMs: number;
  /** …its answers this late (ms)… */
  slowDbMs: number;
  /** …for this long after the first file, the deadline changes and the bulk operation were sent. */
  slowForMs: number;
  /** Members whose deadline is moved one by one, and the members after them moved by one bulk operation. */
  oneByOne: number;
  bulk: number;
  /** How long the files and the operation may take each… */
  patienceMs: number;
  /** …and every member's view to count what was sent, after them. */
  catchUpMs: number;
}

/** The end-to-end test's storm (STORM_MEMBERS / STORM_LOADS scale it). */
export const STORM_TEST_SIZE: StormSize = {
  members: 32,
  loadsPerMember: 40,
  width: 8,
  troubleAfterMs: 3_000,
  slowDbMs: 300,
  slowForMs: 8_000,
  oneByOne: 6,
  bulk: 12,
  patienceMs: 180_000,
  catchUpMs: 120_000,
};

/** The product for a storm: its stack without a worker, and a worker whose database is behind a delay proxy. */
export interface StormStack {
  stack: TestStack;
  proxy: DelayProxy;
  stop(): Promise<void>;
}

export async function startStormStack(opts: {
  /** Continue-as-new once a run's history passes this many events (the server would suggest it at 4,096). */
  historyEventLimit: number;
  /** A prebuilt workflow bundle (else the worker bundles the workflows at start). */
  workflowBundlePath?: string;
}): Promise<StormStack> {
  const stack = await startTestStack({}, { worker: false, historyEventLimit: opts.historyEventLimit });
  let proxy: DelayProxy | undefined;
  let slowDb: Db | undefined;
  let connection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const stop = async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await slowDb?.end();
    await proxy?.close();
    await stack.destroy();
  };
  try {
    const url = new URL(stack.databaseUrl);
    proxy = await startDelayProxy({ host: url.hostname, port: Number(url.port) });
    url.port = String(proxy.port);
    slowDb = createPool(url.toString());
    connection = await NativeConnection.connect({ address: stack.temporalAddress });
    worker = await createWorker({
      connection,
      namespace: 'default',
      taskQueue: 'member-activation',
      deps: { db: slowDb, pointsApiUrl: stack.pointsApiUrl, pointsApiTimeoutMs: 1_500 },
      ...(opts.workflowBundlePath ? { workflowBundlePath: opts.workflowBundlePath } : {}),
    });
    running = worker.run();
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { stack, proxy, stop };
}

/** What the storm sent, by kind. */
export interface StormMessages {
  enrollments: number;
  /** Real-time loads, first posts. */
  loads: number;
  /** The same loads posted a second time. */
  duplicatePosts: number;
  /** Settlement lines of each file, and of both: settled, returned. */
  settlementLines: { first: number; second: number; settled: number; returned: number };
  scheduleChanges: number;
  bulkOperationMembers: number;
  optOuts: number;
  /** Answers the API asked to be retried (503, 429), and were. */
  retried: number;
  total: number;
}

/** How many members each check holds for (all of them, when nothing was lost). */
export interface StormChecks {
  members: number;
  /** The member view counts exactly what was sent (and counts). */
  countedAsSent: number;
  /** The explanation's counted items add up to the same amount. */
  explanationAddsUp: number;
  /** Every real-time post and every settlement line once in the audit trail. */
  auditLinesOnce: number;
  /** Runs that continued as new at least once. */
  continuedAsNew: number;
  proofsVerified: number;
  settlementLines: { records: number; applied: number; duplicates: number };
  /** POST …/reconcile afterwards: news accepted, and missing from its enrollment (must be 0). */
  reconcile: { checked: number; missing: number };
}

export interface StormReport {
  members: number;
  loadsPerMember: number;
  seconds: number;
  /** Wall clock of the phases, seconds. */
  phases: { send: number; applied: number; caughtUp: number; optOut: number; checks: number };
  messages: StormMessages;
  checks: StormChecks;
  shapes: HistoryShapes;
  /** What did not hold, member by member (empty: nothing lost, nothing doubled). */
  failures: string[];
}

interface Sent {
  transactionId: string;
  amountCents: number;
  channel: 'DEBIT_CARD' | 'BPAY';
  occurredAt: string;
  /** How often it was posted in real time (and answered 202). */
  posts: number;
  settled?: boolean;
  returned?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a storm on `campaign` (a new one) of `s`; returns what happened, failures included. */
export async function runStorm(storm: StormStack, size: StormSize, campaign = 'storm'): Promise<StormReport> {
  const { stack, proxy } = storm;
  const C = campaign;
  const started = Date.now();
  const failures: string[] = [];
  const messages: StormMessages = {
    enrollments: 0,
    loads: 0,
    duplicatePosts: 0,
    settlementLines: { first: 0, second: 0, settled: 0, returned: 0 },
    scheduleChanges: 0,
    bulkOperationMembers: 0,
    optOuts: 0,
    retried: 0,
    total: 0,
  };

  /** A caller that retries what the API asks it to retry (503, 429), as the contract says a caller does. */
  const call = async <T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> => {
    for (let attempt = 0; ; attempt++) {
      const res = await stack.api<T>(method, p, body);
      if ((res.status !== 503 && res.status !== 429) || attempt > 40) return res;
      messages.retried += 1;
      await sleep(500);
    }
  };
  const waitFor = async (fn: () => Promise<boolean>, what: string, ms = size.patienceMs): Promise<boolean> => {
    try {
      await eventually(fn, ms, what);
      return true;
    } catch (err) {
      failures.push(String(err instanceof Error ? err.message : err));
      return false;
    }
  };
  /** Posts a settlement file, again after each 503 (for as long as `patienceMs`). */
  const postFile = async (text: string): Promise<string> => {
    for (const until = Date.now() + size.patienceMs; ;) {
      const res = await fetch(`${stack.apiUrl}/v1/settlements`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/csv' },
        body: text,
      });
      if (res.status === 503 && Date.now() < until) {
        messages.retried += 1;
        await sleep(500);
        continue;
      }
      if (res.status !== 200 && res.status !== 202) throw new Error(`settlement file: ${res.status}`);
      return ((await res.json()) as { batchId: string }).batchId;
    }
  };

  const put = await call('PUT', `/v1/campaigns/${C}`, {
    targetCents: 2_500,
    rewardPoints: 100,
    window: 'P30D',
    grace: 'PT48H',
  });
  if (put.status !== 201) throw new Error(`campaign ${C}: ${put.status}`);
  const ids = Array.from({ length: size.members }, (_, i) => `ST-${String(i).padStart(3, '0')}`);
  await inParallel(ids, 8, async (m) => {
    const res = await call('POST', `/v1/campaigns/${C}/enrollments`, { memberId: m });
    if (res.status !== 201) throw new Error(`enrollment of ${m}: ${res.status}`);
    messages.enrollments += 1;
  });
  const sent = new Map<string, Sent[]>(ids.map((m) => [m, []]));
  const settlementLines = new Map<string, number>(ids.map((m) => [m, 0]));
  let tx = 0;

  const postLoad = async (m: string, s: Sent) => {
    const res = await call<{ enrollments: unknown[] }>('POST', '/v1/transactions', {
      transactionId: s.transactionId,
      memberId: m,
      kind: 'LOAD',
      amountCents: s.amountCents,
      currency: 'AUD',
      channel: s.channel,
      occurredAt: s.occurredAt,
    });
    if (res.status !== 202) {
      failures.push(`${m}: POST /v1/transactions ${s.transactionId} answered ${res.status}`);
      return;
    }
    if (s.posts === 0) messages.loads += 1;
    else messages.duplicatePosts += 1;
    s.posts += 1;
  };

  /** Settles what was sent so far: every delayed load, a third of the instant ones, and returns one load a member. */
  const settlementFile = (returns: boolean): { text: string; lines: number } => {
    const rows: string[] = [];
    for (const [m, list] of sent) {
      let returnedOne = false;
      for (const s of list) {
        if (s.settled || s.returned || s.posts === 0) continue;
        const settle = s.channel === 'BPAY' || Number(s.transactionId.split('-').at(-1)) % 3 === 0;
        if (!settle) continue;
        const ret: boolean = returns && !returnedOne && s.channel === 'DEBIT_CARD';
        returnedOne ||= ret;
        if (ret) s.returned = true;
        else s.settled = true;
        if (ret) messages.settlementLines.returned += 1;
        else messages.settlementLines.settled += 1;
        settlementLines.set(m, settlementLines.get(m)! + 1);
        rows.push(
          [s.transactionId, m, 'LOAD', s.amountCents, 'AUD', s.channel, s.occurredAt, s.occurredAt].join(',') +
            `,${ret ? 'RETURNED' : 'SETTLED'}`,
        );
      }
    }
    return { text: `${SETTLEMENT_HEADER}\n${rows.join('\n')}\n`, lines: rows.length };
  };

  // Real-time loads for every member, `width` members at a time, with duplicates; a settlement file, deadline changes
  // and a bulk extension in the middle; the worker's database slowed for a while.
  const loads = async () =>
    inParallel(ids, size.width, async (m) => {
      for (let i = 0; i < size.loadsPerMember; i++) {
        const s: Sent = {
          transactionId: `STX-${m}-${++tx}`,
          amountCents: 50 + (tx % 50),
          channel: i % 5 === 4 ? 'BPAY' : 'DEBIT_CARD',
          occurredAt: new Date().toISOString(),
          posts: 0,
        };
        sent.get(m)!.push(s);
        await postLoad(m, s);
        if (i % 7 === 3) await postLoad(m, s);
      }
    });
  const troubles = async () => {
    await sleep(size.troubleAfterMs);
    proxy.setDelay(size.slowDbMs);
    const first = settlementFile(false);
    messages.settlementLines.first = first.lines;
    const batch1 = await postFile(first.text);
    await inParallel(ids.slice(0, size.oneByOne), 3, async (m) => {
      const res = await call('POST', `/v1/campaigns/${C}/members/${m}/schedule`, {
        extendWindowBy: 'P1D',
        reason: 'storm: one by one',
      });
      if (res.status === 200) messages.scheduleChanges += 1;
      else failures.push(`${m}: schedule change answered ${res.status}`);
    });
    const selected = ids.slice(size.oneByOne, size.oneByOne + size.bulk);
    const op = await call<{ operationId: string }>('POST', '/v1/operations', {
      campaignId: C,
      select: { memberIds: selected },
      action: 'EXTEND_SCHEDULE',
      args: { extendGraceBy: 'P1D' },
      reason: 'storm: in bulk',
    });
    if (op.status !== 202) throw new Error(`bulk operation: ${op.status}`);
    messages.bulkOperationMembers = selected.length;
    await sleep(size.slowForMs);
    proxy.setDelay(0);
    return { batch1, operationId: op.body.operationId };
  };
  const [, { batch1, operationId }] = await Promise.all([loads(), troubles()]);
  const second = settlementFile(true);
  messages.settlementLines.second = second.lines;
  const batch2 = await postFile(second.text);
  const sentAt = Date.now();

  // Everything applied: both files and the operation.
  for (const b of [batch1, batch2]) {
    await waitFor(
      async () => (await call<{ state: string }>('GET', `/v1/settlements/${b}`)).body.state === 'COMPLETED',
      `settlement ${b}`,
    );
  }
  await waitFor(
    async () => (await call<{ state: string }>('GET', `/v1/operations/${operationId}`)).body.state === 'COMPLETED',
    'the bulk operation',
  );
  const appliedAt = Date.now();
  const expected = (m: string) =>
    sent
      .get(m)!
      .filter((s) => s.posts > 0 && !s.returned && (s.channel === 'DEBIT_CARD' || s.settled))
      .reduce((a, s) => a + s.amountCents, 0);
  await waitFor(
    async () => {
      for (const m of ids) {
        const v = await call<{ countedCents: number }>('GET', `/v1/campaigns/${C}/members/${m}`);
        if (v.body.countedCents !== expected(m)) return false;
      }
      return true;
    },
    'every member counting what was sent',
    size.catchUpMs,
  );
  const caughtUpAt = Date.now();

  // Every member opts out: the verdict's record writes the whole audit trail and the whole ledger.
  await inParallel(ids, 6, async (m) => {
    const res = await call<{ state: string }>('POST', `/v1/campaigns/${C}/members/${m}/cancel`, {
      reason: 'storm over',
    });
    if (res.status === 200 && res.body.state === 'CANCELLED') messages.optOuts += 1;
    else failures.push(`${m}: opt-out answered ${res.status} ${res.body.state}`);
  });
  const optedOutAt = Date.now();
  messages.total =
    messages.enrollments +
    messages.loads +
    messages.duplicatePosts +
    messages.settlementLines.first +
    messages.settlementLines.second +
    messages.scheduleChanges +
    messages.bulkOperationMembers +
    messages.optOuts;

  const checks: StormChecks = {
    members: size.members,
    countedAsSent: 0,
    explanationAddsUp: 0,
    auditLinesOnce: 0,
    continuedAsNew: 0,
    proofsVerified: 0,
    settlementLines: { records: 0, applied: 0, duplicates: 0 },
    reconcile: { checked: 0, missing: 0 },
  };
  const held = (
    ok: boolean,
    key: 'countedAsSent' | 'explanationAddsUp' | 'auditLinesOnce' | 'continuedAsNew' | 'proofsVerified',
    what: string,
  ) => {
    if (ok) checks[key] += 1;
    else failures.push(what);
  };
  const db = createPool(stack.databaseUrl, 4);
  try {
    for (const m of ids) {
      const workflowId = `activation:${C}:${m}`;
      let view: { state: string; countedCents: number } | undefined;
      // Each member was answered CANCELLED already: its view follows within a minute.
      await waitFor(
        async () => {
          view = (await call<{ state: string; countedCents: number }>('GET', `/v1/campaigns/${C}/members/${m}`)).body;
          return view.state === 'CANCELLED';
        },
        `${m} cancelled`,
        60_000,
      );
      held(
        view?.countedCents === expected(m),
        'countedAsSent',
        `${m}: counted ${view?.countedCents}, sent ${expected(m)}`,
      );
      // The explanation (the stored ledger) counts what the balance counts.
      const explanation = (
        await call<{ counted: { amountCents: number }[] }>('GET', `/v1/campaigns/${C}/members/${m}/explanation`)
      ).body;
      const explained = explanation.counted.reduce((a, c) => a + c.amountCents, 0);
      held(
        explained === expected(m),
        'explanationAddsUp',
        `${m}: the explanation counts ${explained}, sent ${expected(m)}`,
      );
      // Each delivery once in the audit trail: every real-time post and every settlement line.
      const { rows } = await db.query<{ type: string; n: number }>(
        `SELECT type, count(*)::int AS n FROM audit_events WHERE workflow_id = $1 GROUP BY type`,
        [workflowId],
      );
      const count = (t: string) => rows.find((r) => r.type === t)?.n ?? 0;
      const deliveries = sent.get(m)!.reduce((a, s) => a + s.posts, 0) + settlementLines.get(m)!;
      held(
        count('TRANSACTION_RECEIVED') === deliveries,
        'auditLinesOnce',
        `${m}: ${count('TRANSACTION_RECEIVED')} TRANSACTION_RECEIVED lines for ${deliveries} deliveries`,
      );
      held(count('CONTINUED_AS_NEW') > 0, 'continuedAsNew', `${m}: never continued as new`);
      const proof = (await call<{ verified: boolean }>('GET', `/v1/campaigns/${C}/members/${m}/proof`)).body;
      held(proof.verified === true, 'proofsVerified', `${m}: the proof did not verify`);
    }
    // Each settlement line answered once: applied (changed the enrollment) or a duplicate, never lost or rejected.
    for (const b of [batch1, batch2]) {
      const r = (await call<Record<string, number>>('GET', `/v1/settlements/${b}`)).body;
      checks.settlementLines.records += r.records;
      checks.settlementLines.applied += r.applied;
      checks.settlementLines.duplicates += r.duplicates;
      if (r.records !== r.applied + r.duplicates) {
        failures.push(`settlement ${b}: ${r.records} lines, ${r.applied} applied, ${r.duplicates} duplicates`);
      }
    }
    // Every piece of news accepted is in its enrollment.
    const rec = await call<{ checked: number; missing: number }>('POST', `/v1/campaigns/${C}/reconcile`, {
      settleSeconds: 0,
    });
    if (rec.status !== 200) failures.push(`reconcile answered ${rec.status}`);
    checks.reconcile = { checked: rec.body.checked, missing: rec.body.missing };
    if (rec.body.missing !== 0) failures.push(`reconcile: ${rec.body.missing} pieces of news missing`);
  } finally {
    await db.end();
  }
  const checkedAt = Date.now();

  // The shapes of history the storm went through.
  const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
  const shapes = emptyShapes();
  try {
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'memberActivation'` })) {
      addShapes(shapes, await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
    }
  } finally {
    await client.connection.close();
  }
  const secs = (ms: number) => Math.round(ms / 100) / 10;
  return {
    members: size.members,
    loadsPerMember: size.loadsPerMember,
    seconds: secs(Date.now() - started),
    phases: {
      send: secs(sentAt - started),
      applied: secs(appliedAt - sentAt),
      caughtUp: secs(caughtUpAt - appliedAt),
      optOut: secs(optedOutAt - caughtUpAt),
      checks: secs(checkedAt - optedOutAt),
    },
    messages,
    checks,
    shapes,
    failures,
  };
}
