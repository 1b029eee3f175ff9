/**
 * Settlement files in PostgreSQL: staged line by line as they stream in, then applied by the batch workflow, whose
 * checkpoint is each line's `outcome`.
 */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import {
  isSettlementHeader,
  parseSettlementLine,
  SETTLEMENT_HEADER,
  type LineOutcome,
  type SettlementRecord,
} from '../domain/settlement';
import type { Db } from './pool';
import type { Queryable } from './queryable';

/** Lines written per INSERT while staging. */
const STAGE_CHUNK = 2_000;
/** Rejected lines listed in a batch report; the counts always cover all of them. */
export const REJECTED_LISTED = 1_000;

export type BatchState = 'RUNNING' | 'COMPLETED' | 'FAILED';

export class SettlementFileError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/**
 * `EXISTS`: a batch with this id was staged before; `sameBody` says whether it was this very file (a repeat, applied
 * once) or another one under the same Idempotency-Key (refused: the second file would otherwise vanish unapplied).
 */
export type StageResult =
  | { outcome: 'STAGED'; batchId: string; records: number; rejected: number }
  | { outcome: 'EXISTS'; batchId: string; sameBody: boolean };

/** The SHA-256 of a batch's file, or undefined when there is no such batch. */
export async function batchDigest(db: Queryable, batchId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ sha256: string }>(
    `SELECT sha256 FROM settlement_batches WHERE batch_id = $1 AND state <> 'RECEIVING'`,
    [batchId],
  );
  return rows[0]?.sha256;
}

/** The SHA-256 of a whole body, read as a stream (constant memory). */
export async function digestOf(body: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Streams a CSV body into the staging table in one transaction: constant memory whatever the size. The batch id
 * is `idempotencyKey` if given, else the SHA-256 of the body; when that batch already exists, nothing is kept.
 * A missing or wrong header rejects the whole file (SettlementFileError); a bad data line is staged as rejected,
 * with its reason, and never stops the rest.
 */
export async function stageSettlementFile(
  pool: Db,
  body: Readable,
  opts: { idempotencyKey?: string; submittedBy?: string; now?: () => number },
): Promise<StageResult> {
  const now = opts.now ?? Date.now;
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  body.on('error', (err) => hashing.destroy(err));
  let lines: ReturnType<typeof createInterface> | undefined;

  let staged: StageResult | undefined;
  let batchId = '';
  let sha256 = '';
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ batch_pk: number }>(
      `INSERT INTO settlement_batches (batch_id, state, submitted_by) VALUES ($1, 'RECEIVING', $2) RETURNING batch_pk`,
      [`receiving:${process.pid}:${Date.now()}:${Math.random().toString(36).slice(2)}`, opts.submittedBy ?? null],
    );
    const batchPk = rows[0].batch_pk;

    let lineNo = 0;
    let records = 0;
    let rejected = 0;
    let buf: { line: number; memberId: string | null; record: SettlementRecord | null; reason: string | null }[] = [];
    const flush = async () => {
      if (buf.length === 0) return;
      const batch = buf;
      buf = [];
      await client.query(
        `INSERT INTO settlement_records (batch_pk, line, member_id, record, reason, outcome)
         SELECT $1, t.line, t.member_id, t.record, t.reason, CASE WHEN t.reason IS NULL THEN NULL ELSE 'REJECTED' END
         FROM unnest($2::int[], $3::text[], $4::jsonb[], $5::text[]) AS t(line, member_id, record, reason)`,
        [
          batchPk,
          batch.map((b) => b.line),
          batch.map((b) => b.memberId),
          batch.map((b) => (b.record ? JSON.stringify(b.record) : null)),
          batch.map((b) => b.reason),
        ],
      );
    };

    // Created only now: readline starts reading at once, and lines read before the loop would be lost.
    lines = createInterface({ input: body.pipe(hashing), crlfDelay: Infinity });
    for await (const raw of lines) {
      lineNo += 1;
      if (lineNo === 1) {
        if (!isSettlementHeader(raw)) {
          throw new SettlementFileError(`line 1 must be the header "${SETTLEMENT_HEADER}"`, 1);
        }
        continue;
      }
      if (raw.trim() === '') continue; // blank lines (a trailing newline) are not records
      records += 1;
      const parsed = parseSettlementLine(raw, now());
      if (parsed.ok) buf.push({ line: lineNo, memberId: parsed.record.memberId, record: parsed.record, reason: null });
      else {
        rejected += 1;
        buf.push({ line: lineNo, memberId: null, record: null, reason: parsed.reason });
      }
      if (buf.length >= STAGE_CHUNK) await flush();
    }
    if (lineNo === 0) throw new SettlementFileError(`the file is empty: expected the header "${SETTLEMENT_HEADER}"`);
    await flush();

    sha256 = hash.digest('hex');
    batchId = opts.idempotencyKey ?? sha256;
    try {
      await client.query(
        `UPDATE settlement_batches SET batch_id = $2, state = 'RUNNING', records = $3, sha256 = $4, started_at = now()
         WHERE batch_pk = $1`,
        [batchPk, batchId, records, sha256],
      );
      staged = { outcome: 'STAGED', batchId, records, rejected };
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
    }
    await client.query(staged ? 'COMMIT' : 'ROLLBACK');
    client.release();
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    // Destroyed, not returned: after a timed-out statement the ROLLBACK may not have reached the server.
    client.release(err instanceof Error ? err : new Error(String(err)));
    lines?.close();
    body.resume();
    throw err;
  }
  return staged ?? { outcome: 'EXISTS', batchId, sameBody: (await batchDigest(pool, batchId)) === sha256 };
}

