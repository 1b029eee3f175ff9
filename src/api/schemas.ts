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
const notInFuture = (t: string) => Date.parse(t) <= Date.now() + CLOCK_SKEW_MS;

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

export const StateCounts = z.record(z.enum(ACTIVATION_STATES), z.number().int()).openapi('StateCounts');

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
