import type { NotificationMessage } from '../activities/types';
import type { Queryable } from './queryable';

export type NotificationStatus = 'RECORDED' | 'DELIVERED' | 'FAILED';

/** Records the notification once (by id) and returns its delivery status. */
export async function recordNotification(db: Queryable, n: NotificationMessage): Promise<NotificationStatus> {
  await db.query(
    `INSERT INTO notifications (id, workflow_id, campaign_id, member_id, type, data, occurred_at, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'RECORDED')
     ON CONFLICT (id) DO NOTHING`,
    [n.id, n.workflowId, n.campaignId, n.memberId, n.type, JSON.stringify(n.data), n.occurredAt],
  );
  const { rows } = await db.query<{ status: NotificationStatus }>('SELECT status FROM notifications WHERE id = $1', [
    n.id,
  ]);
  return rows[0].status;
}

export async function markNotification(db: Queryable, id: string, delivered: boolean, error?: string): Promise<void> {
  await db.query(
    `UPDATE notifications
     SET status = CASE WHEN $2 THEN 'DELIVERED' ELSE 'FAILED' END,
         attempts = attempts + 1, last_error = $3,
         delivered_at = CASE WHEN $2 THEN now() ELSE delivered_at END
     WHERE id = $1 AND status <> 'DELIVERED'`,
    [id, delivered, error ?? null],
  );
}

export interface NotificationRow extends NotificationMessage {
  status: NotificationStatus;
  attempts: number;
}

export async function notificationsOf(db: Queryable, campaignId: string, memberId: string): Promise<NotificationRow[]> {
  const { rows } = await db.query<{
    id: string;
    workflow_id: string;
    campaign_id: string;
    member_id: string;
    type: NotificationMessage['type'];
    data: Record<string, unknown>;
    occurred_at: Date;
    status: NotificationStatus;
    attempts: number;
  }>('SELECT * FROM notifications WHERE campaign_id = $1 AND member_id = $2 ORDER BY occurred_at, id', [
    campaignId,
    memberId,
  ]);
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    workflowId: r.workflow_id,
    campaignId: r.campaign_id,
    memberId: r.member_id,
    occurredAt: r.occurred_at.toISOString(),
    data: r.data,
    status: r.status,
    attempts: r.attempts,
  }));
}
