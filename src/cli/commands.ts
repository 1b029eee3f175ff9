/**
 * What each CLI command does: calls to the API, printed in the human format or as JSON. Output goes through the
 * injected `Io`, so `main.ts` alone touches the process (argv, env, exit code, signals).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BacktestRequest, Command, Invocation } from './args';
import { segment, type ApiClient } from './client';
import { ApiCallError, CliUsageError, InterruptedError, UnreachableError } from './errors';
import {
  formatAccepted,
  formatCampaignReport,
  formatDryRun,
  formatMember,
  formatOperation,
  formatResolution,
  formatReviews,
  formatSettlementReport,
  type CampaignReport,
  type MemberView,
  type OperationDryRun,
  type OperationReport,
  formatVerification,
  formatBacktest,
  formatLedgerRepair,
  formatReconciliation,
  formatWatchLine,
  type Backtest,
  type LedgerRepair,
  type Reconciliation,
  type ProofPage,
  type Verification,
  type ReviewItem,
  type ReviewList,
  type SettlementAccepted,
  type SettlementReport,
} from './format';
import { TERMINAL_STATES } from '../domain/model';
import {
  BYTES,
  ENROLLMENTS,
  MEMBERS,
  NEWS,
  ProgressDisplay,
  ProgressMeter,
  RECORDS,
  type DisplayTarget,
  type Unit,
} from './progress';

/** How often a running batch is asked for its progress: fresh enough for a progress bar, light on PostgreSQL. */
const POLL_INTERVAL_MS = 1_000;
/** Smaller files upload in a blink; a progress bar would only flicker. */
const UPLOAD_PROGRESS_MIN_BYTES = 1024 * 1024;

export interface Io {
  /** Results: the human format or JSON. */
  out(text: string): void;
  /** Progress and diagnostics, so `--json` output stays parseable. */
  err: DisplayTarget;
  /** Aborted when the operator presses Ctrl-C. */
  signal: AbortSignal;
}

interface Ctx {
  client: ApiClient;
  io: Io;
  json: boolean;
}

/** Runs one command; resolves to its exit code, throws what `main` maps to the other exit codes. */
export async function runCommand(inv: Invocation, client: ApiClient, io: Io): Promise<number> {
  const ctx: Ctx = { client, io, json: inv.json };
  const cmd: Command = inv.command;
  switch (cmd.name) {
    case 'settle':
      return settle(ctx, cmd);
    case 'batch':
      return batch(ctx, cmd.batchId, cmd.wait);
    case 'status':
      return show(ctx, await client.get<MemberView>(memberPath(cmd.campaignId, cmd.memberId)), formatMember);
    case 'schedule': {
      const { body } = await client.postJson<MemberView>(
        `${memberPath(cmd.campaignId, cmd.memberId)}/schedule`,
        {
          ...(cmd.extendWindowBy !== undefined ? { extendWindowBy: cmd.extendWindowBy } : {}),
          ...(cmd.extendGraceBy !== undefined ? { extendGraceBy: cmd.extendGraceBy } : {}),
          reason: cmd.reason,
        },
        {
          ...(cmd.callerId ? { 'X-Caller-Id': cmd.callerId } : {}),
          ...(cmd.idempotencyKey ? { 'Idempotency-Key': cmd.idempotencyKey } : {}),
        },
      );
      return show(ctx, body, formatMember);
    }
    case 'operate':
      return operate(ctx, cmd);
    case 'operation':
      return cmd.wait
        ? followOperation(ctx, cmd.operationId)
        : printOperation(ctx, await getOperation(ctx, cmd.operationId));
    case 'reviews': {
      const list = await client.get<ReviewList>(`/v1/reviews${cmd.state ? `?state=${cmd.state}` : ''}`);
      return show(ctx, list, (l) => formatReviews(l, cmd.state));
    }
    case 'resolve': {
      const path = `/v1/reviews/${segment(cmd.reviewId)}/resolve`;
      const { body } = await client.postJson<ReviewItem>(path, { action: cmd.action, note: cmd.note });
      return show(ctx, body, formatResolution);
    }
    case 'verify':
      return verify(ctx, cmd.campaignId, cmd.pageSize);
    case 'backtest':
      return backtest(ctx, cmd.campaignId, cmd.request);
    case 'repair-ledgers':
      return repairLedgers(ctx, cmd.campaignId);
    case 'reconcile':
      return reconcile(ctx, cmd.campaignId, {
        repair: cmd.repair,
        ...(cmd.settleSeconds !== undefined ? { settleSeconds: cmd.settleSeconds } : {}),
      });
    case 'watch':
      return watch(ctx, cmd.campaignId, cmd.memberId, cmd.untilFinal);
    case 'report':
      return show(
        ctx,
        await client.get<CampaignReport>(`/v1/campaigns/${segment(cmd.campaignId)}/report`),
        formatCampaignReport,
      );
  }
}

