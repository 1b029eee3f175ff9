/**
 * POST /v1/campaigns/{id}/ledgers/repair: the stored ledgers made whole again. Before the patch safe-seams, a record
 * that landed after another with the same version lost its ledger entries for good (docs/versioning.md), so a stored
 * ledger could lack loads its member view counts: the explanation, the report and the backtest of an open enrollment
 * read it. This walks a campaign's enrollments a page at a time and holds each stored ledger against the truth: for an
 * enrollment with its verdict, the news its audit trail received, applied in order through the rules' own ledger (the
 * trail is complete by then: the verdict's record writes it all); for an open one whose stored ledger does not add up
 * to its member view, the run's own ledger. Entries that differ are written, entries the truth lacks are removed. Run
 * once after the deploy (and again whenever wanted: a ledger that is whole is left alone).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { inTransaction, type Db } from '../db/pool';
import { sameValue } from '../domain/canonical';
import { totals } from '../domain/evaluation';
import { ledgerOfNews, type Ledger, type LedgerEntry } from '../domain/ledger';
import { hasVerdict, type ActivationState, type TransactionEvent } from '../domain/model';
import type { EnrollmentSchedule } from '../domain/terms';
import { ledgerQuery } from '../workflows/messages';
import { CallerGone } from './errors';
import type { ReconcileDeps } from './reconcile';

/** Enrollments per page. */
export const LEDGER_PAGE = 500;

export interface LedgerRepairProgress {
  done: number;
  total: number;
  repaired: number;
}

export interface LedgerRepairReport {
  campaignId: string;
  /** Enrollments looked at. */
  checked: number;
  /** Enrollments whose stored ledger was not the truth, and was made so. */
  repaired: number;
  /** Entries written (missing or different) and removed (the truth lacks them), over all enrollments. */
  entriesWritten: number;
  entriesRemoved: number;
  /**
   * Enrollments left for the next run: an open one whose run could not be asked (closed meanwhile), or one that recorded
   * something while it was being repaired.
   */
  skipped: number;
  /** The first 1,000 repaired, by member id. */
  members: { memberId: string; state: ActivationState; written: number; removed: number }[];
  durationMs: number;
}

interface Row {
  workflow_id: string;
  member_id: string;
  state: ActivationState;
  enrolled_at: Date;
  window_ends_at: Date;
  evaluates_at: Date;
  counted_cents: number;
  instant_cents: number;
  settled_cents: number;
  pending_cents: number;
  version: number;
}

const LISTED = 1_000;

/** Whether the stored ledger adds up to what the member view says (the explanation would agree with the balance). */
const addsUp = (ledger: Ledger, r: Row): boolean => {
  const schedule: EnrollmentSchedule = {
    enrolledAt: r.enrolled_at.toISOString(),
    windowEndsAt: r.window_ends_at.toISOString(),
    evaluatesAt: r.evaluates_at.toISOString(),
  };
  const t = totals(ledger, schedule);
  return (
    t.countedCents === r.counted_cents &&
    t.instantCents === r.instant_cents &&
    t.settledCents === r.settled_cents &&
    t.pendingCents === r.pending_cents
  );
};

const same = (a: LedgerEntry, b: LedgerEntry): boolean => sameValue(a, b);

