/**
 * The append-only audit trail. Each line has a key unique per enrollment, so a retried write adds nothing; the
 * database places and chains each line as it is written (migration audit-hash-chain, checked by audit-chain.ts).
 */
import type { AuditEntry, NotificationMessage } from '../domain/records';
import type { ChainedLine } from './audit-chain';
import type { Queryable } from './queryable';

export interface AuditSubject {
  workflowId: string;
  campaignId: string;
  memberId: string;
}

export async function appendAudit(db: Queryable, subject: AuditSubject, entries: AuditEntry[]): Promise<void> {
  await appendAuditLines(db, [{ subject, entries }]);
}

export interface SubjectLines {
  subject: AuditSubject;
  entries: AuditEntry[];
}

/** Several enrollments' lines in one statement, each enrollment's in the order given (the chain places them so). */
export async function appendAuditLines(db: Queryable, lines: readonly SubjectLines[]): Promise<void> {
  const rows = lines.flatMap(({ subject: { workflowId, campaignId, memberId }, entries }) =>
    entries.map((entry) => ({ workflowId, campaignId, memberId, ...entry })),
  );
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO audit_events (workflow_id, campaign_id, member_id, event_key, type, source, payload, occurred_at)
     SELECT a."workflowId", a."campaignId", a."memberId", a.key, a.type, a.source, a.payload, a."occurredAt"
     FROM ROWS FROM (
       jsonb_to_recordset($1::jsonb) AS ("workflowId" text, "campaignId" text, "memberId" text, key text, type text,
                                         source text, payload jsonb, "occurredAt" timestamptz)
     ) WITH ORDINALITY AS a("workflowId", "campaignId", "memberId", key, type, source, payload, "occurredAt", n)
     ORDER BY a.n
     ON CONFLICT (workflow_id, event_key) DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

/** The audit line of a notification, whoever records it (the recorder's outbox, or an older run's notify activity). */
export const notificationAudit = (message: NotificationMessage): AuditEntry => ({
  key: `notification:${message.id}`,
  type: 'NOTIFICATION',
  source: 'NOTIFIER',
  occurredAt: message.occurredAt,
  payload: { ...message },
});

export interface AuditRow {
  id: number;
  eventKey: string;
  type: string;
  source: string;
  payload: Record<string, unknown>;
  occurredAt: string;
  recordedAt: string;
}

export async function auditTrail(db: Queryable, workflowId: string): Promise<AuditRow[]> {
  const { rows } = await db.query<{
    id: number;
    event_key: string;
    type: string;
    source: string;
    payload: Record<string, unknown>;
    occurred_at: Date;
    recorded_at: Date;
  }>('SELECT * FROM audit_events WHERE workflow_id = $1 ORDER BY position', [workflowId]);
  return rows.map((r) => ({
    id: r.id,
    eventKey: r.event_key,
    type: r.type,
    source: r.source,
    payload: r.payload,
    occurredAt: r.occurred_at.toISOString(),
    recordedAt: r.recorded_at.toISOString(),
  }));
}

/** A line of a trail as stored and as chained: what the proof reads. */
export interface StoredLine extends ChainedLine {
  payload: Record<string, unknown>;
  occurredAt: string;
}

/**
 * The trails of some enrollments, each in place order, read in one query: the values as PostgreSQL renders them (the
 * chain is over those), the payload parsed from that same text.
 */
export async function trailsOf(db: Queryable, workflowIds: readonly string[]): Promise<Map<string, StoredLine[]>> {
  const { rows } = await db.query<{
    workflow_id: string;
    position: number;
    event_key: string;
    type: string;
    source: string;
    occurred_text: string;
    payload_text: string;
    prev_hash: string;
    hash: string;
  }>(
    `SELECT workflow_id, position, event_key, type, source, payload::text AS payload_text, prev_hash, hash,
            to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_text
     FROM audit_events WHERE workflow_id = ANY($1::text[]) ORDER BY workflow_id, position`,
    [workflowIds],
  );
  const trails = new Map<string, StoredLine[]>(workflowIds.map((id) => [id, []]));
  for (const r of rows) {
    trails.get(r.workflow_id)!.push({
      workflowId: r.workflow_id,
      position: r.position,
      key: r.event_key,
      type: r.type,
      source: r.source,
      occurredText: r.occurred_text,
      payloadText: r.payload_text,
      prevHash: r.prev_hash,
      hash: r.hash,
      payload: JSON.parse(r.payload_text) as Record<string, unknown>,
      occurredAt: new Date(r.occurred_text).toISOString(),
    });
  }
  return trails;
}
