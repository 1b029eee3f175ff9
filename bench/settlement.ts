/**
 * Settlement benchmark (`npm run bench:settlement`): how fast an overnight settlement file goes through the whole
 * product, next to the raw cost of the same number of member-workflow updates.
 *
 * 1. Starts the full local stack (embedded PostgreSQL, the Temporal dev server, the worker, the API) in a temporary
 *    DATA_DIR with a campaign whose window is P30D, and enrolls two disjoint sets of M members over HTTP.
 * 2. Batch path: streams a generated CSV of N lines to `POST /v1/settlements` and polls the batch report until it is
 *    COMPLETED (upload, apply and total time, records/s).
 * 3. Raw baseline: N fresh settlement events for the other M members, sent straight with the Temporal client as
 *    `transaction` signals (one per line; `--raw updates`: `applyTransaction` updates) at the batch's concurrency,
 *    timed until the member workflows have applied them all (records/s).
 * 4. Writes `bench/results/settlement-<timestamp>.json` and appends a row to `bench/results/README.md`.
 *
 * It measures and records; it never asserts a speed (the machines are shared and noisy). Progress goes to stderr.
 */
import { once } from 'node:events';
import {
  chmodSync,
  closeSync,
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import {
  cpuSummary,
  delay,
  gitInfo,
  interruption,
  mb,
  perSecond,
  phase,
  pool,
  rng,
  RssSampler,
  say,
  seconds,
  settle,
} from './lib/common';
import type { BatchReport } from '../src/db/settlements';
import { startStack, type Stack } from '../src/dev/stack';
import { freeStackPorts, repoRoot } from '../src/dev/tools';
import { record } from './lib/results';
import type { Channel, TransactionEvent } from '../src/domain/model';
import { SETTLEMENT_HEADER, type SettlementRecord } from '../src/domain/settlement';
import { logger } from '../src/logger';
import { applyTransactionUpdate, transactionSignal, type TransactionOutcome } from '../src/workflows/messages';

/** The default of SETTLEMENT_CONCURRENCY (member workflows the batch updates at once). */
const DEFAULT_CONCURRENCY = 32;
/** Worker tuning taken from this process's environment into the stack's (see the README's configuration table). */
const PASSED_THROUGH = [
  'TEMPORAL_CLI_PATH',
  'WORKFLOW_BUNDLE',
  'WORKER_MAX_CACHED_WORKFLOWS',
  'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS',
  'WORKER_MAX_CONCURRENT_ACTIVITIES',
] as const;
const ENROLL_CONCURRENCY = 32;
const CAMPAIGN_ID = 'bench-settlement';
/** Members are enrolled this long ago, so that transactions can spread over days inside the P30D window. */
const ENROLLED_DAYS_AGO = 7;
const POLL_MS = 1_000;
const PROGRESS_MS = 5_000;
/** The batch fails the benchmark when its progress stands still this long. */
const STALL_MS = 5 * 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const HELP = `Usage: npm run bench:settlement -- [options]

Settlement benchmark: starts the whole local stack in a temporary directory, enrolls members over HTTP,
streams a generated settlement CSV to POST /v1/settlements and waits for the batch to complete, then sends the
same number of settlement events straight to other members' workflows with the Temporal client (the raw
baseline). Writes bench/results/settlement-<timestamp>.json and appends a row to bench/results/README.md.
It measures; it never fails because something is slow.

Options:
  --lines N         data lines in the settlement file, and updates in the raw baseline (default 100000)
  --members M       members enrolled for each of the two runs, 2*M in all (default 1000)
  --concurrency C   member workflows updated at once, by the batch (the stack's SETTLEMENT_CONCURRENCY) and
                    by the raw baseline (default ${DEFAULT_CONCURRENCY})
  --raw KIND        how the raw baseline sends each line: signals (the \`transaction\` signal, default) or
                    updates (the \`applyTransaction\` update, which waits for the workflow's answer)
  --note TEXT       free text for the notes column of bench/results/README.md
  --out DIR         write the results there instead of bench/results
  -h, --help        this text

The worker tuning variables (WORKER_MAX_CACHED_WORKFLOWS, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
WORKER_MAX_CONCURRENT_ACTIVITIES, WORKFLOW_BUNDLE) and LOG_LEVEL (default warn) are taken from the environment.
Progress goes to stderr; exit code 0 when the measurements were taken and recorded, 1 on any failure.`;

interface Options {
  lines: number;
  members: number;
  concurrency: number;
  raw: RawKind;
  note?: string;
  /** Where results go (default bench/results). */
  out?: string;
}

type RawKind = 'signals' | 'updates';

class UsageError extends Error {}

function parseOptions(argv: string[]): Options | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      lines: { type: 'string' },
      members: { type: 'string' },
      concurrency: { type: 'string' },
      note: { type: 'string' },
      raw: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return 'help';
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const positive = (name: string, text: string | undefined, dflt: number, max: number): number => {
    if (text === undefined) return dflt;
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new UsageError(`--${name} must be an integer from 1 to ${max}, got ${JSON.stringify(text)}`);
    }
    return n;
  };
  return {
    lines: positive('lines', values.lines, 100_000, 100_000_000),
    members: positive('members', values.members, 1_000, 1_000_000),
    concurrency: positive('concurrency', values.concurrency, DEFAULT_CONCURRENCY, 1_000),
    raw: rawKind(values.raw),
    ...(values.note ? { note: values.note } : {}),
    ...(values.out ? { out: path.resolve(values.out) } : {}),
  };
}