const memberPath = (campaignId: string, memberId: string) =>
  `/v1/campaigns/${segment(campaignId)}/members/${segment(memberId)}`;

function print<T>(ctx: Ctx, body: T, human: (body: T) => string): void {
  ctx.io.out(`${ctx.json ? JSON.stringify(body, null, 2) : human(body)}\n`);
}

function show<T>(ctx: Ctx, body: T, human: (body: T) => string): number {
  print(ctx, body, human);
  return 0;
}

export const followHint = (batchId: string): string => `npm run cli -- batch ${batchId} --wait`;

async function settle(ctx: Ctx, cmd: Extract<Command, { name: 'settle' }>): Promise<number> {
  const file = await openCsv(cmd.file);
  const size = (await file.stat()).size;
  const display = new ProgressDisplay(ctx.io.err);
  const meter = new ProgressMeter();
  let readError: unknown;

  // Read the file chunk by chunk as fetch sends it: memory stays flat whatever the size.
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let sent = 0;
    try {
      for await (const chunk of file.createReadStream() as AsyncIterable<Buffer>) {
        sent += chunk.length;
        if (size >= UPLOAD_PROGRESS_MIN_BYTES) {
          meter.record(sent, ctx.io.err.now());
          display.update({
            label: 'uploading',
            done: sent,
            total: size,
            unit: BYTES,
            rate: meter.rate(),
            eta: meter.eta(size),
          });
        }
        yield chunk;
      }
    } catch (err) {
      readError = err;
      throw err;
    }
  }

  let answer;
  try {
    answer = await ctx.client.postCsv<SettlementAccepted>(
      '/v1/settlements',
      chunks(),
      cmd.idempotencyKey === undefined ? {} : { 'Idempotency-Key': cmd.idempotencyKey },
    );
  } catch (err) {
    // A read error surfaces from fetch like a network error; name the file instead of blaming the API.
    if (readError !== undefined) throw new CliUsageError(`cannot read ${cmd.file}: ${describe(readError)}`);
    throw err;
  } finally {
    display.finish();
    await file.close().catch(() => undefined);
  }

  const accepted = answer.body;
  const created = answer.status === 202;
  if (!cmd.wait) {
    print(ctx, accepted, (a) => formatAccepted(a, created, followHint(a.batchId)));
    return 0;
  }
  ctx.io.err.write(
    created
      ? `Batch ${accepted.batchId}: ${grouped(accepted.records ?? 0)} records staged, ` +
          `${grouped(accepted.rejected ?? 0)} rejected at staging.\n`
      : `Batch ${accepted.batchId} was submitted before; it is applied once. Its report:\n`,
  );
  return follow(ctx, accepted.batchId);
}

async function openCsv(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new CliUsageError(`cannot read ${file}: ${describe(err)}`);
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new CliUsageError(`${file} is not a file`);
  }
  return handle;
}

const grouped = (n: number): string => n.toLocaleString('en-AU');

const describe = (err: unknown): string => {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' ? e.code : String(e.message ?? err);
};

async function batch(ctx: Ctx, batchId: string, wait: boolean): Promise<number> {
  if (wait) return follow(ctx, batchId);
  const report = await ctx.client.get<SettlementReport>(batchPath(batchId));
  return printBatch(ctx, report);
}

const batchPath = (batchId: string) => `/v1/settlements/${segment(batchId)}`;

