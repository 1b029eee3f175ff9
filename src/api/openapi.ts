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
