/**
 * The record of accepted news (migration accepted-news): each piece of news the API or the settlement batch accepted
 * for an enrollment, written before it is acknowledged or sent, and what reconciliation reads to hold it against what
 * each enrollment applied (domain/reconcile.ts).
 */
import type { LedgerEntry } from '../domain/ledger';
import type { TransactionEvent } from '../domain/model';
import { NEWS_LINE_TYPES, newsKey } from '../domain/reconcile';
import type { Queryable } from './queryable';

/** Where a piece of news was sent: an enrollment. */
export interface NewsDestination {
  campaignId: string;
  memberId: string;
  workflowId: string;
}

/**
 * Records that each of `events` was accepted for each of `destinations` (one statement). A piece of news recorded
 * before (a repost, a settlement chunk applied again) keeps its first record.
 */
export async function recordAccepted(
  db: Queryable,
  destinations: readonly NewsDestination[],
  events: readonly TransactionEvent[],
): Promise<void> {
  if (destinations.length === 0 || events.length === 0) return;
  const rows = destinations.flatMap((d) =>
    events.map((ev) => ({ ...d, newsKey: newsKey(ev), event: ev, batchId: ev.batchId ?? null })),
  );
  await db.query(
    `INSERT INTO accepted_news (workflow_id, news_key, campaign_id, member_id, transaction_id, source, kind,
                                amount_cents, event, heard_at, batch_id)
     SELECT r->>'workflowId', r->>'newsKey', r->>'campaignId', r->>'memberId', r->'event'->>'transactionId',
            r->'event'->>'source', r->'event'->>'kind', (r->'event'->>'amountCents')::bigint, r->'event',
            (r->'event'->>'receivedAt')::timestamptz, r->>'batchId'
     FROM jsonb_array_elements($1::jsonb) AS r
     ON CONFLICT (workflow_id, news_key) DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

/** One recorded piece of news, as reconciliation reads it. */
export interface AcceptedNews extends NewsDestination {
  newsKey: string;
  event: TransactionEvent;
  heardAt: string;
}

export interface AcceptedCursor {
  workflowId: string;
  newsKey: string;
}

/** How much news a campaign's enrollments were sent, heard no later than `until`. */
export async function countAccepted(db: Queryable, campaignId: string, until: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM accepted_news WHERE campaign_id = $1 AND heard_at <= $2',
    [campaignId, until],
  );
  return rows[0].n;
}

/** A page of a campaign's accepted news heard no later than `until`, after `after` (keyset: page 1,000 costs page 1's). */
export async function acceptedPage(
  db: Queryable,
  campaignId: string,
  until: string,
  after: AcceptedCursor | undefined,
  limit: number,
): Promise<AcceptedNews[]> {
  const { rows } = await db.query<{
    workflow_id: string;
    news_key: string;
    campaign_id: string;
    member_id: string;
    event: TransactionEvent;
    heard_at: Date;
  }>(
    `SELECT workflow_id, news_key, campaign_id, member_id, event, heard_at FROM accepted_news
     WHERE campaign_id = $1 AND heard_at <= $2 AND ($3::text IS NULL OR (workflow_id, news_key) > ($3, $4))
     ORDER BY workflow_id, news_key LIMIT $5`,
    [campaignId, until, after?.workflowId ?? null, after?.newsKey ?? '', limit],
  );
  return rows.map((r) => ({
    workflowId: r.workflow_id,
    newsKey: r.news_key,
    campaignId: r.campaign_id,
    memberId: r.member_id,
    event: r.event,
    heardAt: r.heard_at.toISOString(),
  }));
}

/** The stored ledger entries of these (enrollment, transaction) pairs, by `workflowId transactionId`. */
export async function entriesOf(
  db: Queryable,
  pairs: readonly { workflowId: string; transactionId: string }[],
): Promise<Map<string, LedgerEntry>> {
  if (pairs.length === 0) return new Map();
  const { rows } = await db.query<{ workflow_id: string; transaction_id: string; entry: LedgerEntry }>(
    `SELECT l.workflow_id, l.transaction_id, l.entry
     FROM unnest($1::text[], $2::text[]) AS p(workflow_id, transaction_id)
     JOIN ledger_entries l USING (workflow_id, transaction_id)`,
    [pairs.map((p) => p.workflowId), pairs.map((p) => p.transactionId)],
  );
  return new Map(rows.map((r) => [`${r.workflow_id} ${r.transaction_id}`, r.entry]));
}

/**
 * The news these enrollments' audit trails name (received, rejected, or heard late), among these transactions, as
 * news keys per enrollment.
 */
export async function newsInTrails(
  db: Queryable,
  workflowIds: readonly string[],
  transactionIds: readonly string[],
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (workflowIds.length === 0) return out;
  const { rows } = await db.query<{ workflow_id: string; event: TransactionEvent }>(
    `SELECT workflow_id, payload->'event' AS event FROM audit_events
     WHERE workflow_id = ANY($1::text[]) AND type = ANY($2::text[])
       AND payload->'event'->>'transactionId' = ANY($3::text[])`,
    [[...new Set(workflowIds)], NEWS_LINE_TYPES, [...new Set(transactionIds)]],
  );
  for (const r of rows) {
    if (!r.event) continue;
    const keys = out.get(r.workflow_id) ?? new Set<string>();
    keys.add(newsKey(r.event));
    out.set(r.workflow_id, keys);
  }
  return out;
}

export interface ReconciliationRun {
  campaignId: string;
  startedAt: string;
  checked: number;
  missing: number;
  repaired: number;
  repair: boolean;
}

export async function recordReconciliation(db: Queryable, r: ReconciliationRun): Promise<void> {
  await db.query(
    `INSERT INTO reconciliations (campaign_id, started_at, checked, missing, repaired, repair)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [r.campaignId, r.startedAt, r.checked, r.missing, r.repaired, r.repair],
  );
}

/** Each campaign's latest reconciliation: what /metrics says of it. */
export async function latestReconciliations(db: Queryable): Promise<(ReconciliationRun & { finishedAt: string })[]> {
  const { rows } = await db.query<{
    campaign_id: string;
    started_at: Date;
    finished_at: Date;
    checked: number;
    missing: number;
    repaired: number;
    repair: boolean;
  }>(
    `SELECT DISTINCT ON (campaign_id) campaign_id, started_at, finished_at, checked::float8 AS checked,
            missing::float8 AS missing, repaired::float8 AS repaired, repair
     FROM reconciliations ORDER BY campaign_id, finished_at DESC`,
  );
  return rows.map((r) => ({
    campaignId: r.campaign_id,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at.toISOString(),
    checked: r.checked,
    missing: r.missing,
    repaired: r.repaired,
    repair: r.repair,
  }));
}
