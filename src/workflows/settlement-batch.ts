/**
 * One workflow per settlement file (`settlement:{batchId}`): applies the staged lines to the member workflows a
 * chunk at a time. The checkpoint lives in PostgreSQL (each line's outcome), so a batch whose worker died resumes
 * at the first line not yet recorded, and continue-as-new carries nothing but the batch id.
 */
import {
  ApplicationFailure,
  continueAsNew,
  log,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import type { SettlementActivities } from '../activities/settlement';

export interface SettlementBatchInput {
  batchId: string;
  /** Lines per activity call (default 500). */
  chunkSize?: number;
}

export interface SettlementBatchResult {
  batchId: string;
  processed: number;
}

export const settlementWorkflowId = (batchId: string): string => `settlement:${batchId}`;

const { applySettlementChunk } = proxyActivities<SettlementActivities>({
  summary: 'Apply the next chunk of staged lines to the member workflows',
  startToCloseTimeout: '10m',
  // A dead worker is noticed within 20 s and the chunk goes to another.
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const { finishSettlementBatch } = proxyActivities<SettlementActivities>({
  summary: 'Mark the batch completed',
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

export async function settlementBatch(input: SettlementBatchInput): Promise<SettlementBatchResult> {
  const limit = input.chunkSize ?? 500;
  if (!Number.isInteger(limit) || limit < 1) {
    throw ApplicationFailure.nonRetryable(`chunkSize must be a positive integer, got ${String(input.chunkSize)}`);
  }
  let processed = 0;
  for (;;) {
    const chunk = await applySettlementChunk({ batchId: input.batchId, limit });
    processed += chunk.processed;
    setCurrentDetails(`**RUNNING** — ${processed} lines applied by this run; GET /v1/settlements/${input.batchId}`);
    if (chunk.done) break;
    if (workflowInfo().continueAsNewSuggested) {
      log.info('continuing as new', { batchId: input.batchId, processed });
      return continueAsNew<typeof settlementBatch>(input);
    }
  }
  await finishSettlementBatch({ batchId: input.batchId });
  return { batchId: input.batchId, processed };
}
