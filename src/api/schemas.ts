/**
 * Request and response shapes of HTTP API v1. The single source of truth: handlers validate with these,
 * types come from `z.infer`, and `/openapi.json` is generated from them.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { EXPERIMENT_GROUPS, MAX_HOLDOUT_PERCENT } from '../domain/holdout';
import { DRY_RUN_SAMPLE, OPERATION_ACTIONS } from '../domain/operations';
import { extensionProblem, MAX_REASON_LENGTH, MAX_TOTAL_EXTENSION } from '../domain/schedule';
import { graceProblem, MAX_GRACE, MAX_WINDOW, windowProblem } from '../domain/terms';
import {
  ACTIVATION_STATES,
  CHANNELS,
  LOAD_CHANNELS,
  MAX_AMOUNT_CENTS,
  TRANSACTION_ID_PATTERN,
  TRANSACTION_KINDS,
  WITHDRAWAL_CHANNELS,
} from '../domain/model';
import { parseTime, TIME_DOCUMENT_PATTERN, TIME_RULE } from '../domain/time';

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
/** The fixed-length subset of ISO-8601 durations the domain accepts (weeks, days, hours, minutes, seconds). */
const DURATION_PATTERN = '^P(?!$)(\\d+W)?(\\d+D)?(T(?=\\d)(\\d+H)?(\\d+M)?(\\d+(\\.\\d{1,3})?S)?)?$';
const Duration = (name: string, problem: (text: string) => string | undefined, example: string, description: string) =>
  z
    .string()
    .superRefine((text, ctx) => {
      const why = problem(text);
      if (why) ctx.addIssue({ code: 'custom', message: `${name} ${why}` });
    })
    .openapi({ example, pattern: DURATION_PATTERN, description });

/** A time as the domain defines it (src/domain/time.ts): the same rule for the API, the file and the workflow. */
const time = (opts: { notInFuture?: boolean } = {}) =>
  z
    .string()
    .superRefine((text, ctx) => {
      const parsed = parseTime(text);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `the time ${parsed.reason}` });
      else if (opts.notInFuture && parsed.ms > Date.now() + CLOCK_SKEW_MS) {
        ctx.addIssue({ code: 'custom', message: 'the time must not be more than 5 minutes in the future' });
      }
    })
    .openapi({
      type: 'string',
      format: 'date-time',
      pattern: TIME_DOCUMENT_PATTERN,
      example: '2026-11-22T09:30:00Z',
      description: `${TIME_RULE[0].toUpperCase()}${TIME_RULE.slice(1)}${opts.notInFuture ? ', at most 5 minutes in the future' : ''}.`,
    });

/**
 * Free text a caller writes (an opt-out reason, a review note): it is stored in PostgreSQL, whose text and jsonb hold
 * neither U+0000 nor half of a surrogate pair, so such text is refused here rather than failing later in a workflow.
 */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storable = (text: string): boolean => !text.includes('\u0000') && !UNPAIRED_SURROGATE.test(text);
const FreeText = (name: string, max: number) =>
  z
    .string()
    .max(max)
    .refine(storable, `${name} must not contain U+0000 or unpaired surrogates`)
    .openapi({ pattern: '^[^\\u0000]*$' });

const Timestamp = z.string().openapi({ format: 'date-time', example: '2026-11-22T09:30:00.000Z' });
const Cents = z
  .number()
  .int()
  .positive()
  .max(MAX_AMOUNT_CENTS)
  .openapi({ example: 25000, description: `Integer cents, 1 to ${MAX_AMOUNT_CENTS} (A$1,000,000.00)` });

