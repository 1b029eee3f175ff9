/**
 * What an enrollment records when it begins: its ENROLLED audit line and the ENROLLED notification. One definition
 * for both writers: the API, in the transaction that starts the run (lean recording), and the member workflow,
 * whose runs started otherwise record them themselves. Ids and keys are stable, so the two never double.
 */
import type { AuditEntry, NotificationMessage } from '../domain/records';
import type { CampaignTerms, EnrollmentSchedule } from '../domain/terms';

/** The audit key of the API's ENROLLED line (a workflow's own lines are keyed by its sequence, `seq:<n>`). */
export const ENROLLED_AUDIT_KEY = 'enrolled';

export function enrolledAudit(campaign: CampaignTerms, schedule: EnrollmentSchedule, at: string): AuditEntry {
  return { key: ENROLLED_AUDIT_KEY, type: 'ENROLLED', source: 'API', occurredAt: at, payload: { campaign, schedule } };
}

export function enrolledNotification(
  workflowId: string,
  memberId: string,
  campaign: CampaignTerms,
  schedule: EnrollmentSchedule,
  at: string,
): NotificationMessage {
  return {
    id: `${workflowId}:ENROLLED`,
    type: 'ENROLLED',
    workflowId,
    memberId,
    campaignId: campaign.campaignId,
    occurredAt: at,
    data: { ...schedule, targetCents: campaign.targetCents },
  };
}
