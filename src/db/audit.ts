/** The append-only audit trail. Each line has a key unique per enrollment, so a retried write adds nothing. */
import type { AuditEntry, NotificationMessage } from '../domain/records';
import type { Queryable } from './queryable';

export interface AuditSubject {
  workflowId: string;
  campaignId: string;
  memberId: string;
}

export async function appendAudit(db: Queryable, subject: AuditSubject, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO audit_events (workflow_id, campaign_id, member_id, event_key, type, source, payload, occurred_at)
     SELECT $1, $2, $3, a.key, a.type, a.source, a.payload, a."occurredAt"
     FROM jsonb_to_recordset($4::jsonb) AS a(key text, type text, source text, payload jsonb, "occurredAt" timestamptz)
     ON CONFLICT (workflow_id, event_key) DO NOTHING`,
    [subject.workflowId, subject.campaignId, subject.memberId, JSON.stringify(entries)],
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
  }>('SELECT * FROM audit_events WHERE workflow_id = $1 ORDER BY id', [workflowId]);
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