export const CampaignPath = z.object({ campaignId: CampaignId });
/** A member view's version, as an event's `id` and Last-Event-ID carry it. */
const ViewVersion = z.string().regex(/^\d{1,15}$/, 'Last-Event-ID must be a view version: a whole number from 0');
/** The view version a member stream resumes after (Last-Event-ID, or ?lastEventId= for clients that cannot set it). */
export const LastEventIdHeader = z.object({ lastEventId: ViewVersion.transform(Number).optional() });
export const MemberPath = z.object({ campaignId: CampaignId, memberId: MemberId });
/** The longest a member stream asked to end by itself (`maxSeconds`) may last: a day. */
export const MAX_STREAM_SECONDS = 86_400;
/** The query of a member stream; each is checked, whatever the Last-Event-ID header says. */
export const MemberEventsQuery = z.object({
  lastEventId: ViewVersion.transform(Number)
    .optional()
    .openapi({ description: 'The same as Last-Event-ID, for clients that cannot set headers (the header wins)' }),
  maxSeconds: z.coerce
    .number()
    .positive()
    .max(MAX_STREAM_SECONDS)
    .optional()
    .openapi({
      description:
        `End the stream after this many seconds (above 0, decimals allowed, at most ${MAX_STREAM_SECONDS}), whatever ` +
        "it has sent: a bounded watch for a script, or a reconnect at a time of the caller's choosing behind a proxy " +
        'that cuts long connections (an EventSource reconnects by itself, with Last-Event-ID, and misses nothing). ' +
        'Absent: the stream stays open.',
      example: 30,
    }),
});

/** A count stored as PostgreSQL's integer: 1 to 2^31 - 1. */
const PositiveCount = () => z.number().int().positive().max(2_147_483_647);
const RewardPoints = PositiveCount().openapi({ example: 2000 });
const WindowDuration = Duration('window', windowProblem, 'P30D', `Longer than zero, at most ${MAX_WINDOW}`);
const GraceDuration = Duration('grace', graceProblem, 'PT48H', `Zero to ${MAX_GRACE}`);

export const CampaignTermsBody = z
  .strictObject({
    targetCents: Cents.openapi({ example: 50000 }),
    rewardPoints: RewardPoints,
    window: WindowDuration.default('P30D'),
    grace: GraceDuration.default('PT48H'),
    currency: z.literal('AUD').default('AUD'),
    holdoutPercent: z
      .number()
      .int()
      .min(0)
      .max(MAX_HOLDOUT_PERCENT)
      .default(0)
      .openapi({
        example: 10,
        description:
          'Share of enrollments (whole percent) kept as a holdout: tracked like the others, never rewarded, never ' +
          "told; assigned by a hash of campaign and member id. The report's lift compares the two groups.",
      }),
    maxRewards: PositiveCount()
      .optional()
      .openapi({
        example: 50000,
        description:
          'The budget: at most this many enrollments are ever credited. Each eligible member takes a slot before the ' +
          'points API is called, first come first served; one who finds none left ends BUDGET_EXHAUSTED and is told. ' +
          'A slot whose reward failed and whose review is dismissed is given back. Absent: no limit.',
      }),
  })
  .openapi('CampaignTerms');

const budgetFields = {
  maxRewards: z.number().int(),
  reserved: z.number().int().openapi({ description: 'Slots taken: rewards credited, or being credited' }),
  remaining: z.number().int(),
};
const Budget = z.object(budgetFields).openapi('Budget');

export const StateCounts = z.partialRecord(z.enum(ACTIVATION_STATES), z.number().int()).openapi('StateCounts');

export const CampaignResponse = z
  .object({
    campaignId: CampaignId,
    targetCents: z.number().int(),
    rewardPoints: z.number().int(),
    window: z.string(),
    grace: z.string(),
    currency: z.literal('AUD'),
    holdoutPercent: z.number().int(),
    maxRewards: z.number().int().optional(),
    createdAt: Timestamp,
    counts: StateCounts.optional(),
    budget: Budget.optional().openapi({ description: 'With maxRewards: the slots taken and left' }),
  })
  .openapi('Campaign');

export const EnrollmentBody = z
  .strictObject({
    memberId: MemberId,
    enrolledAt: time({ notInFuture: true }).optional(),
  })
  .openapi('EnrollmentRequest');

const Group = z
  .enum(EXPERIMENT_GROUPS)
  .openapi('ExperimentGroup', { description: 'HOLDOUT: tracked like any other member, never rewarded, never told' });

