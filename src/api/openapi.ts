/**
 * The OpenAPI document, generated from the same zod schemas the handlers validate with. It lists every status a route
 * can answer (app.ts and errors.ts decide them), so that a client generated from it is correct; the Schemathesis test
 * (test/outside/schemathesis.test.ts) holds the running API to it.
 *
 * OpenAPI 3.2: the first version that can describe an event stream, each event an item (`itemSchema`). zod-to-openapi
 * 8 generates 3.1 (JSON Schema 2020-12, as 3.2 has it too) and knows no `itemSchema`: `withStreamItems` moves each
 * event stream's schema there.
 */
import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { MAX_TOTAL_EXTENSION } from '../domain/schedule';
import { SETTLEMENT_HEADER } from '../domain/settlement';
import { RETRY_AFTER_SECONDS } from './dependencies';
import * as s from './schemas';

type Responses = RouteConfig['responses'];

const json = (schema: z.ZodType, description: string, extra: Partial<ResponseConfig> = {}): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
  ...extra,
});
const error = (description: string, extra: Partial<ResponseConfig> = {}) => json(s.ErrorResponse, description, extra);

const invalid = (what: string): Responses => ({
  400: error(`VALIDATION_FAILED: invalid ${what}; details lists the zod issues, each with its path`),
});
/** What express.json and the media-type guard answer on every route with a JSON body. */
const jsonBodyErrors: Responses = {
  400: error(
    'VALIDATION_FAILED: invalid input (details lists the zod issues, each with its path: path.…, body.…); ' +
      'INVALID_JSON: the body is not a JSON object or array',
  ),
  413: error('PAYLOAD_TOO_LARGE: the body is over 1 MiB'),
  415: error('UNSUPPORTED_MEDIA_TYPE: send the body as application/json, in UTF-8'),
};
const retryAfter = {
  'Retry-After': {
    description: `Seconds to wait before trying again (${RETRY_AFTER_SECONDS})`,
    required: true,
    schema: { type: 'integer' as const, minimum: 1 },
  },
};
/** Every route that reads or writes PostgreSQL or Temporal. */
const unavailable: Responses = {
  503: error('SERVICE_UNAVAILABLE: PostgreSQL or Temporal is away (details names it); nothing was changed', {
    headers: retryAfter,
  }),
};
const notFound = (what: string): Responses => ({ 404: error(`NOT_FOUND: ${what}`) });
const jsonBody = (schema: z.ZodType, description?: string) => ({
  required: true,
  ...(description ? { description } : {}),
  content: { 'application/json': { schema } },
});

/** Links for stateful clients (and Schemathesis): where a response's ids lead next. */
const memberLinks = {
  GetMember: {
    operationId: 'getMember',
    parameters: { campaignId: '$response.body#/campaignId', memberId: '$response.body#/memberId' },
    description: 'The member view of this enrollment',
  },
  ExplainMember: {
    operationId: 'explainMember',
    parameters: { campaignId: '$response.body#/campaignId', memberId: '$response.body#/memberId' },
    description: 'What counted and why',
  },
  CancelEnrollment: {
    operationId: 'cancelEnrollment',
    parameters: { campaignId: '$response.body#/campaignId', memberId: '$response.body#/memberId' },
    description: 'Opt this member out',
  },
};
const campaignLinks = {
  GetCampaign: {
    operationId: 'getCampaign',
    parameters: { campaignId: '$response.body#/campaignId' },
    description: 'The campaign and its counts',
  },
  EnrollMember: {
    operationId: 'enrollMember',
    parameters: { campaignId: '$response.body#/campaignId' },
    description: 'Enroll a member in this campaign',
  },
  GetCampaignReport: {
    operationId: 'getCampaignReport',
    parameters: { campaignId: '$response.body#/campaignId' },
    description: "The campaign's monitoring figures",
  },
};
const batchLinks = {
  GetSettlementBatch: {
    operationId: 'getSettlementBatch',
    parameters: { batchId: '$response.body#/batchId' },
    description: "The batch's progress and report",
  },
};