function rawKind(text: string | undefined): RawKind {
  if (text === undefined || text === 'signals' || text === 'updates') return text ?? 'signals';
  throw new UsageError(`--raw must be signals or updates, got ${JSON.stringify(text)}`);
}

// ---- the data -------------------------------------------------------------------------------------------------------

const memberId = (set: 'b' | 'r', i: number): string => `bench-${set}-${String(i + 1).padStart(6, '0')}`;

interface Mix {
  delayedSettled: number;
  instantSettled: number;
  delayedReturned: number;
  instantReturned: number;
}
/** Mostly settled loads; about one in twelve returned. No withdrawals (they would end enrollments). */
const MIX: Mix = { delayedSettled: 0.55, instantSettled: 0.37, delayedReturned: 0.05, instantReturned: 0.03 };

/**
 * N settlement records over M members, lazily (constant memory). Each transaction happened after the enrollment and
 * at least a minute ago, and was settled or returned between then and now; transaction ids are unique per `prefix`.
 */
function* settlementRecords(opts: {
  set: 'b' | 'r';
  prefix: string;
  lines: number;
  members: number;
  enrolledAt: number;
  now: number;
  seed: number;
}): Generator<SettlementRecord> {
  const random = rng(opts.seed);
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const from = opts.enrolledAt + 60_000;
  const to = opts.now - 60_000;
  for (let i = 0; i < opts.lines; i++) {
    const r = random();
    const returned = r >= MIX.delayedSettled + MIX.instantSettled;
    const delayed =
      r < MIX.delayedSettled || (returned && r < MIX.delayedSettled + MIX.instantSettled + MIX.delayedReturned);
    const channel: Channel = delayed ? (random() < 0.5 ? 'BPAY' : 'BANK_TRANSFER') : 'DEBIT_CARD';
    const amountCents = delayed ? between(1_000, 100_000) : between(500, 30_000);
    const occurred = between(from, to);
    // Delayed loads settle in one to three days, card loads within a day, returns take up to five.
    const lag = returned ? between(DAY, 5 * DAY) : delayed ? between(DAY, 3 * DAY) : between(HOUR, DAY);
    const settled = Math.min(occurred + lag, to);
    yield {
      transactionId: `${opts.prefix}-${String(i + 1).padStart(9, '0')}`,
      memberId: memberId(opts.set, Math.floor(random() * opts.members)),
      kind: 'LOAD',
      channel,
      amountCents,
      currency: 'AUD',
      occurredAt: new Date(occurred).toISOString(),
      settledAt: new Date(settled).toISOString(),
      status: returned ? 'RETURNED' : 'SETTLED',
    };
  }
}