export const EnrollmentResponse = z
  .object({
    campaignId: CampaignId,
    memberId: MemberId,
    group: Group,
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

const ScheduleChangeResponse = z
  .object({
    changedAt: Timestamp,
    requestedBy: z.string().optional(),
    reason: z.string(),
    operationId: z.string().optional().openapi({ description: 'The bulk operation that made the change' }),
    requestId: z.string().optional().openapi({
      description: 'The key of the request that made it: its Idempotency-Key, else the digest of what it asked',
    }),
    extendWindowBy: z.string().optional(),
    extendGraceBy: z.string().optional(),
    windowEndsAt: z.object({ from: Timestamp, to: Timestamp }),
    evaluatesAt: z.object({ from: Timestamp, to: Timestamp }),
  })
  .openapi('ScheduleChange');

/** What the member view and the explanation both start with: whose enrollment, its state and its calendar. */
const enrollmentBasics = {
  campaignId: CampaignId,
  memberId: MemberId,
  group: Group,
  state: z.enum(ACTIVATION_STATES),
  enrolledAt: Timestamp,
  windowEndsAt: Timestamp,
  evaluatesAt: Timestamp,
  targetCents: z.number().int(),
};

export const MemberResponse = z
  .object({
    ...enrollmentBasics,
    countedCents: z.number().int(),
    instantCents: z.number().int(),
    settledCents: z.number().int(),
    pendingCents: z.number().int(),
    remainingCents: z.number().int(),
    disqualifiedBy: z
      .object({
        transactionId: z.string(),
        amountCents: z.number().int(),
        channel: z.enum(WITHDRAWAL_CHANNELS),
        occurredAt: Timestamp,
      })
      .optional()
      .openapi({ description: 'The in-window withdrawal that disqualified the member (DISQUALIFIED)' }),
    reward: RewardResponse.optional(),
    scheduleChanges: z
      .array(ScheduleChangeResponse)
      .optional()
      .openapi({ description: "Operators' changes of this enrollment's deadlines, oldest first (absent: none)" }),
    updatedAt: Timestamp,
  })
  .openapi('Member');

/**
 * One event of a member stream (text/event-stream), as a reader of the stream sees it: the fields of the event. The
 * first block of the stream is `retry:` alone (no data, so no event of its own): how long an EventSource waits before
 * it reconnects.
 */
export const MemberEvent = z
  .object({
    id: ViewVersion.openapi({
      description: "The view's version: it only goes up. An EventSource sends the last one back as Last-Event-ID.",
      example: '7',
    }),
    event: z.enum(['member']).openapi({ description: 'Every event of the stream is a member view' }),
    data: z.string().openapi({
      description: 'The member view as GET …/members/{memberId} answers it, in JSON',
      contentMediaType: 'application/json',
      contentSchema: { $ref: '#/components/schemas/Member' },
    } as Record<string, unknown>),
    retry: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: 'Milliseconds an EventSource waits before it reconnects', example: 2000 }),
  })
  .openapi('MemberEvent', { description: 'One event of GET …/members/{memberId}/events' });

const ExplainedTransaction = z.object({
  transactionId: z.string(),
  kind: z.enum(TRANSACTION_KINDS),
  channel: z.enum(CHANNELS),
  amountCents: z.number().int(),
  occurredAt: Timestamp,
  status: z.enum(['INSTANT', 'PENDING', 'SETTLED', 'RETURNED', 'POSTED']),
  detail: z.string().optional(),
});

const VerdictResponse = z.object({
  outcome: z.enum(['ELIGIBLE', 'NOT_ELIGIBLE', 'DISQUALIFIED', 'CANCELLED']),
  decidedAt: Timestamp,
  countedCents: z.number().int(),
  targetCents: z.number().int(),
  reason: z.string(),
});

export const ExplanationResponse = z
  .object({
    ...enrollmentBasics,
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
    verdict: VerdictResponse.optional(),
    reward: RewardResponse.optional().openapi({
      description: 'After an ELIGIBLE verdict: credited, or why not (a failure, or the campaign budget spent)',
    }),
    scheduleChanges: z.array(ScheduleChangeResponse).optional(),
  })
  .openapi('Explanation');

