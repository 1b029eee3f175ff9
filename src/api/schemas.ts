/**
 * Request and response shapes of HTTP API v1. The single source of truth: handlers validate with these,
 * types come from `z.infer`, and `/openapi.json` is generated from them.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { isValidDuration } from '../domain/terms';
import {
  ACTIVATION_STATES,
  CHANNELS,
  TRANSACTION_KINDS,
  isChannelAllowed,
  LOAD_CHANNELS,
  WITHDRAWAL_CHANNELS,
} from '../domain/model';

extendZodWithOpenApi(z);

/** How far in the future a client clock may be before we call a time wrong. */
export const CLOCK_SKEW_MS = 5 * 60_000;

export const CampaignId = z
  .string()
  .regex(/^[a-z0-9-]{1,40}$/, 'campaignId must be 1–40 characters of a-z, 0-9 and -')
  .openapi({ example: 'cold-activation' });
export const MemberId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'memberId must be 1–64 characters of A-Z, a-z, 0-9, _ and -')
  .openapi({ example: 'M-1001' });
const Duration = (example: string) =>
  z
    .string()
    .refine(
      isValidDuration,
      'must be an ISO-8601 duration of weeks, days, hours, minutes or seconds (e.g. P30D, PT48H)',
    )
    .openapi({ example });
const Timestamp = z.iso.datetime({ offset: true }).openapi({ example: '2026-11-22T09:30:00Z' });
// An unparsable time has its own issue already; only a real time can be in the future.
const notInFuture = (t: string) => Number.isNaN(Date.parse(t)) || Date.parse(t) <= Date.now() + CLOCK_SKEW_MS;

export const CampaignPath = z.object({ campaignId: CampaignId });
export const MemberPath = z.object({ campaignId: CampaignId, memberId: MemberId });

export const CampaignTermsBody = z
  .strictObject({
    targetCents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ example: 50000 }),
    rewardPoints: z.number().int().positive().max(2_147_483_647).openapi({ example: 2000 }),
    window: Duration('P30D').default('P30D'),
    grace: Duration('PT48H').default('PT48H'),
    currency: z.literal('AUD').default('AUD'),
  })
  .openapi('CampaignTerms');

export const StateCounts = z.partialRecord(z.enum(ACTIVATION_STATES), z.number().int()).openapi('StateCounts');

export const CampaignResponse = z
  .object({
    campaignId: CampaignId,
    targetCents: z.number().int(),
    rewardPoints: z.number().int(),
    window: z.string(),
    grace: z.string(),
    currency: z.literal('AUD'),
    createdAt: Timestamp,
    counts: StateCounts.optional(),
  })
  .openapi('Campaign');

export const EnrollmentBody = z
  .strictObject({
    memberId: MemberId,
    enrolledAt: Timestamp.refine(notInFuture, 'enrolledAt must not be in the future').optional(),
  })
  .openapi('EnrollmentRequest');

export const EnrollmentResponse = z
  .object({
    campaignId: CampaignId,
    memberId: MemberId,
    workflowId: z.string().openapi({ example: 'activation:cold-activation:M-1001' }),
    state: z.enum(ACTIVATION_STATES),
    enrolledAt: Timestamp,
    windowEndsAt: Timestamp,
    evaluatesAt: Timestamp,
  })
  .openapi('Enrollment');

export const RewardResponse = z
  .object({
    status: z.enum(['PENDING', 'ISSUED', 'FAILED']),
    points: z.number().int(),
    idempotencyKey: z.string(),
    creditId: z.string().optional(),
    issuedAt: Timestamp.optional(),
    failure: z.string().optional().openapi({ description: 'Why the reward could not be issued (FAILED)' }),
  })
  .openapi('Reward');

