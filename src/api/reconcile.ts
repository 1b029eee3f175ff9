/**
 * POST /v1/campaigns/{id}/reconcile: every piece of news the campaign's enrollments were sent (db/accepted-news.ts),
 * held against what each enrollment applied (domain/reconcile.ts): its stored ledger first (one query a page), then,
 * for what the ledger does not account for, its audit trail, then, for an enrollment whose run is still open, the run
 * itself (its explanation query: the ledger as the run holds it). What none of them accounts for is missing; with
 * `repair` it is delivered again on the one delivery path (a signal to an open run, late news for a closed one), which
 * counts it once however often it comes. A page of news in memory at a time, and at most MISSING_LISTED missing ones
 * listed, so a million enrollments take the memory a thousand do.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { signalNews } from '../activities/delivery';
import {
  acceptedPage,
  countAccepted,
  entriesOf,
  newsInTrails,
  recordReconciliation,
  type AcceptedCursor,
  type AcceptedNews,
} from '../db/accepted-news';
import type { Db } from '../db/pool';
import type { Explanation } from '../domain/evaluation';
import type { LedgerEntry } from '../domain/ledger';
import type { ActivationState } from '../domain/model';
import { accountedFor } from '../domain/reconcile';
import { explanationQuery } from '../workflows/messages';
import { CallerGone } from './errors';

/** Pieces of news per page: a few hundred kilobytes of events. */
export const RECONCILE_PAGE = 1_000;
/** Missing news listed in the answer at most (all of it is counted, and repaired with `repair`). */
export const MISSING_LISTED = 1_000;
/**
 * News heard this recently may still be on its way into its enrollment's records (a record lands within milliseconds,
 * a settlement chunk within seconds): it is checked by the next run, not reported now.
 */
export const RECONCILE_SETTLE_MS = 60_000;

export interface ReconcileRequest {
  /** Deliver every missing piece of news again (it counts once). */
  repair?: boolean;
  /** News heard this many seconds before the start or later is left for the next run (default 60). */
  settleSeconds?: number;
}

export interface MissingNews {
  campaignId: string;
  memberId: string;
  workflowId: string;
  transactionId: string;
  source: 'REALTIME' | 'SETTLEMENT';
  kind: string;
  status?: string;
  amountCents: number;
  heardAt: string;
  batchId?: string;
  /** With `repair`: delivered again. */
  repaired?: boolean;
}

export interface ReconcileProgress {
  done: number;
  total: number;
  missing: number;
}

export interface ReconcileReport {
  campaignId: string;
  startedAt: string;
  finishedAt: string;
  /** News heard up to this time was checked (`settleSeconds`, by default RECONCILE_SETTLE_MS, before the start). */
  until: string;
  repair: boolean;
  /** Pieces of news checked (one per enrollment it was sent to). */
  checked: number;
  missing: number;
  repaired: number;
  /** The first MISSING_LISTED missing, in enrollment order. */
  missingNews: MissingNews[];
  durationMs: number;
}