const TrailPlace = {
  position: z.number().int().openapi({ description: "The line's place in the trail (1 is the first)" }),
  key: z.string(),
  type: z.string(),
  problem: z.string(),
};

export const ProofResponse = z
  .object({
    campaignId: CampaignId,
    memberId: MemberId,
    workflowId: z.string(),
    verified: z.boolean().openapi({
      description:
        'The chain holds, every claim in the trail follows from its facts, and the replay reaches what was recorded',
    }),
    lines: z.number().int(),
    chain: z.object({
      intact: z.boolean(),
      head: z.string().optional().openapi({ description: "The hash of the trail's last line" }),
      brokenAt: z.object(TrailPlace).optional(),
    }),
    replay: z.object({
      agrees: z.boolean(),
      divergence: z
        .object({ ...TrailPlace, expected: z.unknown().optional(), recorded: z.unknown().optional() })
        .optional(),
      state: z.enum(ACTIVATION_STATES),
      countedCents: z.number().int(),
      verdict: VerdictResponse.optional(),
      schedule: z.object({ enrolledAt: Timestamp, windowEndsAt: Timestamp, evaluatesAt: Timestamp }).optional(),
      replayed: z.number().int(),
    }),
    recorded: z.object({
      state: z.enum(ACTIVATION_STATES),
      countedCents: z.number().int(),
      verdict: VerdictResponse.optional(),
      agrees: z.boolean(),
      problem: z.string().optional(),
    }),
  })
  .openapi('Proof');

export const MAX_PROOF_PAGE = 1_000;
export const ProofsQuery = z.strictObject({
  after: MemberId.optional().openapi({ description: 'The last member id of the previous page' }),
  limit: z.coerce.number().int().min(1).max(MAX_PROOF_PAGE).default(500),
});

export const ProofPage = z
  .object({
    total: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Decided enrollments in the campaign (first page only)' }),
    items: z.array(
      z.object({
        memberId: MemberId,
        verified: z.boolean(),
        state: z.enum(ACTIVATION_STATES),
        chainIntact: z.boolean(),
        replayAgrees: z.boolean(),
        outcomeAgrees: z.boolean(),
        problem: z.string().optional(),
      }),
    ),
    next: MemberId.optional().openapi({ description: 'Pass as `after` for the next page; absent on the last' }),
  })
  .openapi('ProofPage');

const extension = {
  extendWindowBy: Duration(
    'extendWindowBy',
    extensionProblem,
    'P7D',
    `Added to windowEndsAt; evaluatesAt moves by the same (the grace period keeps its length). Longer than zero, at most ${MAX_TOTAL_EXTENSION}`,
  ).optional(),
  extendGraceBy: Duration(
    'extendGraceBy',
    extensionProblem,
    'PT24H',
    `Added to evaluatesAt (after any window extension). Longer than zero, at most ${MAX_TOTAL_EXTENSION}`,
  ).optional(),
};
const Reason = FreeText('reason', MAX_REASON_LENGTH)
  .refine((text) => text.trim() !== '', 'reason must not be empty')
  .openapi({ example: 'card processor outage on 2026-12-01' });

export const ScheduleChangeBody = z
  .strictObject({ ...extension, reason: Reason })
  .refine((b) => b.extendWindowBy !== undefined || b.extendGraceBy !== undefined, {
    message: 'give extendWindowBy, extendGraceBy or both',
  })
  .openapi('ScheduleChangeRequest');

/** Up to this many member ids in one selection (more: select by state, dates or amounts). */
export const MAX_SELECTED_MEMBER_IDS = 10_000;

export const OperationSelection = z
  .strictObject({
    states: z.array(z.enum(ACTIVATION_STATES)).min(1).max(ACTIVATION_STATES.length).optional(),
    evaluatesBefore: time().optional().openapi({ description: 'evaluatesAt earlier than this' }),
    evaluatesAfter: time().optional().openapi({ description: 'evaluatesAt at or after this' }),
    countedBelow: z.number().int().min(0).max(MAX_AMOUNT_CENTS).optional(),
    countedAtLeast: z.number().int().min(0).max(MAX_AMOUNT_CENTS).optional(),
    memberIds: z.array(MemberId).min(1).max(MAX_SELECTED_MEMBER_IDS).optional(),
  })
  .openapi('OperationSelection', { description: 'Every condition given must hold; none: every enrollment' });