export const MemberResponse = z
  .object({
    campaignId: CampaignId,
    memberId: MemberId,
    state: z.enum(ACTIVATION_STATES),
    enrolledAt: Timestamp,
    windowEndsAt: Timestamp,
    evaluatesAt: Timestamp,
    targetCents: z.number().int(),
    countedCents: z.number().int(),
    instantCents: z.number().int(),
    settledCents: z.number().int(),
    pendingCents: z.number().int(),
    remainingCents: z.number().int(),
    disqualifiedBy: z
      .object({ transactionId: z.string(), amountCents: z.number().int(), channel: z.string(), occurredAt: Timestamp })
      .optional(),
    reward: RewardResponse.optional(),
    updatedAt: Timestamp,
  })
  .openapi('Member');

const ExplainedTransaction = z.object({
  transactionId: z.string(),
  kind: z.enum(TRANSACTION_KINDS),
  channel: z.enum(CHANNELS),
  amountCents: z.number().int(),
  occurredAt: Timestamp,
  status: z.enum(['INSTANT', 'PENDING', 'SETTLED', 'RETURNED', 'POSTED']),
});

export const ExplanationResponse = z
  .object({
    campaignId: CampaignId,
    memberId: MemberId,
    state: z.enum(ACTIVATION_STATES),
    enrolledAt: Timestamp,
    windowEndsAt: Timestamp,
    evaluatesAt: Timestamp,
    targetCents: z.number().int(),
    totals: z.object({
      countedCents: z.number().int(),
      instantCents: z.number().int(),
      settledCents: z.number().int(),
      pendingCents: z.number().int(),
    }),
    counted: z.array(ExplainedTransaction),
    excluded: z.array(
      ExplainedTransaction.extend({
        reason: z.enum(['OUTSIDE_WINDOW', 'RETURNED', 'PENDING', 'DUPLICATE', 'WITHDRAWAL_REVERSED']),
        detail: z.string(),
      }),
    ),
    disqualifiedBy: ExplainedTransaction.optional(),
    verdict: z
      .object({
        outcome: z.enum(['ELIGIBLE', 'NOT_ELIGIBLE', 'DISQUALIFIED', 'CANCELLED']),
        decidedAt: Timestamp,
        countedCents: z.number().int(),
        targetCents: z.number().int(),
        reason: z.string(),
      })
      .optional(),
  })
  .openapi('Explanation');

export const CancelBody = z.strictObject({ reason: z.string().max(500).optional() }).openapi('CancelRequest');

export const TransactionBody = z
  .strictObject({
    transactionId: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'transactionId must be 1–128 characters of A-Z, a-z, 0-9, _ . : -')
      .openapi({ example: 'TX-20261122-0001' }),
    memberId: MemberId,
    kind: z.enum(TRANSACTION_KINDS),
    amountCents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ example: 25000 }),
    currency: z.literal('AUD'),
    channel: z.enum(CHANNELS).openapi({
      description: `LOAD: ${LOAD_CHANNELS.join('|')} · WITHDRAWAL: ${WITHDRAWAL_CHANNELS.join('|')}`,
    }),
    occurredAt: Timestamp.refine(notInFuture, 'occurredAt must not be more than 5 minutes in the future'),
  })
  .superRefine((t, ctx) => {
    if (!isChannelAllowed(t.kind, t.channel)) {
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message: `${t.channel} is not a ${t.kind} channel (${t.kind === 'LOAD' ? LOAD_CHANNELS.join(', ') : WITHDRAWAL_CHANNELS.join(', ')})`,
      });
    }
  })
  .openapi('Transaction');

const EnrollmentRef = z.object({ campaignId: CampaignId, workflowId: z.string() });
export const TransactionResponse = z
  .object({ transactionId: z.string(), enrollments: z.array(EnrollmentRef), late: z.array(EnrollmentRef) })
  .openapi('TransactionAccepted');

export const BatchId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'batchId must be 1–128 characters of A-Z, a-z, 0-9, _ . : -')
  .openapi({ example: 'settlement-2026-11-22' });