export interface ReconcileDeps {
  db: Db;
  temporal: Client;
  /** Wraps each Temporal call (the API gives each a deadline). */
  call: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The run's own ledger, from its explanation (every entry is in it, counted or excluded), or undefined if closed. */
async function runLedger(deps: ReconcileDeps, workflowId: string): Promise<Map<string, LedgerEntry> | undefined> {
  try {
    const x: Explanation = await deps.call(() => deps.temporal.workflow.getHandle(workflowId).query(explanationQuery));
    const entries = [...x.counted, ...x.excluded, ...(x.disqualifiedBy ? [x.disqualifiedBy] : [])];
    return new Map(entries.map((e) => [e.transactionId, e as unknown as LedgerEntry]));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The news of `page` that no record of its enrollment accounts for. */
async function missingOf(deps: ReconcileDeps, page: readonly AcceptedNews[]): Promise<AcceptedNews[]> {
  const stored = await entriesOf(
    deps.db,
    page.map((n) => ({ workflowId: n.workflowId, transactionId: n.event.transactionId })),
  );
  const entry = (n: AcceptedNews) => stored.get(`${n.workflowId} ${n.event.transactionId}`);
  const none = new Set<string>();
  let candidates = page.filter((n) => !accountedFor(n.event, entry(n), none));
  if (candidates.length === 0) return [];
  const trails = await newsInTrails(
    deps.db,
    candidates.map((n) => n.workflowId),
    candidates.map((n) => n.event.transactionId),
  );
  candidates = candidates.filter((n) => !accountedFor(n.event, entry(n), trails.get(n.workflowId) ?? none));
  if (candidates.length === 0) return [];
  // What is left may be in a run that has not recorded it yet: the run says what it holds.
  const runs = new Map<string, Map<string, LedgerEntry> | undefined>();
  for (const workflowId of new Set(candidates.map((n) => n.workflowId))) {
    runs.set(workflowId, await runLedger(deps, workflowId));
  }
  return candidates.filter((n) => {
    const held = runs.get(n.workflowId);
    return !held || !accountedFor(n.event, held.get(n.event.transactionId), trails.get(n.workflowId) ?? none);
  });
}

const described = (n: AcceptedNews): MissingNews => ({
  campaignId: n.campaignId,
  memberId: n.memberId,
  workflowId: n.workflowId,
  transactionId: n.event.transactionId,
  source: n.event.source,
  kind: n.event.kind,
  ...(n.event.status ? { status: n.event.status } : {}),
  amountCents: n.event.amountCents,
  heardAt: n.heardAt,
  ...(n.event.batchId ? { batchId: n.event.batchId } : {}),
});

export async function runReconcile(
  deps: ReconcileDeps,
  campaignId: string,
  request: ReconcileRequest,
  opts: { signal?: AbortSignal; onProgress?: (p: ReconcileProgress) => void; now?: Date } = {},
): Promise<ReconcileReport> {
  const started = opts.now ?? new Date();
  const settleMs = request.settleSeconds === undefined ? RECONCILE_SETTLE_MS : request.settleSeconds * 1_000;
  const until = new Date(started.getTime() - settleMs).toISOString();
  const repair = request.repair === true;
  const total = await countAccepted(deps.db, campaignId, until);
  const listed: MissingNews[] = [];
  let done = 0;
  let missing = 0;
  let repaired = 0;
  opts.onProgress?.({ done, total, missing });

  let after: AcceptedCursor | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new CallerGone('reconciliation');
    const page = await acceptedPage(deps.db, campaignId, until, after, RECONCILE_PAGE);
    if (page.length === 0) break;
    for (const n of await missingOf(deps, page)) {
      missing += 1;
      let delivered = false;
      if (repair) {
        const { rows } = await deps.db.query<{ state: ActivationState }>(
          'SELECT state FROM enrollments WHERE workflow_id = $1',
          [n.workflowId],
        );
        await signalNews(deps, { ...n, state: rows[0]?.state ?? 'ENROLLED' }, n.event);
        delivered = true;
        repaired += 1;
      }
      if (listed.length < MISSING_LISTED) listed.push({ ...described(n), ...(repair ? { repaired: delivered } : {}) });
    }
    done += page.length;
    opts.onProgress?.({ done, total: Math.max(total, done), missing });
    const last = page[page.length - 1];
    after = { workflowId: last.workflowId, newsKey: last.newsKey };
    if (page.length < RECONCILE_PAGE) break;
  }
  const finishedAt = new Date();
  await recordReconciliation(deps.db, {
    campaignId,
    startedAt: started.toISOString(),
    checked: done,
    missing,
    repaired,
    repair,
  });
  return {
    campaignId,
    startedAt: started.toISOString(),
    finishedAt: finishedAt.toISOString(),
    until,
    repair,
    checked: done,
    missing,
    repaired,
    missingNews: listed,
    durationMs: finishedAt.getTime() - started.getTime(),
  };
}