export const OperationBody = z
  .strictObject({
    campaignId: CampaignId,
    select: OperationSelection.default({}),
    action: z.enum(OPERATION_ACTIONS),
    args: z.strictObject(extension).default({}).openapi({ description: 'EXTEND_SCHEDULE: the extension' }),
    reason: Reason,
    dryRun: z.boolean().optional().openapi({ description: 'Count and sample the selection; change nothing' }),
  })
  .superRefine((b, ctx) => {
    const extending = b.args.extendWindowBy !== undefined || b.args.extendGraceBy !== undefined;
    if (b.action === 'EXTEND_SCHEDULE' && !extending) {
      ctx.addIssue({
        code: 'custom',
        path: ['args'],
        message: 'EXTEND_SCHEDULE needs args.extendWindowBy, args.extendGraceBy or both',
      });
    }
    if (b.action !== 'EXTEND_SCHEDULE' && extending) {
      ctx.addIssue({ code: 'custom', path: ['args'], message: `${b.action} takes no args` });
    }
  })
  .openapi('OperationRequest');

export const OperationAccepted = z
  .object({ operationId: z.string(), state: z.enum(['SELECTING', 'RUNNING', 'COMPLETED', 'FAILED']) })
  .openapi('OperationAccepted');

export const OperationDryRun = z
  .object({
    dryRun: z.literal(true),
    count: z.number().int(),
    sample: z
      .array(
        z.object({
          memberId: z.string(),
          state: z.enum(ACTIVATION_STATES),
          countedCents: z.number().int(),
          evaluatesAt: Timestamp,
        }),
      )
      .openapi({ description: `The first ${DRY_RUN_SAMPLE} by member id` }),
  })
  .openapi('OperationDryRun');

/** An Idempotency-Key: the same request again with it is answered as the first was, and applied once. */
export const IdempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'Idempotency-Key must be 1–128 characters of A-Z, a-z, 0-9, _ . : -')
  .openapi({ example: 'extend-2026-12-07-M-1001' });

export const OperationId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'operationId must be 1–128 characters of A-Z, a-z, 0-9, _ . : -')
  .openapi({ example: 'op-3f2a…' });
export const OperationPath = z.object({ operationId: OperationId });

export const OperationResponse = z
  .object({
    operationId: z.string(),
    campaignId: z.string(),
    action: z.enum(OPERATION_ACTIONS),
    args: z.object({ extendWindowBy: z.string().optional(), extendGraceBy: z.string().optional() }),
    select: z.record(z.string(), z.unknown()),
    reason: z.string(),
    requestedBy: z.string().optional(),
    state: z.enum(['SELECTING', 'RUNNING', 'COMPLETED', 'FAILED']),
    selected: z.number().int().openapi({ description: 'Members in the snapshot of the selection' }),
    processed: z.number().int(),
    outcomes: z.object({
      changed: z.number().int(),
      refused: z.record(z.string(), z.number().int()).openapi({ description: 'By reason (ALREADY_DECIDED, …)' }),
      failed: z.number().int(),
      pending: z.number().int(),
    }),
    exceptions: z.array(z.object({ memberId: z.string(), outcome: z.string(), detail: z.string().optional() })),
    failure: z.string().optional(),
    createdAt: Timestamp,
    finishedAt: Timestamp.optional(),
  })
  .openapi('Operation');

export const CancelBody = z.strictObject({ reason: FreeText('reason', 500).optional() }).openapi('CancelRequest');

