/** The OpenAPI document, generated from the same zod schemas the handlers validate with. */
import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import * as s from './schemas';

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(s.ErrorResponse, description);

export function buildOpenApiDocument(): ReturnType<OpenApiGeneratorV3['generateDocument']> {
  const r = new OpenAPIRegistry();

  r.registerPath({
    method: 'put',
    path: '/v1/campaigns/{campaignId}',
    summary: 'Create a campaign (terms are immutable once created)',
    request: { params: s.CampaignPath, body: { content: { 'application/json': { schema: s.CampaignTermsBody } } } },
    responses: {
      201: json(s.CampaignResponse, 'Created'),
      200: json(s.CampaignResponse, 'Identical terms already exist'),
      400: error('Invalid input'),
      409: error('CAMPAIGN_TERMS_IMMUTABLE: the campaign exists with other terms'),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}',
    summary: 'Campaign terms and the number of enrollments per state',
    request: { params: s.CampaignPath },
    responses: { 200: json(s.CampaignResponse, 'The campaign'), 404: error('Unknown campaign') },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/enrollments',
    summary: 'Enroll a member (idempotent: never a second workflow)',
    request: { params: s.CampaignPath, body: { content: { 'application/json': { schema: s.EnrollmentBody } } } },
    responses: {
      201: json(s.EnrollmentResponse, 'Enrolled; the member workflow is running'),
      200: json(s.EnrollmentResponse, 'Already enrolled; the same body as the first time'),
      400: error('Invalid input'),
      404: error('Unknown campaign'),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/members/{memberId}',
    summary: "The member's balance view (read model, fresh within about a second)",
    request: { params: s.MemberPath },
    responses: { 200: json(s.MemberResponse, 'The member view'), 404: error('Not enrolled') },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/members/{memberId}/explanation',
    summary: 'Every transaction counted or excluded, with reasons, and the verdict',
    request: { params: s.MemberPath },
    responses: { 200: json(s.ExplanationResponse, 'The explanation'), 404: error('Not enrolled') },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/campaigns/{campaignId}/members/{memberId}/cancel',
    summary: 'Opt the member out before the verdict',
    request: { params: s.MemberPath, body: { content: { 'application/json': { schema: s.CancelBody } } } },
    responses: {
      200: json(s.MemberResponse, 'Cancelled'),
      404: error('Not enrolled'),
      409: error('ALREADY_DECIDED: the enrollment has a verdict'),
    },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/transactions',
    summary: 'Real-time load or withdrawal; applies to every open enrollment of the member',
    request: { body: { content: { 'application/json': { schema: s.TransactionBody } } } },
    responses: { 202: json(s.TransactionResponse, 'Durably handed to the member workflows'), 400: error('Invalid') },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/settlements',
    summary: 'Submit an overnight settlement file (CSV, streamed; any size)',
    request: {
      headers: z.object({ 'Idempotency-Key': s.BatchId.optional() }),
      body: {
        content: {
          'text/csv': {
            schema: z.string().openapi({
              example:
                'transactionId,memberId,kind,amountCents,currency,channel,occurredAt,settledAt,status\n' +
                'TX-1,M-1001,LOAD,25000,AUD,BPAY,2026-11-22T09:30:00Z,2026-11-23T02:00:00Z,SETTLED\n',
            }),
          },
        },
      },
    },
    responses: {
      202: json(s.SettlementAccepted, 'Staged; the batch workflow applies it (batchId: Idempotency-Key, else SHA-256)'),
      200: json(s.SettlementAccepted, 'This batch was submitted before; it is applied once'),
      400: error('Not a settlement file (missing or wrong header)'),
      415: error('Send it as text/csv'),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/settlements/{batchId}',
    summary: 'Progress and reconciliation report of a settlement batch',
    request: { params: s.BatchPath },
    responses: { 200: json(s.SettlementReport, 'The batch'), 404: error('Unknown batch') },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/reviews',
    summary: 'Manual review items',
    request: { query: s.ReviewsQuery },
    responses: { 200: json(s.ReviewList, 'Review items, oldest first'), 400: error('Invalid query') },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/reviews/{id}/resolve',
    summary: 'Resolve a review: RETRY_REWARD (same idempotency key) or DISMISS, with a note',
    request: { params: s.ReviewPath, body: { content: { 'application/json': { schema: s.ResolveBody } } } },
    responses: {
      200: json(s.ReviewItem, 'Resolved'),
      400: error('Invalid input'),
      404: error('Unknown review'),
      409: error('REVIEW_ALREADY_RESOLVED'),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/campaigns/{campaignId}/report',
    summary: 'Campaign monitoring: states, points issued, settlement discrepancies, late settlements, grace',
    request: { params: s.CampaignPath },
    responses: { 200: json(s.CampaignReportResponse, 'The report'), 404: error('Unknown campaign') },
  });
  for (const [path, summary] of [
    ['/healthz', 'Liveness'],
    ['/readyz', 'Readiness: PostgreSQL and Temporal reachable'],
    ['/metrics', 'Prometheus metrics (text)'],
  ] as const) {
    r.registerPath({ method: 'get', path, summary, responses: { 200: { description: 'OK' } } });
  }

  return new OpenApiGeneratorV3(r.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Cold member activation API',
      version: '1.0.0',
      description:
        'Internal service behind the gateway, which authenticates callers; identity arrives as the X-Caller-Id header.',
    },
  });
}