/** Writes the records as a settlement CSV, honouring back-pressure. */
async function writeCsv(file: string, records: Iterable<SettlementRecord>): Promise<{ lines: number; bytes: number }> {
  const out = createWriteStream(file);
  const closed = once(out, 'close');
  let lines = 0;
  let chunk = `${SETTLEMENT_HEADER}\n`;
  for (const r of records) {
    chunk +=
      `${r.transactionId},${r.memberId},${r.kind},${r.amountCents},${r.currency},${r.channel},` +
      `${r.occurredAt},${r.settledAt},${r.status}\n`;
    lines += 1;
    if (chunk.length >= 64 * 1024) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await closed;
  return { lines, bytes: statSync(file).size };
}

// ---- talking to the stack -------------------------------------------------------------------------------------------

async function api<T>(stack: Stack, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.apiUrl}${p}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, body: parsed as T };
}

async function enrollAll(stack: Stack, set: 'b' | 'r', members: number, enrolledAt: string): Promise<void> {
  let done = 0;
  let lastSaid = Date.now();
  await pool(members, ENROLL_CONCURRENCY, async (i) => {
    const id = memberId(set, i);
    const res = await api<unknown>(stack, 'POST', `/v1/campaigns/${CAMPAIGN_ID}/enrollments`, {
      memberId: id,
      enrolledAt,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`enrolling ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    done += 1;
    if (Date.now() - lastSaid >= PROGRESS_MS) {
      lastSaid = Date.now();
      say(`  enrolled ${done}/${members}`);
    }
  });
}

interface UploadResult {
  status: number;
  batchId: string;
  staged: { records?: number; rejected?: number };
}

/**
 * How long the delayed upload holds the body back after its first byte. The server (`stageSettlementFile`) creates
 * its line reader before it awaits a database connection and only then starts iterating; lines that arrive in
 * between are dropped, so a body that streams in at once loses its first lines ("line 1 must be the header"). One
 * byte (a partial line, which the reader keeps) makes the client send the request; the rest follows once the server
 * is reading. Only used when the plain upload fails that way; the JSON records it.
 */
const HOLD_MS = 500;

class UploadRejected extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`POST /v1/settlements answered ${status}: ${body}`);
  }
}

async function upload(stack: Stack, file: string, holdMs = 0): Promise<UploadResult> {
  const readable =
    holdMs > 0
      ? Readable.from(
          (async function* () {
            yield readFirstByte(file);
            await delay(holdMs);
            yield* createReadStream(file, { start: 1 });
          })(),
        )
      : createReadStream(file);
  const res = await fetch(`${stack.apiUrl}/v1/settlements`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv' },
    body: Readable.toWeb(readable) as ReadableStream<Uint8Array>,
    duplex: 'half',
  });
  const text = await res.text();
  if (res.status !== 202) throw new UploadRejected(res.status, text);
  const body = JSON.parse(text) as { batchId: string; records?: number; rejected?: number };
  return {
    status: res.status,
    batchId: body.batchId,
    staged: {
      ...(body.records !== undefined ? { records: body.records } : {}),
      ...(body.rejected !== undefined ? { rejected: body.rejected } : {}),
    },
  };
}

function readFirstByte(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

async function waitForBatch(stack: Stack, batchId: string, lines: number): Promise<BatchReport> {
  const t0 = Date.now();
  let lastProgress = -1;
  let lastProgressAt = Date.now();
  let lastSaid = Date.now();
  for (;;) {
    const res = await api<BatchReport>(stack, 'GET', `/v1/settlements/${encodeURIComponent(batchId)}`);
    if (res.status !== 200)
      throw new Error(`GET /v1/settlements/${batchId} answered ${res.status}: ${JSON.stringify(res.body)}`);
    const report = res.body;
    if (report.state === 'COMPLETED') return report;
    if (report.state === 'FAILED') {
      throw new Error(
        `the batch FAILED: ${report.failure ?? '(no failure recorded)'}; report ${JSON.stringify(report)}`,
      );
    }
    if (report.processed !== lastProgress) {
      lastProgress = report.processed;
      lastProgressAt = Date.now();
    } else if (Date.now() - lastProgressAt > STALL_MS) {
      throw new Error(
        `the batch made no progress for ${STALL_MS / 1000} s (processed ${report.processed}/${lines}); ` +
          `last report ${JSON.stringify(report)}`,
      );
    }
    if (Date.now() - lastSaid >= PROGRESS_MS) {
      lastSaid = Date.now();
      say(
        `  batch ${report.processed}/${report.records} lines (${perSecond(report.processed, Date.now() - t0)}/s; ` +
          `applied ${report.applied}, duplicates ${report.duplicates}, noEnrollment ${report.noEnrollment}, ` +
          `late ${report.late}, rejected ${report.rejectedCount})`,
      );
    }
    await delay(POLL_MS);
  }
}

interface RawResult {
  /** Answers of the updates (`--raw updates`); all zero for signals, which have no answer. */
  outcomes: Record<TransactionOutcome, number>;
  errors: number;
  firstErrors: string[];
  /** Time to send everything (signals: accepted by the server; updates: answered by the workflows). */
  sendMs: number;
  /** Signals only: lines found applied (a ledger entry in the read model) when the wait ended. */
  recorded?: number;
}

/**
 * The raw baseline: every record sent straight to its member's workflow with the Temporal client, one message per
 * line, `concurrency` in flight, in the message shapes the member workflow accepts (the `transaction` signal, or the
 * `applyTransaction` update). Signals are fire-and-forget, so the clock stops only once the member workflows have
 * applied all of them and their read model shows it (one ledger entry per transaction id).
 */
async function rawBaseline(
  client: Client,
  databaseUrl: string,
  records: Iterator<SettlementRecord>,
  opts: { lines: number; concurrency: number; batchId: string; kind: RawKind; txPrefix: string },
): Promise<RawResult> {
  const { lines, concurrency, batchId, kind } = opts;
  const outcomes: Record<TransactionOutcome, number> = { APPLIED: 0, DUPLICATE: 0, CONFLICT: 0, LATE: 0 };
  const firstErrors: string[] = [];
  let errors = 0;
  let done = 0;
  let lastSaid = Date.now();
  const t0 = Date.now();
  const receivedAt = new Date().toISOString();
  await pool(lines, concurrency, async (i) => {
    const next = records.next();
    if (next.done) throw new Error(`the raw record generator ran dry after ${i} records`);
    const record = next.value;
    const line = i + 2; // as in a file: the header is line 1
    const event: TransactionEvent = { source: 'SETTLEMENT', ...record, receivedAt, batchId, line };
    const handle = client.workflow.getHandle(`activation:${CAMPAIGN_ID}:${record.memberId}`);
    try {
      if (kind === 'signals') {
        await handle.signal(transactionSignal, event);
      } else {
        const outcome = await handle.executeUpdate(applyTransactionUpdate, {
          args: [event],
          updateId: `${batchId}:${line}`,
        });
        outcomes[outcome] += 1;
      }
    } catch (err) {
      errors += 1;
      if (firstErrors.length < 10) firstErrors.push(`line ${line} (${record.memberId}): ${String(err)}`);
    }
    done += 1;
    if (Date.now() - lastSaid >= PROGRESS_MS) {
      lastSaid = Date.now();
      say(`  raw ${done}/${lines} ${kind} sent (${perSecond(done, Date.now() - t0)}/s, errors ${errors})`);
    }
  });
  const sendMs = Date.now() - t0;
  if (kind === 'updates') return { outcomes, errors, firstErrors, sendMs };

  say(`  all ${lines} signals sent in ${seconds(sendMs)} s; waiting for the workflows to apply them…`);
  const expected = lines - errors;
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    let recorded = 0;
    let lastChange = Date.now();
    for (;;) {
      if (interruption.signal.aborted) throw new Error('interrupted');
      const { rows } = await db.query<{ n: string }>(
        'SELECT count(*) AS n FROM ledger_entries WHERE transaction_id LIKE $1',
        [`${opts.txPrefix}-%`],
      );
      const n = Number(rows[0]?.n ?? 0);
      if (n !== recorded) lastChange = Date.now();
      recorded = n;
      if (recorded >= expected) break;
      if (Date.now() - lastChange > STALL_MS) {
        throw new Error(`the raw baseline stalled: ${recorded} of ${expected} signals applied`);
      }
      if (Date.now() - lastSaid >= PROGRESS_MS) {
        lastSaid = Date.now();
        say(`  raw ${recorded}/${expected} applied`);
      }
      await delay(POLL_MS / 4);
    }
    return { outcomes, errors, firstErrors, sendMs, recorded };
  } finally {
    await db.end();
  }
}

// ---- recording ------------------------------------------------------------------------------------------------------

export const SETTLEMENT_SECTION = {
  heading: 'Settlement (`npm run bench:settlement`)',
  intro:
    "A generated settlement file of `lines` lines (settled and returned loads, no withdrawals) for `members` enrolled\nmembers, streamed to `POST /v1/settlements` on the full local stack, against the same number of settlement events\nsent straight to other members' workflows with the Temporal client, as `transaction` signals (rows noted\n\"raw as updates\": as `applyTransaction` updates, each awaiting the workflow's answer; `--raw updates` still does that).\n\n- **batch rec/s**: `lines` / (upload + apply), end to end: from the first byte posted until the batch report says\n  COMPLETED. The apply-only rate is in the JSON (`batch.applyRecordsPerSec`).\n- **raw rec/s**: `lines` / time to send the same number of signals straight to the member workflows, at the same\n  concurrency as the batch, one signal per line, until the workflows have applied them all (every transaction has its\n  ledger entry in the read model). The send-only rate is in the JSON (`raw.sendRecordsPerSec`). Signals carry no\n  answer, no per-line outcome and no exactly-once guarantee across a crashed sender; the batch has all three, and\n  groups a member's lines of a chunk into one `applyTransactions` update.\n- **ratio**: batch rec/s / raw rec/s (above 1: the batch beats sending every line as its own update).\n- **peak RSS MB**: peak resident memory of the benchmark process, which also runs the API and the worker (PostgreSQL\n  and the Temporal server are separate processes; their peak and their CPU time per phase are in the JSON).\n- **notes**: non-default concurrency or worker tuning, anything unexpected in the counts, and `--note` text;\n  the JSON file's name.",
  columns: ['date', 'lines', 'members', 'batch rec/s', 'raw rec/s', 'ratio', 'peak RSS MB', 'notes'],
};

// ---- main -----------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return 1;
  }
  if (opts === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { lines, members, concurrency } = opts;
  // The API logs every request, the worker every state change, at info level: a benchmark wants only what goes
  // wrong (LOG_LEVEL overrides). The Temporal runtime takes its logger once, before the worker connects.
  const logLevel = process.env.LOG_LEVEL ?? 'warn';
  logger.level = logLevel;
  const runtimeLevels: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN' };
  Runtime.install({ logger: new DefaultLogger(runtimeLevels[logLevel] ?? 'ERROR') });

  const root = repoRoot();
  const resultsDir = opts.out ?? path.join(root, 'bench', 'results');
  const runAt = new Date();
  const stamp = runAt
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '-');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'settlement-bench-'));
  // Embedded PostgreSQL runs as the unprivileged "postgres" user, who must be able to enter the directory.
  chmodSync(tmp, 0o755);
  const dataDir = path.join(tmp, 'data');
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  const csvFile = path.join(tmp, 'settlement.csv');
  const rss = new RssSampler();
  const loadavgAtStart = os.loadavg();

  let stack: Stack | undefined;
  let connection: Connection | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      rss.stop();
      // Interrupted, the raw baseline may still have updates in flight, whose retry timers throw once their channel
      // is closed: leave the connection to the exit.
      if (!interruption.signal.aborted) await connection?.close().catch(() => undefined);
      if (stack) {
        say('stopping the stack…');
        await stack.stop();
      }
    })());
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    interruption.abort();
    say(`${signal}: stopping (the temporary directory ${tmp} is kept)`);
    // Requests cut off by the stopping stack may fail late, out of any await; they no longer matter.
    process.on('uncaughtException', (err) => say(`  ignored while stopping: ${err.message}`));
    shutdown().then(
      () => {
        say('stopped; exit code 130');
        process.exit(130);
      },
      (err: unknown) => {
        say(`the stack did not stop cleanly: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    say(`settlement benchmark: ${lines} lines, ${members} members per run, concurrency ${concurrency}`);
    say(`temporary directory ${tmp}`);
    const env: NodeJS.ProcessEnv = {
      DATA_DIR: dataDir,
      ...(await freeStackPorts()),
      CAMPAIGN_ID,
      CAMPAIGN_TARGET_CENTS: '50000',
      CAMPAIGN_REWARD_POINTS: '2000',
      CAMPAIGN_WINDOW: 'P30D',
      CAMPAIGN_GRACE: 'PT48H',
      SETTLEMENT_CONCURRENCY: String(concurrency),
      ...Object.fromEntries(PASSED_THROUGH.filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
    };
    const config = loadConfig(env);
    const stackStart = await phase(rss, async () => {
      stack = await startStack(config, {
        say: (l) => say(`  ${l}`),
        logger: logger.child({}, { level: logLevel }),
      });
      return stack;
    });
    const s = stackStart.value;
    say(`stack up in ${seconds(stackStart.phase.ms)} s: API ${s.apiUrl}, Temporal ${s.temporalAddress}`);

    const now = Date.now();
    const enrolledAtMs = now - ENROLLED_DAYS_AGO * DAY;
    const enrolledAt = new Date(enrolledAtMs).toISOString();

    say(
      `enrolling ${members} members for the batch and ${members} for the raw baseline ` +
        `(${ENROLL_CONCURRENCY} at a time)…`,
    );
    const enrollB = await phase(rss, () => enrollAll(s, 'b', members, enrolledAt));
    const enrollR = await phase(rss, () => enrollAll(s, 'r', members, enrolledAt));
    say(
      `  enrolled in ${seconds(enrollB.phase.ms)} s + ${seconds(enrollR.phase.ms)} s ` +
        `(${perSecond(2 * members, enrollB.phase.ms + enrollR.phase.ms)}/s)`,
    );

    const runTag = stamp.replace(/[^0-9]/g, '').slice(0, 14);
    const genOpts = { lines, members, enrolledAt: enrolledAtMs, now: Date.now() };
    say(`writing a ${lines}-line settlement file…`);
    const gen = await phase(rss, () =>
      writeCsv(csvFile, settlementRecords({ ...genOpts, set: 'b', prefix: `BB${runTag}`, seed: 1 })),
    );
    say(`  ${gen.value.lines} lines, ${mb(gen.value.bytes)} MB in ${seconds(gen.phase.ms)} s`);

    const settledBeforeBatch = await settle();
    say(`quiet after ${seconds(settledBeforeBatch)} s; posting the file to /v1/settlements…`);

    let batchT0 = performance.now();
    let uploadHoldMs = 0;
    let plainUploadFailure: { status: number; body: string; ms: number } | undefined;
    let up: Awaited<ReturnType<typeof phase<UploadResult>>>;
    try {
      up = await phase(rss, () => upload(s, csvFile));
    } catch (err) {
      if (!(err instanceof UploadRejected && err.status === 400 && err.body.includes('INVALID_SETTLEMENT_FILE'))) {
        throw err;
      }
      plainUploadFailure = { status: err.status, body: err.body, ms: Math.round(performance.now() - batchT0) };
      say(`  the streamed upload was rejected: ${err.message}`);
      say(`  retrying with the body held back ${HOLD_MS} ms after its first byte (server drops early lines)…`);
      uploadHoldMs = HOLD_MS;
      batchT0 = performance.now();
      up = await phase(rss, () => upload(s, csvFile, HOLD_MS));
    }
    say(
      `  staged in ${seconds(up.phase.ms)} s (${perSecond(lines, up.phase.ms)} lines/s): batch ${up.value.batchId}, ` +
        `records ${up.value.staged.records ?? '?'}, rejected ${up.value.staged.rejected ?? '?'}`,
    );
    say('applying (polling the batch report)…');
    const apply = await phase(rss, () => waitForBatch(s, up.value.batchId, lines));
    const batchTotalMs = performance.now() - batchT0;
    const report = apply.value;
    const serverApplyMs =
      report.completedAt !== undefined ? Date.parse(report.completedAt) - Date.parse(report.startedAt) : undefined;
    const batchRate = perSecond(lines, batchTotalMs);
    say(
      `  COMPLETED: applied ${report.applied} (returned ${report.returned}), duplicates ${report.duplicates}, ` +
        `noEnrollment ${report.noEnrollment}, late ${report.late}, rejected ${report.rejectedCount}`,
    );
    say(
      `  batch: upload ${seconds(up.phase.ms)} s + apply ${seconds(apply.phase.ms)} s = ${seconds(batchTotalMs)} s ` +
        `→ ${batchRate} records/s (apply only ${perSecond(lines, apply.phase.ms)}/s)`,
    );

    say(`  ${cpuSummary(apply.phase)}`);

    const settledBeforeRaw = await settle();
    say(`quiet after ${seconds(settledBeforeRaw)} s; raw baseline: ${lines} ${opts.raw}, ${concurrency} in flight…`);
    connection = await Connection.connect({ address: s.temporalAddress });
    const client = new Client({ connection });
    const rawRecords = settlementRecords({ ...genOpts, set: 'r', prefix: `RR${runTag}`, seed: 2 });
    const raw = await phase(rss, () =>
      rawBaseline(client, s.databaseUrl, rawRecords, {
        lines,
        concurrency,
        batchId: `raw-${runTag}`,
        kind: opts.raw,
        txPrefix: `RR${runTag}`,
      }),
    );
    const rawRate = perSecond(lines, raw.phase.ms);
    say(
      `  raw: ${seconds(raw.phase.ms)} s (sent in ${seconds(raw.value.sendMs)} s) → ${rawRate} records/s; ` +
        (opts.raw === 'updates' ? `outcomes ${JSON.stringify(raw.value.outcomes)}, ` : '') +
        `errors ${raw.value.errors}`,
    );
    say(`  ${cpuSummary(raw.phase)}`);
    for (const e of raw.value.firstErrors) say(`  raw error: ${e}`);
    const ratio = rawRate > 0 ? Math.round((batchRate / rawRate) * 1000) / 1000 : null;

    // What a reader of the table should know: anything but a clean run.
    const notes: string[] = [];
    if (plainUploadFailure)
      notes.push(`streamed upload rejected (${plainUploadFailure.status}); sent with a ${uploadHoldMs} ms hold`);
    if (concurrency !== DEFAULT_CONCURRENCY) notes.push(`concurrency ${concurrency}`);
    const tuned = PASSED_THROUGH.filter((k) => k !== 'TEMPORAL_CLI_PATH' && process.env[k]);
    if (tuned.length) notes.push(tuned.map((k) => `${k}=${process.env[k]}`).join(' '));
    const unexpected = { noEnrollment: report.noEnrollment, late: report.late, rejected: report.rejectedCount };
    for (const [k, v] of Object.entries(unexpected)) if (v > 0) notes.push(`batch ${k} ${v}`);
    if (report.records !== lines) notes.push(`batch records ${report.records} ≠ lines ${lines}`);
    if (raw.value.errors > 0) notes.push(`raw errors ${raw.value.errors}`);
    if (opts.raw === 'updates') {
      notes.push('raw as updates');
      if (raw.value.outcomes.APPLIED !== lines - raw.value.errors)
        notes.push(`raw applied ${raw.value.outcomes.APPLIED}`);
    }
    const git = gitInfo(root);
    if (git.changedFiles?.length) notes.push('uncommitted src changes');
    if (opts.note) notes.push(opts.note.replace(/\|/g, '/'));

    rss.stop();
    const cpus = os.cpus();
    const result = {
      benchmark: 'settlement',
      date: runAt.toISOString(),
      machine: {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        totalMemoryMb: mb(os.totalmem()),
        node: process.version,
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        loadavgAtStart: loadavgAtStart.map((l) => Math.round(l * 100) / 100),
        loadavgAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
      },
      git,
      parameters: {
        lines,
        members,
        rawConcurrency: concurrency,
        rawKind: opts.raw,
        batchConcurrency: config.SETTLEMENT_CONCURRENCY,
        worker: {
          maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
          maxConcurrentWorkflowTasks: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
          maxConcurrentActivities: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
          prebuiltWorkflowBundle: Boolean(config.WORKFLOW_BUNDLE),
        },
        enrollConcurrency: ENROLL_CONCURRENCY,
        campaign: { campaignId: CAMPAIGN_ID, window: 'P30D', grace: 'PT48H', targetCents: 50_000 },
        enrolledDaysAgo: ENROLLED_DAYS_AGO,
        mix: MIX,
        seeds: { batch: 1, raw: 2 },
        logLevel,
      },
      stack: { startMs: stackStart.phase.ms },
      enrollPhases: { batchMembers: enrollB.phase, rawMembers: enrollR.phase },
      enrollment: {
        members: 2 * members,
        ms: enrollB.phase.ms + enrollR.phase.ms,
        perSecond: perSecond(2 * members, enrollB.phase.ms + enrollR.phase.ms),
      },
      file: { lines: gen.value.lines, bytes: gen.value.bytes, generateMs: gen.phase.ms },
      batch: {
        batchId: up.value.batchId,
        settleBeforeMs: settledBeforeBatch,
        uploadMs: up.phase.ms,
        /** > 0: the plain streamed upload was rejected, and this upload held its body back this long (in uploadMs). */
        uploadHoldMs,
        plainUploadFailure,
        applyMs: apply.phase.ms,
        serverApplyMs,
        totalMs: Math.round(batchTotalMs),
        recordsPerSec: batchRate,
        uploadLinesPerSec: perSecond(lines, up.phase.ms),
        applyRecordsPerSec: perSecond(lines, apply.phase.ms),
        phases: { upload: up.phase, apply: apply.phase },
        staged: up.value.staged,
        report: {
          records: report.records,
          processed: report.processed,
          applied: report.applied,
          duplicates: report.duplicates,
          returned: report.returned,
          noEnrollment: report.noEnrollment,
          late: report.late,
          rejectedCount: report.rejectedCount,
          rejected: report.rejected.slice(0, 20),
          startedAt: report.startedAt,
          completedAt: report.completedAt,
        },
      },
      raw: {
        settleBeforeMs: settledBeforeRaw,
        kind: opts.raw,
        ms: raw.phase.ms,
        sendMs: raw.value.sendMs,
        sendRecordsPerSec: perSecond(lines, raw.value.sendMs),
        recorded: raw.value.recorded,
        recordsPerSec: rawRate,
        phase: raw.phase,
        outcomes: raw.value.outcomes,
        errors: raw.value.errors,
        firstErrors: raw.value.firstErrors,
      },
      ratio: {
        batchToRaw: ratio,
        batchApplyOnlyToRaw:
          rawRate > 0 ? Math.round((perSecond(lines, apply.phase.ms) / rawRate) * 1000) / 1000 : null,
      },
      peakRssMb: mb(rss.peak),
      childrenPeakRssMb: mb(rss.childPeak),
      notes,
    };
    const row = [
      runAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      lines,
      members,
      batchRate,
      rawRate,
      ratio ?? 'n/a',
      mb(rss.peak),
      notes.join('; '),
    ];
    const resultFile = record(resultsDir, 'settlement', runAt, result, SETTLEMENT_SECTION, [row]);
    say(
      `wrote ${path.relative(root, resultFile)} and a row in ${path.relative(root, path.join(resultsDir, 'README.md'))}`,
    );
    say(`batch ${batchRate} records/s, raw ${rawRate} records/s, ratio ${ratio ?? 'n/a'}, peak RSS ${mb(rss.peak)} MB`);

    await shutdown();
    rmSync(tmp, { recursive: true, force: true });
    say('done');
    return 0;
  } catch (err) {
    if (interrupted) {
      await shutdown().catch(() => undefined); // the signal handler's, already under way: exit once it is done
      return 130;
    }
    say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    try {
      await shutdown();
    } catch (stopErr) {
      say(`and the stack did not stop cleanly: ${String(stopErr)}`);
    }
    say(`kept ${tmp} for a look (temporal.log and postgres.log are under data/); delete it when done`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`settlement benchmark crashed: ${String(err)}\n`);
    process.exit(1);
  },
);