const transactionFields = {
  transactionId: z
    .string()
    .regex(TRANSACTION_ID_PATTERN, 'transactionId must be 1–128 characters of A-Z, a-z, 0-9, _ . : -')
    .openapi({ example: 'TX-20261122-0001' }),
  memberId: MemberId,
  amountCents: Cents,
  currency: z.literal('AUD'),
  occurredAt: time({ notInFuture: true }),
};
/** The channel must be one of the kind's: the document says so with one schema per kind. */
export const TransactionBody = z
  .discriminatedUnion('kind', [
    z
      .strictObject({
        ...transactionFields,
        kind: z.literal('LOAD'),
        channel: z.enum(LOAD_CHANNELS).openapi({
          description: 'DEBIT_CARD, APPLE_PAY, GOOGLE_PAY count at once; BPAY, BANK_TRANSFER once settled',
        }),
      })
      .openapi('Load'),
    z
      .strictObject({ ...transactionFields, kind: z.literal('WITHDRAWAL'), channel: z.enum(WITHDRAWAL_CHANNELS) })
      .openapi('Withdrawal'),
  ])
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
    note: FreeText('note', 2000)
      .trim()
      .min(1, 'note must say why')
      .openapi({ description: 'Why; not blank', pattern: '^[^\\u0000]*\\S[^\\u0000]*$' }),
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
const GroupRate = z.object({
  members: z.number().int().openapi({ description: 'Ended enrollments of the group (a verdict; opt-outs included)' }),
  activated: z.number().int().openapi({ description: 'Of them, those who reached the target in the window' }),
  rate: Share,
});
const LiftResponse = z
  .object({
    holdoutPercent: z.number().int(),
    treatment: GroupRate,
    holdout: GroupRate,
    difference: z
      .number()
      .nullable()
      .openapi({ description: "Treatment's activation rate minus the holdout's; null until both groups have members" }),
    confidenceInterval: z
      .object({ low: z.number(), high: z.number(), level: z.literal(0.95) })
      .nullable()
      .openapi({ description: 'Of the difference: normal approximation, unpooled (Wald)' }),
    incrementalActivated: z
      .number()
      .nullable()
      .openapi({ description: 'Treated members activated because of the campaign: difference × treated members' }),
    pointsIssued: z.number().int().openapi({ description: 'Points credited to the treatment group' }),
    pointsPerIncrementalActivation: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Incremental cost; null when the campaign activated no one more than the holdout' }),
  })
  .openapi('Lift');
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
    lift: LiftResponse,
    budget: z
      .object({
        ...budgetFields,
        exhausted: z
          .number()
          .int()
          .openapi({ description: 'Eligible members who found no slot left (BUDGET_EXHAUSTED)' }),
      })
      .nullable()
      .openapi({ description: 'The reward budget (maxRewards); null without one' }),
  })
  .openapi('CampaignReport');

export const BacktestBody = z
  .strictObject({
    targetCents: Cents.optional().openapi({ example: 30000 }),
    rewardPoints: RewardPoints.optional(),
    window: WindowDuration.optional(),
    grace: GraceDuration.optional(),
    maxRewards: PositiveCount()
      .optional()
      .openapi({ description: 'A budget to try: at most this many rewards (how many, not which members)' }),
    includeOpen: z
      .boolean()
      .default(false)
      .openapi({
        description:
          'Also the enrollments without a verdict yet: their outcome is projected on what they have heard so far ' +
          "(counted in each side's projected)",
      }),
  })
  .openapi('BacktestRequest', {
    description: "The terms to try; an omitted one is the campaign's own. No term at all replays the actual terms.",
  });