/** Polls the batch with a progress bar until it is COMPLETED or FAILED, then prints its report. */
async function follow(ctx: Ctx, batchId: string): Promise<number> {
  const report = await followProgress(
    ctx,
    () => ctx.client.get<SettlementReport>(batchPath(batchId)),
    (r) => ({ label: 'settling', done: r.processed, total: r.records, unit: RECORDS, finished: r.state !== 'RUNNING' }),
    `stopped following batch ${batchId}; it keeps running on the server. Follow it again: ${followHint(batchId)}`,
  );
  return printBatch(ctx, report);
}

/**
 * Asks for `get()` every POLL_INTERVAL_MS with a progress bar until it says it is finished; Ctrl-C stops following
 * (with `interrupted` as the message), never the work on the server.
 */
async function followProgress<T>(
  ctx: Ctx,
  get: () => Promise<T>,
  progress: (r: T) => { label: string; done: number; total: number; unit: typeof RECORDS; finished: boolean },
  interrupted: string,
): Promise<T> {
  const display = new ProgressDisplay(ctx.io.err);
  const meter = new ProgressMeter();
  const pause = async () => {
    try {
      await sleep(POLL_INTERVAL_MS, undefined, { signal: ctx.io.signal });
    } catch {
      throw new InterruptedError(interrupted);
    }
  };
  try {
    for (;;) {
      const report = await get();
      const p = progress(report);
      // Nothing to measure before a bulk operation has its snapshot: no bar claiming 100 % of 0 meanwhile.
      if (p.total > 0 || p.finished) {
        meter.record(p.done, ctx.io.err.now());
        display.update({
          label: p.label,
          done: p.done,
          total: p.total,
          unit: p.unit,
          rate: meter.rate(),
          eta: meter.eta(p.total),
        });
      }
      if (p.finished) return report;
      await pause();
    }
  } finally {
    display.finish();
  }
}

function printBatch(ctx: Ctx, report: SettlementReport): number {
  print(ctx, report, formatSettlementReport);
  if (report.state !== 'FAILED') return 0;
  ctx.io.err.write(`error: settlement batch ${report.batchId} FAILED${report.failure ? `: ${report.failure}` : ''}\n`);
  return 1;
}

export const followOperationHint = (operationId: string): string => `npm run cli -- operation ${operationId} --wait`;

async function operate(ctx: Ctx, cmd: Extract<Command, { name: 'operate' }>): Promise<number> {
  const headers: Record<string, string> = {
    ...(cmd.callerId ? { 'X-Caller-Id': cmd.callerId } : {}),
    ...(cmd.idempotencyKey ? { 'Idempotency-Key': cmd.idempotencyKey } : {}),
  };
  const { status, body } = await ctx.client.postJson<OperationDryRun | { operationId: string; state: string }>(
    '/v1/operations',
    cmd.request,
    headers,
  );
  if ('dryRun' in body) return show(ctx, body, (b) => formatDryRun(b, cmd.request.action));
  const { operationId } = body;
  if (!cmd.wait) {
    const again = status === 200 ? ' (started before with this Idempotency-Key; it runs once)' : '';
    print(ctx, body, () => `Operation ${operationId} started${again}. Follow it: ${followOperationHint(operationId)}`);
    return 0;
  }
  ctx.io.err.write(
    status === 200
      ? `Operation ${operationId} was started before with this Idempotency-Key; it runs once. Its progress:\n`
      : `Operation ${operationId} started.\n`,
  );
  return followOperation(ctx, operationId);
}

const operationPath = (operationId: string) => `/v1/operations/${segment(operationId)}`;
const getOperation = (ctx: Ctx, operationId: string) => ctx.client.get<OperationReport>(operationPath(operationId));

/** Polls the operation with a progress bar until it is COMPLETED or FAILED, then prints its counts. */
async function followOperation(ctx: Ctx, operationId: string): Promise<number> {
  const report = await followProgress(
    ctx,
    () => getOperation(ctx, operationId),
    (r) => ({
      label: r.state === 'SELECTING' ? 'selecting' : 'operating',
      done: r.processed,
      total: r.selected,
      unit: MEMBERS,
      finished: r.state === 'COMPLETED' || r.state === 'FAILED',
    }),
    `stopped following operation ${operationId}; it keeps running on the server. Follow it again: ${followOperationHint(operationId)}`,
  );
  return printOperation(ctx, report);
}

