/**
 * What an enrollment records when it begins: its ENROLLED audit line and the ENROLLED notification. One definition
 * for both writers: the API, in the transaction that starts the run (lean recording), and the member workflow,
 * whose runs started otherwise record them themselves. Ids and keys are stable, so the two never double.
 */
import { enrolledNotificationData, enrolledPayload, isHoldout, type EnrollmentTerms } from '../domain/enrollment';
import type { AuditEntry, NotificationMessage } from '../domain/records';

/** The audit key of the API's ENROLLED line (a workflow's own lines are keyed by its sequence, `seq:<n>`). */
export const ENROLLED_AUDIT_KEY = 'enrolled';

export function enrolledAudit(terms: EnrollmentTerms, at: string): AuditEntry {
  return { key: ENROLLED_AUDIT_KEY, type: 'ENROLLED', source: 'API', occurredAt: at, payload: enrolledPayload(terms) };
}

/** The id of the ENROLLED notification (one per enrollment, ever). */
export const enrolledNotificationId = (workflowId: string): string => `${workflowId}:ENROLLED`;

/** The ENROLLED notification, or none: a holdout member is never told of the campaign. */
export function enrolledNotifications(workflowId: string, terms: EnrollmentTerms, at: string): NotificationMessage[] {
  if (isHoldout(terms)) return [];
  return [
    {
      id: enrolledNotificationId(workflowId),
      type: 'ENROLLED',
      workflowId,
      memberId: terms.memberId,
      campaignId: terms.campaign.campaignId,
      occurredAt: at,
      data: enrolledNotificationData(terms),
    },
  ];
}