export const BatchPath = z.object({ batchId: BatchId });
export const SettlementAccepted = z
  .object({
    batchId: BatchId,
    records: z.number().int().optional().openapi({ description: 'data lines staged (new batches only)' }),
    rejected: z.number().int().optional().openapi({ description: 'lines rejected at staging (new batches only)' }),
  })
  .openapi('SettlementAccepted');
export const SettlementReport = z
  .object({
    batchId: BatchId,
    state: z.enum(['RUNNING', 'COMPLETED', 'FAILED']),
    records: z.number().int(),
    processed: z.number().int().openapi({ description: 'lines classified so far (progress)' }),
    applied: z.number().int(),
    duplicates: z.number().int(),
    returned: z.number().int(),
    noEnrollment: z.number().int(),
    late: z.number().int(),
    rejected: z.array(z.object({ line: z.number().int(), reason: z.string() })).openapi({
      description: 'the first 1000 rejected lines; rejectedCount counts all',
    }),
    rejectedCount: z.number().int(),
    startedAt: Timestamp,
    completedAt: Timestamp.optional(),
    failure: z.string().optional(),
  })
  .openapi('SettlementReport');

export const ReviewId = z.string().regex(/^rv-[0-9a-f]{16}$/, 'review ids look like rv- and 16 hex digits');
export const ReviewPath = z.object({ id: ReviewId });
export const ReviewsQuery = z.strictObject({
  state: z.enum(['OPEN', 'RESOLVED']).optional(),
  campaignId: CampaignId.optional(),
});
export const ResolveBody = z
  .strictObject({
    action: z.enum(['RETRY_REWARD', 'DISMISS']),
    note: z.string().trim().min(1, 'note must say why').max(2000),
  })
  .openapi('ResolveReview');
export const ReviewItem = z
  .object({
    id: ReviewId,
    campaignId: CampaignId,
    memberId: MemberId,
    workflowId: z.string(),
    kind: z.enum([
      'LATE_WITHDRAWAL_AFTER_REWARD',
      'LATE_LOAD_WOULD_QUALIFY',
      'LATE_NEWS_CHANGES_VERDICT',
      'REWARD_FAILED',
    ]),
    reason: z.string(),
    createdAt: Timestamp,
    state: z.enum(['OPEN', 'RESOLVED']),
    details: z.record(z.string(), z.unknown()),
    resolution: z
      .object({
        action: z.enum(['RETRY_REWARD', 'DISMISS']),
        note: z.string(),
        resolvedBy: z.string().optional(),
        resolvedAt: Timestamp,
        retryWorkflowId: z.string().optional(),
      })
      .optional(),
  })
  .openapi('Review');
export const ReviewList = z.object({ items: z.array(ReviewItem) }).openapi('ReviewList');

const Share = z.number().min(0).max(1).nullable();
export const CampaignReportResponse = z
  .object({
    campaignId: CampaignId,
    generatedAt: Timestamp,
    enrollments: z.number().int(),
    counts: StateCounts,
    rewards: z.object({ issued: z.number().int(), pointsIssued: z.number().int(), failed: z.number().int() }),
    openReviews: z.number().int(),
    settlementDiscrepancies: z.object({
      thresholdCents: z.number().int(),
      afterDays: z.number().int(),
      members: z.number().int(),
      top: z.array(
        z.object({
          memberId: MemberId,
          instantCents: z.number().int(),
          settledCents: z.number().int(),
          differenceCents: z.number().int(),
        }),
      ),
    }),
    lateSettlements: z.object({ members: z.number().int(), share: Share }),
    graceEffectiveness: z.object({
      delayedLoads: z.number().int(),
      settledBeforeEvaluation: z.number().int(),
      share: Share,
    }),
  })
  .openapi('CampaignReport');

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_FAILED' }),
      message: z.string(),
      details: z.array(z.unknown()).optional(),
    }),
  })
  .openapi('Error');

export type CampaignTermsInput = z.infer<typeof CampaignTermsBody>;
export type TransactionInput = z.infer<typeof TransactionBody>;
