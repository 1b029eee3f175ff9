export { memberActivation } from './member-activation';
export { rewardRetry } from './reward-retry';
export { settlementBatch } from './settlement-batch';
