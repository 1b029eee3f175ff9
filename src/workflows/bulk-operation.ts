/**
 * One workflow per bulk operation (`operation:{id}`): takes the selection's snapshot, then pages through it, each page
 * an activity that applies the action to its members with bounded concurrency. The checkpoint is in PostgreSQL (each
 * member's outcome), so an operation whose worker died resumes where it was; continue-as-new carries the cursor.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import { OPERATION_PAGE_SIZE } from '../domain/operations';
import type { OperationActivities } from './activity-contracts';
import { webUiText } from '../domain/describe';

export interface BulkOperationInput {
  operationId: string;
  /** Members per page (default OPERATION_PAGE_SIZE). */
  pageSize?: number;
  /** Carried by continue-as-new: the last member of the last page done, and the count so far. */
  after?: string;
  processed?: number;
}

export interface BulkOperationResult {
  operationId: string;
  processed: number;
}

const { selectOperationMembers } = proxyActivities<OperationActivities>({
  summary: webUiText("Take the selection's snapshot"),
  startToCloseTimeout: '10m',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});
const { applyOperationPage } = proxyActivities<OperationActivities>({
  summary: webUiText('Apply the action to the next page of members'),
  startToCloseTimeout: '10m',
  // A dead worker is noticed within 20 s and the page goes to another; what it recorded is not sent again.
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const { finishOperation } = proxyActivities<OperationActivities>({
  summary: webUiText('Close the operation'),
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

export async function bulkOperation(input: BulkOperationInput): Promise<BulkOperationResult> {
  const { operationId } = input;
  try {
    const limit = input.pageSize ?? OPERATION_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1) {
      throw ApplicationFailure.nonRetryable(`pageSize must be a positive integer, got ${String(input.pageSize)}`);
    }
    if (input.after === undefined && input.processed === undefined) await selectOperationMembers({ operationId });
    let { after } = input;
    let processed = input.processed ?? 0;
    for (;;) {
      const page = await applyOperationPage({ operationId, limit, ...(after !== undefined ? { after } : {}) });
      processed += page.processed;
      if (page.after !== undefined) after = page.after;
      setCurrentDetails(`**RUNNING** — ${processed} members done; GET /v1/operations/${operationId}`);
      if (page.done) break;
      if (workflowInfo().continueAsNewSuggested) {
        return continueAsNew<typeof bulkOperation>({ ...input, processed, ...(after !== undefined ? { after } : {}) });
      }
    }
    await finishOperation({ operationId });
    setCurrentDetails(`**COMPLETED** — ${processed} members; GET /v1/operations/${operationId}`);
    return { operationId, processed };
  } catch (err) {
    // A failure no retry will cure: the operation says FAILED, with why, instead of RUNNING forever.
    if (err instanceof ApplicationFailure || err instanceof ActivityFailure) {
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      await finishOperation({ operationId, failure: cause.message || String(cause) });
    }
    throw err;
  }
}
