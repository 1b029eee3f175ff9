/**
 * A server span per HTTP request, in whose context the rest of the request runs: the Temporal client call a handler
 * makes becomes its child, and so the workflow and its activities join the request's trace. An incoming
 * `traceparent` header is honoured, so a caller's trace continues here.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { RequestHandler } from 'express';
import { TRACER_NAME } from './tracing';

/** Probes and scrapes are not traced: they would drown the requests that matter. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

export function httpServerSpans(): RequestHandler {
  return (req, res, next) => {
    if (UNTRACED.has(req.path)) return next();
    // The global tracer, looked up per request: a stack started after this app was built may register the provider.
    const tracer = trace.getTracer(TRACER_NAME);
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: req.method, [ATTR_URL_PATH]: req.path } },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    // Body parsers and response listeners run from socket events, outside this call's async context: bind them.
    context.bind(ctx, req);
    context.bind(ctx, res);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      // The matched route's pattern once routing is done, never the raw path (member ids are not span names).
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : undefined;
      if (route) {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, route);
      }
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(ctx, next);
  };
}