const TAGS = [
  { name: 'campaigns', description: 'Campaign terms (immutable once created) and monitoring figures' },
  { name: 'enrollments', description: 'One member in one campaign: a long-running workflow' },
  { name: 'transactions', description: 'The real-time feed of loads and withdrawals' },
  { name: 'settlements', description: "The bank's overnight settlement file" },
  { name: 'reviews', description: 'The manual review queue' },
  { name: 'bulk', description: 'One action over many enrollments, by query: extend, cancel, retry rewards' },
  { name: 'operations', description: 'Health, readiness, metrics and this document' },
];

type Document = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/**
 * OpenAPI 3.2's reading of an event stream: `itemSchema` describes each event (`schema` would be the whole stream, one
 * string). The routes declare each event's schema as the stream's `schema`; here it becomes the `itemSchema`.
 */
function withStreamItems(doc: Document): Document {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, { responses?: Record<string, unknown> }>)) {
      for (const response of Object.values(op?.responses ?? {})) {
        const content = (response as { content?: Record<string, Record<string, unknown>> }).content;
        const stream = content?.['text/event-stream'];
        if (!stream || !('schema' in stream)) continue;
        const { schema, ...rest } = stream;
        content['text/event-stream'] = { ...rest, itemSchema: schema };
      }
    }
  }
  return doc;
}

