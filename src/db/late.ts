/**
 * Late news for an enrollment whose workflow has closed: recorded here, as the workflow would have recorded it
 * (a LATE_EVENT audit line, judged against the ledger of the verdict plus the late news before it, and a review
 * when it would have changed the verdict).
 */
import type { TransactionEvent } from '../domain/model';
import { lateImpact } from '../domain/late';
import { appendAudit } from './audit';
import { getEnrollment, getLedger } from './enrollments';
import { inTransaction, type Db } from './pool';
import { openReviews } from './reviews';

/** The audit key of a piece of late news: the same news heard twice is recorded once. */
export const lateEventKey = (ev: TransactionEvent): string =>
  `late:${ev.source}:${ev.transactionId}:${ev.source === 'SETTLEMENT' ? ev.status : ev.kind}`;

export async function recordLateArrival(
  pool: Db,
  ref: { campaignId: string; memberId: string },
  event: TransactionEvent,
): Promise<'LATE'> {
  return inTransaction(pool, async (client) => {
    // One late arrival at a time per enrollment: each is judged with the ones before it.
    await client.query('SELECT 1 FROM enrollments WHERE campaign_id = $1 AND member_id = $2 FOR UPDATE', [
      ref.campaignId,
      ref.memberId,
    ]);
    const enrollment = await getEnrollment(client, ref.campaignId, ref.memberId);
    if (!enrollment) throw new Error(`no enrollment of ${ref.memberId} in ${ref.campaignId}`);
    const { rows } = await client.query<{ event_key: string; payload: { event: TransactionEvent } }>(
      `SELECT event_key, payload FROM audit_events WHERE workflow_id = $1 AND type = 'LATE_EVENT' ORDER BY id`,
      [enrollment.workflowId],
    );
    const key = lateEventKey(event);
    if (!rows.some((r) => r.event_key === key)) {
      const impact = enrollment.verdict
        ? lateImpact(
            await getLedger(client, enrollment.workflowId),
            rows.map((r) => r.payload.event),
            event,
            enrollment,
            enrollment.targetCents,
            enrollment.verdict,
          )
        : undefined;
      const entry = {
        key,
        type: 'LATE_EVENT' as const,
        source: event.source,
        occurredAt: new Date().toISOString(),
        payload: { event, state: enrollment.state, workflowClosed: true, ...(impact ? { impact } : {}) },
      };
      await appendAudit(client, enrollment, [entry]);
      await openReviews(client, enrollment, [entry]);
    }
    return 'LATE' as const;
  });
}