const VerdictOutcomeEnum = z.enum(['ELIGIBLE', 'NOT_ELIGIBLE', 'DISQUALIFIED', 'CANCELLED']);
const BacktestTerms = z.object({
  targetCents: z.number().int(),
  rewardPoints: z.number().int(),
  window: z.string(),
  grace: z.string(),
  maxRewards: z.number().int().optional(),
});
const BacktestLift = LiftResponse.omit({ holdoutPercent: true, pointsIssued: true });
const BacktestSide = z.object({
  outcomes: z.record(VerdictOutcomeEnum, z.number().int()).openapi({ description: 'Enrollments per verdict outcome' }),
  projected: z
    .number()
    .int()
    .openapi({ description: 'Of them, outcomes that are projections: the evaluatesAt of these terms is still ahead' }),
  rewards: z
    .number()
    .int()
    .openapi({ description: 'Treated members with an ELIGIBLE outcome who are credited (within the budget, if any)' }),
  budgetExhausted: z
    .number()
    .int()
    .openapi({ description: 'Treated members with an ELIGIBLE outcome past the budget (maxRewards): not credited' }),
  holdoutQualified: z.number().int().openapi({ description: 'Holdout members with an ELIGIBLE outcome (never paid)' }),
  pointsCost: z.number().int().openapi({ description: 'rewards × rewardPoints' }),
  lift: BacktestLift,
});
export const BacktestResponse = z
  .object({
    campaignId: CampaignId,
    generatedAt: Timestamp,
    includeOpen: z.boolean(),
    terms: z.object({ actual: BacktestTerms, whatIf: BacktestTerms }),
    enrollments: z.number().int().openapi({ description: 'Enrollments replayed' }),
    actual: BacktestSide.extend({
      pointsIssued: z.number().int().openapi({ description: 'Points actually credited so far' }),
    }).openapi({ description: 'The recorded verdicts (open enrollments: projected under the actual terms)' }),
    whatIf: BacktestSide.openapi({ description: 'The same enrollments under the what-if terms' }),
    flips: z.object({
      total: z.number().int(),
      byChange: z.array(z.object({ from: VerdictOutcomeEnum, to: VerdictOutcomeEnum, count: z.number().int() })),
      sample: z.array(
        z.object({
          memberId: MemberId,
          group: Group,
          from: VerdictOutcomeEnum,
          to: VerdictOutcomeEnum,
          countedCents: z.object({ actual: z.number().int(), whatIf: z.number().int() }),
          reason: z.string(),
        }),
      ),
    }),
    reproduction: z
      .object({
        checked: z.number().int(),
        agree: z.number().int(),
        disagree: z.number().int(),
        sample: z.array(z.object({ memberId: MemberId, problem: z.string() })),
      })
      .openapi({
        description:
          'The same replay under the actual terms, held against every recorded verdict: disagree should be 0 ' +
          '(the proof, GET …/proof, says why for a member that is not)',
      }),
    durationMs: z.number().int(),
  })
  .openapi('Backtest');
/** The gateway's word on who is calling; recorded with opt-outs, resolutions and settlement files, never checked. */
export const CallerId = z
  .string()
  .openapi({ example: 'ops-alice', description: 'Set by the gateway; recorded as given' });
export const CallerHeader = z.object({ 'X-Caller-Id': CallerId.optional() });

export const Health = z.object({ status: z.literal('ok') }).openapi('Health');
const ReadinessChecks = z
  .object({ postgres: z.boolean(), temporal: z.boolean() })
  .openapi('ReadinessChecks', { description: 'Whether each dependency answered within 2 s' });
export const Ready = z.object({ status: z.literal('ready'), checks: ReadinessChecks }).openapi('Ready');
export const NotReady = z.object({ status: z.literal('unavailable'), checks: ReadinessChecks }).openapi('NotReady');

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.string().openapi({
        example: 'VALIDATION_FAILED',
        description:
          'SCREAMING_SNAKE: VALIDATION_FAILED, INVALID_JSON, INVALID_SETTLEMENT_FILE, BAD_REQUEST, NOT_FOUND, ' +
          'CAMPAIGN_TERMS_IMMUTABLE, ALREADY_DECIDED, WINDOW_CLOSED, EXTENSION_LIMIT, REVIEW_ALREADY_RESOLVED, PAYLOAD_TOO_LARGE, ' +
          'UNSUPPORTED_MEDIA_TYPE, IDEMPOTENCY_KEY_REUSED, BACKTEST_BUSY, RECONCILE_BUSY, TOO_MANY_STREAMS, ' +
          'SERVICE_UNAVAILABLE',
      }),
      message: z.string().openapi({ description: 'For people; do not parse it' }),
      details: z.array(z.unknown()).openapi({ description: 'For VALIDATION_FAILED: the issues, each with its path' }),
    }),
  })
  .openapi('Error');

export const BacktestFrame = z
  .union([
    z.object({ progress: z.object({ done: z.number().int(), total: z.number().int() }) }),
    z.object({ result: BacktestResponse }),
    ErrorResponse,
  ])
  .openapi('BacktestFrame', {
    description:
      'One line of the application/x-ndjson answer: progress lines as pages are replayed, then the result, or an ' +
      'error if the backtest could not finish',
  });