function printOperation(ctx: Ctx, report: OperationReport): number {
  print(ctx, report, formatOperation);
  if (report.state !== 'FAILED') return 0;
  ctx.io.err.write(`error: operation ${report.operationId} FAILED${report.failure ? `: ${report.failure}` : ''}\n`);
  return 1;
}

/** Failures kept to print by member id; the rest are counted (memory stays flat on a campaign of any size). */
export const MAX_LISTED_FAILURES = 1_000;

/**
 * Walks the campaign's decided enrollments page by page (keyset: the last member id), proving each; one page in
 * memory at a time. Ctrl-C stops with what was verified so far. Exit 1 when any enrollment failed its proof.
 */
async function verify(ctx: Ctx, campaignId: string, pageSize: number): Promise<number> {
  const display = new ProgressDisplay(ctx.io.err);
  const meter = new ProgressMeter();
  const v: Verification = {
    campaignId,
    total: 0,
    checked: 0,
    verified: 0,
    divergent: 0,
    brokenChains: 0,
    failures: [],
  };
  let after: string | undefined;
  try {
    for (;;) {
      const query = `limit=${pageSize}${after !== undefined ? `&after=${encodeURIComponent(after)}` : ''}`;
      let page: ProofPage;
      try {
        page = await ctx.client.get<ProofPage>(`/v1/campaigns/${segment(campaignId)}/proofs?${query}`);
      } catch (err) {
        if (err instanceof InterruptedError) {
          throw new InterruptedError(
            `stopped verifying ${campaignId} after ${v.checked.toLocaleString('en-AU')} of ${v.total.toLocaleString('en-AU')} enrollments (${v.divergent + v.brokenChains} failed so far)`,
          );
        }
        throw err;
      }
      if (page.total !== undefined) v.total = page.total;
      for (const item of page.items) {
        v.checked += 1;
        if (item.verified) v.verified += 1;
        else if (!item.chainIntact) v.brokenChains += 1;
        else v.divergent += 1;
        if (!item.verified && v.failures.length < MAX_LISTED_FAILURES) {
          v.failures.push({ memberId: item.memberId, state: item.state, problem: item.problem ?? 'not verified' });
        }
      }
      // Enrollments decided while the walk runs may push the count past the first page's total.
      v.total = Math.max(v.total, v.checked);
      meter.record(v.checked, ctx.io.err.now());
      display.update({
        label: 'verifying',
        done: v.checked,
        total: v.total,
        unit: ENROLLMENTS,
        rate: meter.rate(),
        eta: meter.eta(v.total),
      });
      if (page.next === undefined) break;
      after = page.next;
    }
  } finally {
    display.finish();
  }
  print(ctx, v, formatVerification);
  return v.divergent + v.brokenChains > 0 ? 1 : 0;
}

type Frame<R> =
  | { progress: { done: number; total: number } }
  | { result: R }
  | { error: { code: string; message: string; details?: unknown[] } };

/**
 * Asks for a long read of a campaign as a stream (application/x-ndjson): a progress line per page (the bar on stderr),
 * then the result. Ctrl-C hangs up, which stops the work on the server too.
 */
async function streamed<R>(
  ctx: Ctx,
  path: string,
  request: unknown,
  show: { label: string; unit: Unit; stopped: (done: number) => string },
): Promise<R> {
  const display = new ProgressDisplay(ctx.io.err);
  const meter = new ProgressMeter();
  let result: R | undefined;
  let failure: Frame<R> | undefined;
  let done = 0;
  try {
    await ctx.client.postJsonLines(path, request, (line) => {
      const frame = line as Frame<R>;
      if ('progress' in frame) {
        done = frame.progress.done;
        meter.record(done, ctx.io.err.now());
        display.update({
          label: show.label,
          done,
          total: frame.progress.total,
          unit: show.unit,
          rate: meter.rate(),
          eta: meter.eta(frame.progress.total),
        });
      } else if ('result' in frame) result = frame.result;
      else failure = frame;
    });
  } catch (err) {
    if (err instanceof InterruptedError) throw new InterruptedError(show.stopped(done));
    throw err;
  } finally {
    display.finish();
  }
  if (failure && 'error' in failure) {
    throw new ApiCallError(200, { details: [], ...failure.error }, failure);
  }
  if (!result) throw new Error(`the ${show.label} stream ended without a result`);
  return result;
}

