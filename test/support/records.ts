/** Progress records as the member workflow sends them, built from the rules' state (for the db and activity tests). */
import type { EnrollmentState, EnrollmentTerms } from '../../src/domain/enrollment';
import { activationWorkflowId } from '../../src/domain/ids';
import type { ProgressRecord } from '../../src/domain/records';
import { memberView } from '../../src/domain/view';

export function progressRecord(
  terms: EnrollmentTerms,
  e: EnrollmentState,
  version: number,
  at: string,
  over: Partial<ProgressRecord> = {},
): ProgressRecord {
  return {
    workflowId: activationWorkflowId(terms.campaign.campaignId, terms.memberId),
    campaignId: terms.campaign.campaignId,
    memberId: terms.memberId,
    rewardPoints: terms.campaign.rewardPoints,
    version,
    audit: [],
    entries: Object.values(e.ledger),
    view: memberView(terms, e, at),
    ...over,
  };
}
