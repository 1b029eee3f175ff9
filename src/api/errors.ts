/** The contract's error body, and the mapping of every failure to it. Bad input is never a 500. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { z } from 'zod';
import type { Logger } from '../logger';
import { RETRY_AFTER_SECONDS, unavailableDependency } from './dependencies';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, 'NOT_FOUND', `${what} not found`);

/** Parses `value` with `schema`, or throws a 400 whose details are the zod issues located in `where`. */
export function parse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'path' | 'query' | 'header',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ApiError(
    400,
    'VALIDATION_FAILED',
    `invalid request ${where}: ${result.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; ')}`,
    result.error.issues.map((i) => ({ path: [where, ...i.path].join('.'), code: i.code, message: i.message })),
  );
}

export const unknownRoute: RequestHandler = (req, _res, next) =>
  next(new ApiError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`));

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const e = toApiError(err);
    logFailure(log, err, e, req);
    if (e.status === 503 || e.status === 429) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(e.status).json(errorBody(e));
  };
}

/** The contract's error body of any failure (an answer already under way reports its failure in this shape too). */
export const errorBody = (err: unknown): { error: { code: string; message: string; details: unknown[] } } => {
  const e = toApiError(err);
  return { error: { code: e.code, message: e.message, details: e.details ?? [] } };
};

export function logFailure(log: Logger, err: unknown, e: ApiError, req: { method: string; path: string }): void {
  if (e.status === 503) log.warn({ err, method: req.method, path: req.path }, e.message);
  else if (e.status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
}

export const serviceUnavailable = (dependency: string): ApiError =>
  new ApiError(503, 'SERVICE_UNAVAILABLE', `${dependency} is not available at the moment; try again shortly`, [
    { dependency },
  ]);

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const dependency = unavailableDependency(err);
  if (dependency) return serviceUnavailable(dependency);
  const e = err as { type?: string; status?: number; message?: string; limit?: number };
  // body-parser's own errors carry a `type`.
  if (e.type === 'entity.too.large') {
    return new ApiError(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${e.limit ?? 1048576} bytes`);
  }
  if (e.type === 'entity.parse.failed') return new ApiError(400, 'INVALID_JSON', `request body is not valid JSON`);
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported encoding');
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new ApiError(e.status, 'BAD_REQUEST', e.message ?? 'bad request');
  }
  return new ApiError(500, 'INTERNAL', 'internal error');
}

/** A long read (backtest, reconciliation, ledger repair) stopped because its caller hung up: nothing to answer. */
export class CallerGone extends Error {
  constructor(what: string) {
    super(`the ${what} was abandoned by its caller`);
    this.name = 'CallerGone';
  }
}
