/** Progress records as the member workflow sends them, built from the rules' state (for the db and activity tests). */
import type { CampaignReport } from '../../src/db/report';
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

/** A report's lift for a campaign without a holdout (the report fixtures of the metrics and CLI tests). */
export const NO_LIFT: CampaignReport['lift'] = {
  holdoutPercent: 0,
  pointsIssued: 0,
  treatment: { members: 0, activated: 0, rate: null },
  holdout: { members: 0, activated: 0, rate: null },
  difference: null,
  confidenceInterval: null,
  incrementalActivated: null,
  pointsPerIncrementalActivation: null,
};
