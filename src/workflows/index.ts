export { memberActivation } from './member-activation';
export { rewardRetry } from './review-retry';
export { settlementBatch } from './settlement-batch';
export { bulkOperation } from './bulk-operation';
