/**
 * Late news for an enrollment whose workflow has closed: recorded here, as the workflow would have recorded it
 * (a LATE_EVENT audit line judged by the same rule, `lateLine`, and the review item the rule opens, if any).
 */
import type { TransactionEvent } from '../domain/model';
import { lateEventKey, lateLine } from '../domain/enrollment';
import { appendAudit } from './audit';
import { getEnrollment, getLedger } from './enrollments';
import { inTransaction, type Db } from './pool';
import { openReviews } from './reviews';

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
      // The rule the workflow judges late news with, on the ledger and the late news PostgreSQL holds for it.
      const line = lateLine(
        {
          state: enrollment.state,
          ledger: await getLedger(client, enrollment.workflowId),
          late: rows.map((r) => ({ event: r.payload.event })),
          ...(enrollment.verdict ? { verdict: enrollment.verdict } : {}),
        },
        event,
        enrollment,
        enrollment.targetCents,
        { workflowClosed: true },
        enrollment.group,
      );
      await appendAudit(client, enrollment, [
        { key, type: line.type, source: line.source, occurredAt: new Date().toISOString(), payload: line.payload },
      ]);
      if (line.review) await openReviews(client, enrollment, [{ ...line.review, causeKey: key }]);
    }
    return 'LATE' as const;
  });
}