/** The backtest, streamed. Exit 1 when the replay did not reach every recorded verdict. */
async function backtest(ctx: Ctx, campaignId: string, request: BacktestRequest): Promise<number> {
  const result = await streamed<Backtest>(ctx, `/v1/campaigns/${segment(campaignId)}/backtest`, request, {
    label: 'backtesting',
    unit: ENROLLMENTS,
    stopped: (done) => `stopped backtesting ${campaignId} after ${done.toLocaleString('en-AU')} enrollments`,
  });
  print(ctx, result, formatBacktest);
  return result.reproduction.disagree > 0 ? 1 : 0;
}

/**
 * Every piece of news the campaign accepted, held against what its enrollment applied; with `repair`, the missing is
 * delivered again. Exit 1 when anything was missing (repaired or not: something lost news, and someone should know).
 */
async function reconcile(
  ctx: Ctx,
  campaignId: string,
  request: { repair: boolean; settleSeconds?: number },
): Promise<number> {
  const result = await streamed<Reconciliation>(ctx, `/v1/campaigns/${segment(campaignId)}/reconcile`, request, {
    label: 'reconciling',
    unit: NEWS,
    stopped: (done) => `stopped reconciling ${campaignId} after ${done.toLocaleString('en-AU')} pieces of news`,
  });
  print(ctx, result, formatReconciliation);
  return result.missing > 0 ? 1 : 0;
}

/** Makes the campaign's stored ledgers whole (a one-off after upgrading past safe-seams); prints what it repaired. */
async function repairLedgers(ctx: Ctx, campaignId: string): Promise<number> {
  const result = await streamed<LedgerRepair>(
    ctx,
    `/v1/campaigns/${segment(campaignId)}/ledgers/repair`,
    {},
    {
      label: 'repairing',
      unit: ENROLLMENTS,
      stopped: (done) =>
        `stopped repairing the ledgers of ${campaignId} after ${done.toLocaleString('en-AU')} enrollments`,
    },
  );
  print(ctx, result, formatLedgerRepair);
  return 0;
}

/** Silence on a member stream this long (no event, no heartbeat: the API sends one every 15 s) is a broken stream. */
const WATCH_IDLE_MS = 60_000;
/** How long `watch` waits before it opens a broken stream again. */
const WATCH_RECONNECT_MS = 2_000;

class FinalReached extends Error {}

/**
 * Follows a member's stream, a line per version of its view; a stream that breaks (the API restarted, a proxy cut it)
 * is opened again with the last version seen, as an EventSource would. Ctrl-C ends it (exit 130); with
 * `--until-final`, the first view in a final state does (exit 0).
 */
async function watch(ctx: Ctx, campaignId: string, memberId: string, untilFinal: boolean): Promise<number> {
  const path = `/v1/campaigns/${segment(campaignId)}/members/${segment(memberId)}/events`;
  let lastEventId: string | undefined;
  for (;;) {
    try {
      await ctx.client.events(path, { ...(lastEventId ? { lastEventId } : {}), idleTimeoutMs: WATCH_IDLE_MS }, (e) => {
        if (e.event !== 'member') return;
        if (e.id !== undefined) lastEventId = e.id;
        const view = JSON.parse(e.data) as MemberView;
        ctx.io.out(`${ctx.json ? JSON.stringify(view) : formatWatchLine(view, e.id, Date.now())}\n`);
        if (untilFinal && TERMINAL_STATES.includes(view.state)) throw new FinalReached();
      });
    } catch (err) {
      if (err instanceof FinalReached) return 0;
      if (err instanceof InterruptedError) throw new InterruptedError(`stopped watching ${memberId}`);
      const away = err instanceof UnreachableError || (err instanceof ApiCallError && err.status === 503);
      if (!away) throw err;
    }
    ctx.io.err.write(`the stream of ${memberId} broke; opening it again in ${WATCH_RECONNECT_MS / 1000} s…\n`);
    try {
      await sleep(WATCH_RECONNECT_MS, undefined, { signal: ctx.io.signal });
    } catch {
      throw new InterruptedError(`stopped watching ${memberId}`);
    }
  }
}