export async function repairLedgers(
  deps: ReconcileDeps,
  campaignId: string,
  opts: { signal?: AbortSignal; onProgress?: (p: LedgerRepairProgress) => void } = {},
): Promise<LedgerRepairReport> {
  const started = Date.now();
  const { db } = deps;
  const { rows: count } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM enrollments WHERE campaign_id = $1',
    [campaignId],
  );
  const report: LedgerRepairReport = {
    campaignId,
    checked: 0,
    repaired: 0,
    entriesWritten: 0,
    entriesRemoved: 0,
    skipped: 0,
    members: [],
    durationMs: 0,
  };
  opts.onProgress?.({ done: 0, total: count[0].n, repaired: 0 });
  let after: string | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new CallerGone('ledger repair');
    const { rows } = await db.query<Row>(
      `SELECT workflow_id, member_id, state, enrolled_at, window_ends_at, evaluates_at, counted_cents, instant_cents,
              settled_cents, pending_cents, version
       FROM enrollments WHERE campaign_id = $1 AND ($2::text IS NULL OR member_id > $2) ORDER BY member_id LIMIT $3`,
      [campaignId, after ?? null, LEDGER_PAGE],
    );
    if (rows.length === 0) break;
    const ids = rows.map((r) => r.workflow_id);
    const stored = new Map<string, Ledger>(ids.map((id) => [id, {}]));
    const { rows: entries } = await db.query<{ workflow_id: string; transaction_id: string; entry: LedgerEntry }>(
      'SELECT workflow_id, transaction_id, entry FROM ledger_entries WHERE workflow_id = ANY($1::text[])',
      [ids],
    );
    for (const e of entries) stored.get(e.workflow_id)![e.transaction_id] = e.entry;
    const decided = rows.filter((r) => hasVerdict(r.state)).map((r) => r.workflow_id);
    const news = new Map<string, TransactionEvent[]>();
    if (decided.length > 0) {
      const { rows: lines } = await db.query<{ workflow_id: string; event: TransactionEvent }>(
        `SELECT workflow_id, payload->'event' AS event FROM audit_events
         WHERE workflow_id = ANY($1::text[]) AND type = 'TRANSACTION_RECEIVED' ORDER BY workflow_id, id`,
        [decided],
      );
      for (const l of lines) news.set(l.workflow_id, [...(news.get(l.workflow_id) ?? []), l.event]);
    }
    for (const r of rows) {
      const have = stored.get(r.workflow_id)!;
      let truth: Ledger | undefined;
      if (hasVerdict(r.state)) {
        truth = ledgerOfNews(news.get(r.workflow_id) ?? []);
      } else if (!addsUp(have, r)) {
        try {
          truth = await deps.call(() => deps.temporal.workflow.getHandle(r.workflow_id).query(ledgerQuery));
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          report.skipped += 1;
        }
      }
      if (truth) {
        const write = Object.values(truth).filter((e) => !have[e.transactionId] || !same(have[e.transactionId], e));
        const remove = Object.keys(have).filter((id) => !truth[id]);
        if (write.length > 0 || remove.length > 0) {
          if (!(await writeLedger(db, r, write, remove))) {
            report.skipped += 1;
            report.checked += 1;
            continue;
          }
          report.repaired += 1;
          report.entriesWritten += write.length;
          report.entriesRemoved += remove.length;
          if (report.members.length < LISTED) {
            report.members.push({
              memberId: r.member_id,
              state: r.state,
              written: write.length,
              removed: remove.length,
            });
          }
        }
      }
      report.checked += 1;
    }
    after = rows[rows.length - 1].member_id;
    opts.onProgress?.({ done: report.checked, total: Math.max(count[0].n, report.checked), repaired: report.repaired });
    if (rows.length < LEDGER_PAGE) break;
  }
  report.durationMs = Date.now() - started;
  return report;
}

/**
 * Writes the repair, unless the enrollment recorded something since its row was read (its record holds the row's lock
 * while it writes, and its version moves): then the truth read may be older than what is stored, and the repair waits
 * for the next run. False when it was left alone.
 */
async function writeLedger(db: Db, r: Row, write: LedgerEntry[], remove: string[]): Promise<boolean> {
  return inTransaction(db, async (client) => {
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM enrollments WHERE workflow_id = $1 FOR UPDATE',
      [r.workflow_id],
    );
    if (rows[0]?.version !== r.version) return false;
    if (write.length > 0) {
      await client.query(
        `INSERT INTO ledger_entries (workflow_id, transaction_id, entry)
         SELECT $1, e->>'transactionId', e FROM jsonb_array_elements($2::jsonb) AS e
         ON CONFLICT (workflow_id, transaction_id) DO UPDATE SET entry = EXCLUDED.entry, updated_at = now()`,
        [r.workflow_id, JSON.stringify(write)],
      );
    }
    if (remove.length > 0) {
      await client.query('DELETE FROM ledger_entries WHERE workflow_id = $1 AND transaction_id = ANY($2::text[])', [
        r.workflow_id,
        remove,
      ]);
    }
    return true;
  });
}
