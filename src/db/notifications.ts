import type { NotificationMessage } from '../domain/records';
import type { Queryable } from './queryable';

export type NotificationStatus = 'RECORDED' | 'DELIVERED' | 'FAILED';

/** A row of the outbox as PostgreSQL returns it. */
interface OutboxRow {
  id: string;
  workflow_id: string;
  campaign_id: string;
  member_id: string;
  type: NotificationMessage['type'];
  data: Record<string, unknown>;
  occurred_at: Date;
  status: NotificationStatus;
  attempts: number;
}

function toMessage(r: OutboxRow): NotificationMessage {
  return {
    id: r.id,
    type: r.type,
    workflowId: r.workflow_id,
    campaignId: r.campaign_id,
    memberId: r.member_id,
    occurredAt: r.occurred_at.toISOString(),
    data: r.data,
  };
}

/** Records notifications once each (by id): the outbox the relay pushes from. */
export async function insertNotifications(db: Queryable, all: readonly NotificationMessage[]): Promise<void> {
  if (all.length === 0) return;
  await db.query(
    `INSERT INTO notifications (id, workflow_id, campaign_id, member_id, type, data, occurred_at, status)
     SELECT n->>'id', n->>'workflowId', n->>'campaignId', n->>'memberId', n->>'type', n->'data',
            (n->>'occurredAt')::timestamptz, 'RECORDED'
     FROM jsonb_array_elements($1::jsonb) AS n
     ON CONFLICT (id) DO NOTHING`,
    [JSON.stringify(all)],
  );
}

/** Records the notification once (by id) and returns its delivery status. */
export async function recordNotification(db: Queryable, n: NotificationMessage): Promise<NotificationStatus> {
  await insertNotifications(db, [n]);
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

/** The relay gives up on a notification after this many failed pushes (FAILED). */
export const MAX_PUSH_ATTEMPTS = 5;
/** Notifications older than this are not pushed any more (a channel configured today does not replay last month). */
export const PUSH_HORIZON = '24 hours';

/**
 * Claims up to `limit` notifications due for a push: each leaves the queue for `leaseSeconds` (so another relay, or
 * this one after a crash, tries it again only then) and counts an attempt. SKIP LOCKED: relays never wait on each
 * other.
 */
export async function claimDueNotifications(
  db: Queryable,
  limit: number,
  leaseSeconds: number,
): Promise<(NotificationMessage & { attempts: number })[]> {
  const { rows } = await db.query<OutboxRow>(
    `UPDATE notifications SET next_attempt_at = now() + make_interval(secs => $2), attempts = attempts + 1
     WHERE id IN (SELECT id FROM notifications
                  WHERE status = 'RECORDED' AND next_attempt_at <= now()
                    AND created_at > now() - interval '${PUSH_HORIZON}'
                  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, workflow_id, campaign_id, member_id, type, data, occurred_at, status, attempts`,
    [limit, leaseSeconds],
  );
  return rows.map((r) => ({ ...toMessage(r), attempts: r.attempts }));
}

/** The outcome of a push: DELIVERED; or due again after `retryInSeconds`; or FAILED after the last attempt. */
export async function settleNotification(
  db: Queryable,
  id: string,
  outcome: { delivered: true } | { delivered: false; error: string; retryInSeconds?: number },
): Promise<void> {
  if (outcome.delivered) {
    await db.query(
      `UPDATE notifications SET status = 'DELIVERED', delivered_at = now(), last_error = NULL WHERE id = $1`,
      [id],
    );
    return;
  }
  await db.query(
    `UPDATE notifications SET last_error = $2,
       status = CASE WHEN $3::float8 IS NULL THEN 'FAILED' ELSE status END,
       next_attempt_at = CASE WHEN $3::float8 IS NULL THEN next_attempt_at ELSE now() + make_interval(secs => $3) END
     WHERE id = $1 AND status = 'RECORDED'`,
    [id, outcome.error, outcome.retryInSeconds ?? null],
  );
}

export interface NotificationRow extends NotificationMessage {
  status: NotificationStatus;
  attempts: number;
}

export async function notificationsOf(db: Queryable, campaignId: string, memberId: string): Promise<NotificationRow[]> {
  const { rows } = await db.query<OutboxRow>(
    'SELECT * FROM notifications WHERE campaign_id = $1 AND member_id = $2 ORDER BY occurred_at, id',
    [campaignId, memberId],
  );
  return rows.map((r) => ({ ...toMessage(r), status: r.status, attempts: r.attempts }));
}
