/**
 * Every workflow id and idempotency key the product makes, in one place. They are part of the contract
 * (../shared/docs/contract.md) and of every running workflow: never change a format.
 */

/** The member workflow of one enrollment. */
export const activationWorkflowId = (campaignId: string, memberId: string): string =>
  `activation:${campaignId}:${memberId}`;

/** The key sent with every credit request of an enrollment's reward: the points API credits it once. */
export const rewardIdempotencyKey = (campaignId: string, memberId: string): string =>
  `activation:${campaignId}:${memberId}`;

/** The workflow applying one settlement file. */
export const settlementWorkflowId = (batchId: string): string => `settlement:${batchId}`;

/** The workflow retrying a reward for one review item (RETRY_REWARD), once per item. */
export const reviewRetryWorkflowId = (reviewId: string): string => `review:${reviewId}`;

/** The workflow running one bulk operation. */
export const operationWorkflowId = (operationId: string): string => `operation:${operationId}`;

/** The update a bulk operation sends one member: the same member is never changed twice by one operation. */
export const operationUpdateId = (operationId: string, memberId: string): string => `${operationId}:${memberId}`;