export function buildOpenApiDocument(): Document {
  const r = new OpenAPIRegistry();

  r.registerPath({
    method: 'put',
    path: '/v1/campaigns/{campaignId}',
    operationId: 'putCampaign',
    tags: ['campaigns'],
    summary: 'Create a campaign (terms are immutable once created)',
    request: { params: s.CampaignPath, body: jsonBody(s.CampaignTermsBody) },
    responses: {
      201: json(s.CampaignResponse, 'Created', { links: campaignLinks }),
      200: json(s.CampaignResponse, 'Identical terms already exist', { links: campaignLinks }),
      ...jsonBodyErrors,
      409: error('CAMPAIGN_TERMS_IMMUTABLE: the campaign exists with other terms (details: the existing campaign)'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}',
    operationId: 'getCampaign',
    tags: ['campaigns'],
    summary: 'Campaign terms and the number of enrollments per state',
    request: { params: s.CampaignPath },
    responses: {
      200: json(s.CampaignResponse, 'The campaign'),
      ...invalid('path parameter'),
      ...notFound('unknown campaign'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/report',
    operationId: 'getCampaignReport',
    tags: ['campaigns'],
    summary: 'Campaign monitoring: states, points issued, settlement discrepancies, late settlements, grace',
    request: { params: s.CampaignPath },
    responses: {
      200: json(s.CampaignReportResponse, 'The report'),
      ...invalid('path parameter'),
      ...notFound('unknown campaign'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/enrollments',
    operationId: 'enrollMember',
    tags: ['enrollments'],
    summary: 'Enroll a member (idempotent: never a second workflow)',
    request: { params: s.CampaignPath, body: jsonBody(s.EnrollmentBody) },
    responses: {
      201: json(s.EnrollmentResponse, 'Enrolled; the member workflow is running', { links: memberLinks }),
      200: json(s.EnrollmentResponse, 'Already enrolled; the same body as the first time', { links: memberLinks }),
      ...jsonBodyErrors,
      ...notFound('unknown campaign'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/members/{memberId}',
    operationId: 'getMember',
    tags: ['enrollments'],
    summary: "The member's balance view (read model, fresh within about a second)",
    request: { params: s.MemberPath },
    responses: {
      200: json(s.MemberResponse, 'The member view'),
      ...invalid('path parameter'),
      ...notFound('the member is not enrolled in this campaign'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/members/{memberId}/events',
    operationId: 'followMember',
    tags: ['enrollments'],
    summary:
      'The member view live, as Server-Sent Events: every change (a load counted, settled, returned; the goal; the verdict; the reward)',
    description:
      "A text/event-stream that stays open. Each event is `event: member`, `id:` the view's version, `data:` the member " +
      'view as GET …/members/{memberId} answers it. The first is the view as it stands, unless Last-Event-ID says the ' +
      'caller already has that version; then one for each newer version, as PostgreSQL reports the change of the read ' +
      'model (LISTEN/NOTIFY), so within a moment of the change. A browser EventSource reconnects by itself and sends ' +
      'Last-Event-ID; `retry:` asks it to wait 2 s. A comment line (`: heartbeat`) every EVENTS_HEARTBEAT keeps proxies ' +
      'from closing an idle stream. Versions are snapshots: a resumed stream gets the newest view, not each one missed. ' +
      'With maxSeconds the server ends the stream after that long.',
    request: {
      params: s.MemberPath,
      headers: z.object({
        'Last-Event-ID': z
          .string()
          .regex(/^\d{1,15}$/)
          .optional()
          .openapi({ description: 'The view version the caller has; only newer ones are sent', example: '12' }),
      }),
      query: s.MemberEventsQuery,
    },
    responses: {
      200: {
        description:
          'The stream (text/event-stream), each event a MemberEvent; it ends when the caller or the server closes it, ' +
          'or after maxSeconds',
        content: { 'text/event-stream': { schema: s.MemberEvent } },
      },
      ...invalid('path parameter, Last-Event-ID, lastEventId or maxSeconds'),
      ...notFound('the member is not enrolled in this campaign'),
      429: error('TOO_MANY_STREAMS: this API instance holds EVENTS_MAX_STREAMS streams open', { headers: retryAfter }),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/members/{memberId}/explanation',
    operationId: 'explainMember',
    tags: ['enrollments'],
    summary: 'Every transaction counted or excluded, with reasons, and the verdict',
    request: { params: s.MemberPath },
    responses: {
      200: json(s.ExplanationResponse, 'The explanation'),
      ...invalid('path parameter'),
      ...notFound('the member is not enrolled in this campaign'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/members/{memberId}/proof',
    operationId: 'proveMember',
    tags: ['enrollments'],
    summary: 'Re-derive the verdict from the audit trail alone, and check its hash chain',
    description:
      'Reads the append-only audit trail (the news as received, the schedule and its changes, the verdict, the ' +
      "reward's outcome), checks that every line is chained to the one before it, replays the facts through the " +
      'rules and compares every claim (each state change, each verdict) with what they make of it. verified is true ' +
      'when the chain holds, the replay agrees, and it reaches the verdict and amount the member view recorded; ' +
      'otherwise chain.brokenAt, replay.divergence or recorded.problem says where.',
    request: { params: s.MemberPath },
    responses: {
      200: json(s.ProofResponse, 'The proof (verified or not: see verified)'),
      ...invalid('path parameter'),
      ...notFound('the member is not enrolled in this campaign'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/proofs',
    operationId: 'proveCampaign',
    tags: ['enrollments'],
    summary: "A page of proofs of the campaign's decided enrollments, in member id order",
    description:
      "What `npm run cli -- verify` walks: pass the previous page's next as after until a page has no next. The first " +
      'page (no after) also says how many decided enrollments there are.',
    request: { params: s.CampaignPath, query: s.ProofsQuery },
    responses: {
      200: json(s.ProofPage, 'One page'),
      ...invalid('path parameter or query'),
      ...notFound('no such campaign'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/backtest',
    operationId: 'backtestCampaign',
    tags: ['campaigns'],
    summary: "What-if terms: the campaign's recorded enrollments replayed under other terms, beside what happened",
    description:
      'Each decided enrollment (all of them with includeOpen) is replayed from its audit trail: the news it heard, when ' +
      'it heard it, its moved deadlines and opt-out, through the same rules that decided its real verdict, once under ' +
      "the campaign's terms (which must reach the recorded verdict: reproduction) and once under the terms given. " +
      'The answer counts the verdicts of both, the points each would cost, the members whose verdict flips (counts and ' +
      'a sample) and the lift of each. Nothing is changed, nobody is rewarded. It replays what members did: it cannot ' +
      'know how they would have behaved under other terms. With Accept: application/x-ndjson the answer streams a ' +
      'progress line per page, then the result (the CLI shows a progress bar from it); a large campaign should be ' +
      'asked so, as the plain JSON answer comes only at the end.',
    // No body at all replays the actual terms alone: the reproduction check.
    request: { params: s.CampaignPath, body: { ...jsonBody(s.BacktestBody), required: false } },
    responses: {
      200: {
        description: 'The comparison (or, streamed, progress lines and then it)',
        content: {
          'application/json': { schema: s.BacktestResponse },
          'application/x-ndjson': { schema: s.BacktestFrame },
        },
      },
      ...jsonBodyErrors,
      ...notFound('unknown campaign'),
      429: error('BACKTEST_BUSY: as many backtests as this API instance runs at once are running', {
        headers: retryAfter,
      }),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/ledgers/repair',
    operationId: 'repairLedgers',
    tags: ['campaigns'],
    summary: "Make the campaign's stored ledgers whole: each explanation adds up to its balance again",
    description:
      'A one-time repair after the upgrade that brought the patch safe-seams, safe to run again: before it, a record ' +
      'that landed after another with the same version lost its ledger entries, so a stored ledger (what the ' +
      'explanation, the report and the backtest read) could lack loads its member view counts. Each enrollment with a ' +
      'verdict gets the ledger its audit trail received, in order, through the rules; each open one whose stored ' +
      "ledger does not add up to its member view gets the run's own. Entries that differ are written, entries the " +
      'truth lacks are removed; the member views are not touched. A page of enrollments at a time; with Accept: ' +
      'application/x-ndjson a progress line per page, then the result.',
    request: { params: s.CampaignPath },
    responses: {
      200: {
        description: 'What was repaired (or, streamed, progress lines and then it)',
        content: {
          'application/json': { schema: s.LedgerRepairResponse },
          'application/x-ndjson': { schema: s.LedgerRepairFrame },
        },
      },
      ...invalid('campaign id'),
      ...notFound('unknown campaign'),
      429: error('RECONCILE_BUSY: as many reconciliations and repairs as this API instance runs at once are running', {
        headers: retryAfter,
      }),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/reconcile',
    operationId: 'reconcileCampaign',
    tags: ['campaigns'],
    summary:
      'Every piece of news the campaign accepted, accounted for by its enrollment (and, with repair, delivered again)',
    description:
      'The API and the settlement batch record each piece of news they accept for an enrollment before they ' +
      'acknowledge or send it. This holds that record against what each enrollment applied: its stored ledger, its ' +
      'audit trail (received, rejected or late), and for a run still open, the run itself. What none accounts for is ' +
      'missing: counted, the first 1,000 listed, and with repair delivered again (it counts once however often it ' +
      'comes). News from the last minute is left for the next run. A page at a time, so a million enrollments take ' +
      'the memory a thousand do; with Accept: application/x-ndjson the answer streams a progress line per page, then ' +
      'the result. Each run is kept: /metrics shows the latest per campaign (activation_reconcile_missing_events).',
    request: { params: s.CampaignPath, body: { ...jsonBody(s.ReconcileBody), required: false } },
    responses: {
      200: {
        description: 'The reconciliation (or, streamed, progress lines and then it)',
        content: {
          'application/json': { schema: s.ReconcileResponse },
          'application/x-ndjson': { schema: s.ReconcileFrame },
        },
      },
      ...jsonBodyErrors,
      ...notFound('unknown campaign'),
      429: error(
        'RECONCILE_BUSY: as many reconciliations and ledger repairs as this API instance runs at once are running',
        {
          headers: retryAfter,
        },
      ),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/members/{memberId}/cancel',
    operationId: 'cancelEnrollment',
    tags: ['enrollments'],
    summary: 'Opt the member out before the verdict',
    request: {
      params: s.MemberPath,
      headers: s.CallerHeader,
      // No body at all is the same as {}.
      body: { ...jsonBody(s.CancelBody), required: false },
    },
    responses: {
      200: json(
        s.MemberResponse,
        'Cancelled: the member view in state CANCELLED (asked again for a member already opted out: the same answer)',
      ),
      ...jsonBodyErrors,
      ...notFound('the member is not enrolled in this campaign'),
      409: error('ALREADY_DECIDED: the enrollment has a verdict (details: its state)'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/members/{memberId}/schedule',
    operationId: 'changeSchedule',
    tags: ['enrollments'],
    summary: "Move an open enrollment's deadlines later (the campaign's terms stay as they are)",
    description:
      'extendWindowBy moves windowEndsAt and evaluatesAt; extendGraceBy moves evaluatesAt. The durable timers move, ' +
      'and the window rule uses the new windowEndsAt for every transaction at once: a load that only the new window ' +
      'holds counts (the explanation says so), a withdrawal that only it holds disqualifies. Each change is in the ' +
      "member view's scheduleChanges and the audit trail with X-Caller-Id, the reason, and the old and new times. " +
      'Safe to retry: a request is made once per Idempotency-Key, or without one once per content (the same ' +
      'extensions and reason); the retry of one answered 503 answers what the first did.',
    request: {
      params: s.MemberPath,
      headers: z.object({ 'Idempotency-Key': s.IdempotencyKey.optional(), 'X-Caller-Id': s.CallerId.optional() }),
      body: jsonBody(s.ScheduleChangeBody),
    },
    responses: {
      200: json(
        s.MemberResponse,
        'Moved: the member view with the new deadlines; or, asked again (the same Idempotency-Key, or without one the ' +
          'same change), the view with the change it made the first time, not made twice',
      ),
      ...jsonBodyErrors,
      ...notFound('the member is not enrolled in this campaign'),
      422: error(
        'IDEMPOTENCY_KEY_REUSED: this Idempotency-Key made another change of these deadlines; nothing changed',
      ),
      409: error(
        'ALREADY_DECIDED: the enrollment has a verdict or its evaluatesAt has passed; WINDOW_CLOSED: the window has ' +
          `ended (only extendGraceBy can still move); EXTENSION_LIMIT: the deadlines would move more than ${MAX_TOTAL_EXTENSION} ` +
          "past the campaign's calendar in all (details: the state)",
      ),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/transactions',
    operationId: 'postTransaction',
    tags: ['transactions'],
    summary: 'Real-time load or withdrawal; applies to every open enrollment of the member',
    description: 'Posting the same transaction again is harmless: it counts once.',
    request: { body: jsonBody(s.TransactionBody, 'A load or a withdrawal; the channel must be one of its kind') },
    responses: {
      202: json(s.TransactionResponse, 'Durably handed to the member workflows'),
      ...jsonBodyErrors,
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/settlements',
    operationId: 'submitSettlement',
    tags: ['settlements'],
    summary: 'Submit an overnight settlement file (CSV, streamed; any size)',
    description:
      'A malformed data line is rejected with its line number and reason and never stops the rest. The batch id is ' +
      'the Idempotency-Key, else the SHA-256 of the body; the same batch again is answered 200 and applied once.',
    request: {
      headers: z.object({ 'Idempotency-Key': s.BatchId.optional(), 'X-Caller-Id': s.CallerId.optional() }),
      body: {
        required: true,
        content: {
          'text/csv': {
            schema: z.string().openapi({
              description:
                'The header line, then one line per record (UTF-8; a BOM, quotes and blanks around the header names ' +
                'are tolerated). A malformed data line is rejected with its reason, never the file.',
              pattern: `^\\uFEFF?${SETTLEMENT_HEADER}(\\r|\\n|$)`,
              example:
                'transactionId,memberId,kind,amountCents,currency,channel,occurredAt,settledAt,status\n' +
                'TX-1,M-1001,LOAD,25000,AUD,BPAY,2026-11-22T09:30:00Z,2026-11-23T02:00:00Z,SETTLED\n',
            }),
          },
        },
      },
    },
    responses: {
      202: json(
        s.SettlementAccepted,
        'Staged; the batch workflow applies it (batchId: Idempotency-Key, else SHA-256)',
        {
          links: batchLinks,
        },
      ),
      200: json(s.SettlementAccepted, 'This batch was submitted before; it is applied once', { links: batchLinks }),
      400: error(
        'INVALID_SETTLEMENT_FILE: empty, or line 1 is not the header; VALIDATION_FAILED: invalid Idempotency-Key',
      ),
      415: error('UNSUPPORTED_MEDIA_TYPE: send the file as text/csv'),
      422: error(
        'IDEMPOTENCY_KEY_REUSED: this Idempotency-Key came with another file (details: the batch); nothing applied',
      ),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/settlements/{batchId}',
    operationId: 'getSettlementBatch',
    tags: ['settlements'],
    summary: 'Progress and reconciliation report of a settlement batch',
    request: { params: s.BatchPath },
    responses: {
      200: json(s.SettlementReport, 'The batch'),
      ...invalid('path parameter'),
      ...notFound('unknown batch'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/reviews',
    operationId: 'listReviews',
    tags: ['reviews'],
    summary: 'Manual review items, oldest first',
    request: { query: s.ReviewsQuery },
    responses: {
      200: json(s.ReviewList, 'Review items, oldest first (at most 1000)', {
        links: {
          ResolveReview: {
            operationId: 'resolveReview',
            parameters: { id: '$response.body#/items/0/id' },
            description: 'Resolve the oldest item listed',
          },
        },
      }),
      ...invalid('query (only state and campaignId, each once)'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/reviews/{id}/resolve',
    operationId: 'resolveReview',
    tags: ['reviews'],
    summary: 'Resolve a review: RETRY_REWARD (same idempotency key) or DISMISS, with a note',
    request: { params: s.ReviewPath, headers: s.CallerHeader, body: jsonBody(s.ResolveBody) },
    responses: {
      200: json(
        s.ReviewItem,
        'Resolved; or, asked again with the same decision (a retry after a 503), the review as it was resolved',
      ),
      ...jsonBodyErrors,
      ...notFound('unknown review, or (RETRY_REWARD) its enrollment'),
      409: error('REVIEW_ALREADY_RESOLVED: resolved with another decision (details: the resolution)'),
      ...unavailable,
    },
  });

  r.registerPath({
    method: 'post',
    path: '/v1/operations',
    operationId: 'startOperation',
    tags: ['bulk'],
    summary: 'Apply EXTEND_SCHEDULE, CANCEL or RETRY_REWARD to every enrollment a selection picks',
    description:
      'The selection is taken once, when the operation starts (a snapshot by member id); a Temporal workflow then ' +
      'pages through it with bounded concurrency, resumable after a crash. Each member is changed at most once per ' +
      'operation (the update id is operation + member), and each change is in the member audit trail with the ' +
      'operation id. Members that refuse (already decided, say) are counted with the reason. dryRun: count and sample. ' +
      'Safe to retry: the operation is the same one for the same Idempotency-Key, or without one for the same content ' +
      '(selection, action, arguments, reason and caller); a retry after a 503 answers 200 with it, and it runs once.',
    request: {
      headers: z.object({ 'Idempotency-Key': s.OperationId.optional(), 'X-Caller-Id': s.CallerId.optional() }),
      body: jsonBody(s.OperationBody),
    },
    responses: {
      202: json(s.OperationAccepted, 'Started (its id is the Idempotency-Key if one was sent)', {
        links: {
          GetOperation: {
            operationId: 'getOperation',
            parameters: { operationId: '$response.body#/operationId' },
            description: 'Follow the operation',
          },
        },
      }),
      200: json(
        z.union([s.OperationDryRun, s.OperationAccepted]),
        'dryRun: the count and a sample; or the operation this request (its Idempotency-Key, or its content) started before',
      ),
      ...jsonBodyErrors,
      ...notFound('unknown campaign'),
      422: error('IDEMPOTENCY_KEY_REUSED: this Idempotency-Key came with another operation; nothing started'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/operations/{operationId}',
    operationId: 'getOperation',
    tags: ['bulk'],
    summary: 'Progress and outcome counts of a bulk operation',
    request: { params: s.OperationPath },
    responses: {
      200: json(s.OperationResponse, 'The operation'),
      ...invalid('path parameter'),
      ...notFound('unknown operation'),
      ...unavailable,
    },
  });
  r.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    tags: ['operations'],
    summary: 'Liveness: the process answers (no dependency is asked)',
    responses: { 200: json(s.Health, 'Alive') },
  });
  r.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'ready',
    tags: ['operations'],
    summary: 'Readiness: PostgreSQL and Temporal reachable',
    responses: {
      200: json(s.Ready, 'Both answer'),
      503: json(s.NotReady, 'At least one does not answer (checks says which)', { headers: retryAfter }),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tags: ['operations'],
    summary: 'Prometheus metrics: HTTP, campaign figures (activation_*), the Temporal SDK',
    responses: {
      200: {
        description: 'Prometheus text exposition format 0.0.4',
        content: { 'text/plain': { schema: z.string() } },
      },
    },
  });
  r.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApiDocument',
    tags: ['operations'],
    summary: 'This document',
    responses: {
      200: json(
        z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }),
        'The OpenAPI 3.2 document',
      ),
    },
  });

  const doc = new OpenApiGeneratorV31(r.definitions).generateDocument({
    openapi: '3.2.0',
    info: {
      title: 'Cold member activation API',
      version: '1.0.0',
      description:
        'Internal service behind the gateway, which authenticates callers; identity arrives as the X-Caller-Id ' +
        'header. Errors always have the Error shape. An unknown route or method is 404 NOT_FOUND.',
    },
    tags: TAGS,
  });
  return withStreamItems(doc);
}