export const ReconcileBody = z
  .strictObject({
    repair: z
      .boolean()
      .default(false)
      .openapi({
        description:
          'Deliver every missing piece of news again, on the one delivery path: a signal to an open run, late news ' +
          'for a closed one. It counts once however often it is delivered.',
      }),
    settleSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .optional()
      .openapi({
        description:
          'News accepted this many seconds before the start or later is left for the next run: it may still be on ' +
          'its way into its enrollment (default 60)',
      }),
  })
  .openapi('ReconcileRequest', { description: 'No body at all checks without repairing.' });

const MissingNewsItem = z.object({
  campaignId: CampaignId,
  memberId: MemberId,
  workflowId: z.string(),
  transactionId: z.string(),
  source: z.enum(['REALTIME', 'SETTLEMENT']),
  kind: z.string(),
  status: z.string().optional().openapi({ description: 'A settlement line: SETTLED or RETURNED' }),
  amountCents: z.number().int(),
  heardAt: Timestamp.openapi({ description: 'When the API or the settlement batch accepted it' }),
  batchId: z.string().optional(),
  repaired: z.boolean().optional().openapi({ description: 'With repair: delivered again' }),
});
export const ReconcileResponse = z
  .object({
    campaignId: CampaignId,
    startedAt: Timestamp,
    finishedAt: Timestamp,
    until: Timestamp.openapi({
      description:
        'News accepted up to this time was checked (a minute before the start: newer news may be on its way)',
    }),
    repair: z.boolean(),
    checked: z.number().int().openapi({ description: 'Pieces of news checked (one per enrollment it was sent to)' }),
    missing: z.number().int().openapi({ description: 'Accepted, and applied by no record of its enrollment' }),
    repaired: z.number().int(),
    missingNews: z.array(MissingNewsItem).openapi({ description: 'The first 1,000 missing, in enrollment order' }),
    durationMs: z.number().int(),
  })
  .openapi('Reconciliation');
export const ReconcileFrame = z
  .union([
    z.object({
      progress: z.object({ done: z.number().int(), total: z.number().int(), missing: z.number().int() }),
    }),
    z.object({ result: ReconcileResponse }),
    ErrorResponse,
  ])
  .openapi('ReconcileFrame', {
    description:
      'One line of the application/x-ndjson answer: progress lines as pages are checked, then the result, or an ' +
      'error if the reconciliation could not finish',
  });

export const LedgerRepairResponse = z
  .object({
    campaignId: CampaignId,
    checked: z.number().int().openapi({ description: 'Enrollments looked at' }),
    repaired: z.number().int().openapi({ description: 'Enrollments whose stored ledger was not the truth, made so' }),
    entriesWritten: z.number().int().openapi({ description: 'Entries written: missing, or different from the truth' }),
    entriesRemoved: z.number().int().openapi({ description: 'Entries removed: the truth does not have them' }),
    skipped: z.number().int().openapi({
      description:
        'Enrollments left for the next repair: an open one whose run could not be asked (closed meanwhile), or one that recorded something while it was repaired',
    }),
    members: z
      .array(
        z.object({
          memberId: MemberId,
          state: z.enum(ACTIVATION_STATES),
          written: z.number().int(),
          removed: z.number().int(),
        }),
      )
      .openapi({ description: 'The first 1,000 repaired, by member id' }),
    durationMs: z.number().int(),
  })
  .openapi('LedgerRepair');
export const LedgerRepairFrame = z
  .union([
    z.object({
      progress: z.object({ done: z.number().int(), total: z.number().int(), repaired: z.number().int() }),
    }),
    z.object({ result: LedgerRepairResponse }),
    ErrorResponse,
  ])
  .openapi('LedgerRepairFrame', {
    description: 'One line of the application/x-ndjson answer: progress lines as pages are checked, then the result',
  });

export type CampaignTermsInput = z.infer<typeof CampaignTermsBody>;
export type TransactionInput = z.infer<typeof TransactionBody>;