export interface StagedRecord {
  line: number;
  record: SettlementRecord;
}

/**
 * The next lines still to apply, member by member and in file order within a member: a chunk holds few members
 * with many lines each, so each member workflow takes its lines in one update.
 */
export async function nextRecords(db: Queryable, batchId: string, limit: number): Promise<StagedRecord[]> {
  // By batch_pk, so the partial index (batch_pk, member_id, line) WHERE outcome IS NULL serves the order and the
  // limit: no sort of the remaining lines (a million of them, at the start of a big file) for every chunk.
  const { rows } = await db.query<{ line: number; record: SettlementRecord }>(
    `SELECT line, record FROM settlement_records
     WHERE batch_pk = (SELECT batch_pk FROM settlement_batches WHERE batch_id = $1) AND outcome IS NULL
     ORDER BY member_id, line LIMIT $2`,
    [batchId, limit],
  );
  return rows;
}

export interface LineResult {
  line: number;
  outcome: LineOutcome;
  returned: boolean;
  reason?: string;
}

/** Records how lines ended up: the checkpoint. A line already recorded keeps its first outcome. */
export async function recordOutcomes(db: Queryable, batchId: string, results: readonly LineResult[]): Promise<void> {
  if (results.length === 0) return;
  await db.query(
    `UPDATE settlement_records r SET outcome = t.outcome, returned = t.returned, reason = t.reason, applied_at = now()
     FROM settlement_batches b, unnest($2::int[], $3::text[], $4::bool[], $5::text[]) AS t(line, outcome, returned, reason)
     WHERE b.batch_id = $1 AND r.batch_pk = b.batch_pk AND r.line = t.line AND r.outcome IS NULL`,
    [
      batchId,
      results.map((r) => r.line),
      results.map((r) => r.outcome),
      results.map((r) => r.returned),
      results.map((r) => r.reason ?? null),
    ],
  );
}

export async function finishBatch(db: Queryable, batchId: string, failure?: string): Promise<void> {
  await db.query(
    `UPDATE settlement_batches SET state = $2, failure = $3, completed_at = COALESCE(completed_at, now())
     WHERE batch_id = $1 AND state = 'RUNNING'`,
    [batchId, failure ? 'FAILED' : 'COMPLETED', failure ?? null],
  );
}

export interface BatchReport {
  batchId: string;
  state: BatchState;
  records: number;
  /** Lines with an outcome so far (progress; equals `records` once COMPLETED). */
  processed: number;
  applied: number;
  duplicates: number;
  returned: number;
  noEnrollment: number;
  late: number;
  rejected: { line: number; reason: string }[];
  rejectedCount: number;
  startedAt: string;
  completedAt?: string;
  failure?: string;
}

export async function batchReport(db: Queryable, batchId: string): Promise<BatchReport | undefined> {
  const { rows } = await db.query<{
    batch_pk: number;
    state: BatchState | 'RECEIVING';
    records: number;
    started_at: Date;
    completed_at: Date | null;
    failure: string | null;
  }>('SELECT batch_pk, state, records, started_at, completed_at, failure FROM settlement_batches WHERE batch_id = $1', [
    batchId,
  ]);
  const b = rows[0];
  if (!b || b.state === 'RECEIVING') return undefined;
  const counts = await db.query<{ outcome: LineOutcome; n: number; returned: number }>(
    `SELECT outcome, count(*)::int AS n, count(*) FILTER (WHERE returned)::int AS returned
     FROM settlement_records WHERE batch_pk = $1 AND outcome IS NOT NULL GROUP BY outcome`,
    [b.batch_pk],
  );
  const n = (o: LineOutcome) => counts.rows.find((r) => r.outcome === o)?.n ?? 0;
  const rejected = await db.query<{ line: number; reason: string }>(
    `SELECT line, reason FROM settlement_records WHERE batch_pk = $1 AND outcome = 'REJECTED' ORDER BY line LIMIT $2`,
    [b.batch_pk, REJECTED_LISTED],
  );
  return {
    batchId,
    state: b.state,
    records: b.records,
    processed: counts.rows.reduce((sum, r) => sum + r.n, 0),
    applied: n('APPLIED'),
    duplicates: n('DUPLICATE'),
    returned: counts.rows.find((r) => r.outcome === 'APPLIED')?.returned ?? 0,
    noEnrollment: n('NO_ENROLLMENT'),
    late: n('LATE'),
    rejected: rejected.rows,
    rejectedCount: n('REJECTED'),
    startedAt: b.started_at.toISOString(),
    ...(b.completed_at ? { completedAt: b.completed_at.toISOString() } : {}),
    ...(b.failure ? { failure: b.failure } : {}),
  };
}
