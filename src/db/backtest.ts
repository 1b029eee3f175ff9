/**
 * What the backtest reads (domain/backtest.ts): a campaign's enrollments a page at a time, in member id order (keyset on
 * the primary key, so the millionth costs what the first does), each with the audit lines that state its facts and, for
 * an open one, its stored ledger. Read-only; every statement is short, so none meets the pool's statement timeout.
 */
import type { HistoryLine, RecordedVerdict, StoredEntry } from '../domain/backtest';
import type { ExperimentGroup } from '../domain/holdout';
import type { LedgerEntry } from '../domain/ledger';
import { hasVerdict, VERDICT_STATES, type ActivationState } from '../domain/model';
import type { Queryable } from './queryable';

/** The audit lines a history is made of: the facts, and the transitions that place the real deadlines among them. */
export const HISTORY_TYPES = [
  'TRANSACTION_RECEIVED',
  'LATE_EVENT',
  'SCHEDULE_CHANGED',
  'CANCEL_REQUESTED',
  'TRANSITION',
];

export interface BacktestEnrollment {
  memberId: string;
  group: ExperimentGroup;
  enrolledAt: string;
  /** Decided enrollments: the verdict the read model recorded. */
  recorded?: RecordedVerdict;
  lines: HistoryLine[];
  /** Open enrollments: the stored ledger, which may hold news the trail does not yet. */
  ledger?: StoredEntry[];
}

export async function countForBacktest(db: Queryable, campaignId: string, includeOpen: boolean): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM enrollments WHERE campaign_id = $1 AND ($2 OR state = ANY($3::text[]))`,
    [campaignId, includeOpen, VERDICT_STATES],
  );
  return rows[0].n;
}

/** The next page of enrollments after member `after`, with their histories. */
export async function backtestPage(
  db: Queryable,
  campaignId: string,
  page: { after?: string; limit: number; includeOpen: boolean },
): Promise<BacktestEnrollment[]> {
  const { rows } = await db.query<{
    member_id: string;
    workflow_id: string;
    experiment_group: ExperimentGroup;
    state: ActivationState;
    enrolled_at: Date;
    verdict: RecordedVerdict | null;
  }>(
    `SELECT member_id, workflow_id, experiment_group, state, enrolled_at, verdict FROM enrollments
     WHERE campaign_id = $1 AND ($2::text IS NULL OR member_id > $2) AND ($3 OR state = ANY($4::text[]))
     ORDER BY member_id LIMIT $5`,
    [campaignId, page.after ?? null, page.includeOpen, VERDICT_STATES, page.limit],
  );
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.workflow_id);
  const open = rows.filter((r) => !hasVerdict(r.state)).map((r) => r.workflow_id);
  const [audit, ledger] = await Promise.all([
    db.query<{ workflow_id: string; type: string; payload: Record<string, unknown>; occurred_at: Date }>(
      `SELECT workflow_id, type, payload, occurred_at FROM audit_events
       WHERE workflow_id = ANY($1::text[]) AND type = ANY($2::text[]) ORDER BY workflow_id, position`,
      [ids, HISTORY_TYPES],
    ),
    open.length === 0
      ? Promise.resolve({ rows: [] })
      : db.query<{ workflow_id: string; entry: LedgerEntry; updated_at: Date }>(
          'SELECT workflow_id, entry, updated_at FROM ledger_entries WHERE workflow_id = ANY($1::text[])',
          [open],
        ),
  ]);
  const lines = new Map<string, HistoryLine[]>();
  for (const r of audit.rows) {
    const list = lines.get(r.workflow_id) ?? [];
    list.push({ type: r.type, occurredAt: r.occurred_at.toISOString(), payload: r.payload });
    lines.set(r.workflow_id, list);
  }
  const entries = new Map<string, StoredEntry[]>();
  for (const r of ledger.rows) {
    const list = entries.get(r.workflow_id) ?? [];
    list.push({ entry: r.entry, updatedAt: r.updated_at.toISOString() });
    entries.set(r.workflow_id, list);
  }
  return rows.map((r) => ({
    memberId: r.member_id,
    group: r.experiment_group,
    enrolledAt: r.enrolled_at.toISOString(),
    ...(hasVerdict(r.state) && r.verdict
      ? { recorded: { outcome: r.verdict.outcome, countedCents: r.verdict.countedCents } }
      : {}),
    lines: lines.get(r.workflow_id) ?? [],
    ...(hasVerdict(r.state) ? {} : { ledger: entries.get(r.workflow_id) ?? [] }),
  }));
}
