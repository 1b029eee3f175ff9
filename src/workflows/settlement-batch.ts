/**
 * One workflow per settlement file (`settlement:{batchId}`): applies the staged lines to the member workflows a
 * chunk at a time. The checkpoint lives in PostgreSQL (each line's outcome), so a batch whose worker died resumes
 * at the first line not yet recorded, and continue-as-new carries nothing but the batch id.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import type { SettlementActivities } from './activity-contracts';
import { webUiText } from '../domain/describe';

export interface SettlementBatchInput {
  batchId: string;
  /** Lines per activity call (default 500). */
  chunkSize?: number;
}

export interface SettlementBatchResult {
  batchId: string;
  processed: number;
}

const { applySettlementChunk } = proxyActivities<SettlementActivities>({
  summary: webUiText('Apply the next chunk of staged lines to the member workflows'),
  startToCloseTimeout: '10m',
  // A dead worker is noticed within 20 s and the chunk goes to another.
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const { finishSettlementBatch } = proxyActivities<SettlementActivities>({
  summary: webUiText('Mark the batch completed'),
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

export async function settlementBatch(input: SettlementBatchInput): Promise<SettlementBatchResult> {
  try {
    return await applyTheBatch(input);
  } catch (err) {
    // A failure that no retry will cure (a bad input, a chunk that can never apply): the batch says FAILED, with why,
    // instead of RUNNING forever. Batches that ran before this change never failed this way, so no marker is needed
    // for their histories; the patch keeps the rule visible anyway.
    if (err instanceof ApplicationFailure || err instanceof ActivityFailure) {
      if (patched(SETTLEMENT_PATCHES.recordFailure)) {
        await finishSettlementBatch({ batchId: input.batchId, failure: describeFailure(err) });
      }
    }
    throw err;
  }
}

export const SETTLEMENT_PATCHES = {
  /** A batch that fails for good is marked FAILED in PostgreSQL (before: it stayed RUNNING). */
  recordFailure: 'settlement-batch-records-failure',
} as const;

async function applyTheBatch(input: SettlementBatchInput): Promise<SettlementBatchResult> {
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

function describeFailure(err: ApplicationFailure | ActivityFailure): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause.message || String(cause);
}
