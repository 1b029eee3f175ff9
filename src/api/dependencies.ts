/**
 * Which failures mean "a dependency is away" (a 503 with Retry-After, the caller should try again) rather than a
 * fault of ours (a 500): PostgreSQL unreachable, restarting, paused or out of connections; the Temporal frontend
 * unreachable or not answering within the call's deadline.
 */
import { WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';

export type Dependency = 'PostgreSQL' | 'Temporal';

/** How long a Temporal call from the API may take before the caller gets a 503 (contract: within a few seconds). */
export const TEMPORAL_CALL_DEADLINE_MS = 5_000;
/** What a 503 asks the caller to wait, in seconds. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * gRPC status codes: the frontend cannot be reached, did not answer in time, or sheds load. CANCELLED is how the
 * native client reports our own deadline passing ("Timeout expired"); the API cancels nothing else.
 */
const GRPC_UNAVAILABLE = new Set([
  1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 14 /* UNAVAILABLE */,
]);

/** Node's network errors: nobody listens, the connection broke, or the peer does not answer. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs: connection exceptions (class 08), the server shutting down or starting up, too many
 * connections, and a statement cancelled by statement_timeout (the server is too slow to answer in time).
 */
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '53400', '57014']);

/** pg's own messages when the server never answered, or went away mid-query. */
const PG_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Query read timeout',
  'Client has encountered a connection error',
  'connection timeout',
];

/** gRPC FAILED_PRECONDITION, as the server gives up on an update whose workflow task failed. */
const FAILED_PRECONDITION = 9;
const UPDATE_ABORTED = /workflow task failure|workflow task in failed state/i;

/**
 * The server gave up on an update because the workflow task it was delivered in failed (a continue-as-new that met new
 * news fails with UnhandledCommand, for one): nothing was applied, and the same update again is taken by the next
 * task. The API tries again within its deadline, then answers 503; the caller's retry is safe (the same update id).
 */
export function updateAborted(err: unknown): boolean {
  for (let e = err as Record<string, unknown> | undefined, depth = 0; e && depth < 8; depth++) {
    const text = `${typeof e.details === 'string' ? e.details : ''} ${typeof e.message === 'string' ? e.message : ''}`;
    if (e.code === FAILED_PRECONDITION && UPDATE_ABORTED.test(text)) return true;
    e = e.cause as Record<string, unknown> | undefined;
  }
  return false;
}

/** The dependency behind `err` when it is an unavailability, else undefined (a real error). Walks the causes. */
export function unavailableDependency(err: unknown): Dependency | undefined {
  if (updateAborted(err)) return 'Temporal';
  for (let e = err as Record<string, unknown> | undefined, depth = 0; e && depth < 8; depth++) {
    if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return 'Temporal';
    const code = e.code;
    if (typeof code === 'number' && GRPC_UNAVAILABLE.has(code) && ('details' in e || 'metadata' in e)) {
      return 'Temporal';
    }
    if (typeof code === 'string') {
      if (PG_UNAVAILABLE.has(code) || code.startsWith('08')) return 'PostgreSQL';
      // The API's only plain TCP peer is PostgreSQL (Temporal's failures arrive as gRPC statuses).
      if (NETWORK_CODES.has(code)) return 'PostgreSQL';
    }
    const message = typeof e.message === 'string' ? e.message : '';
    if (PG_MESSAGES.some((m) => message.includes(m))) return 'PostgreSQL';
    e = e.cause as Record<string, unknown> | undefined;
  }
  return undefined;
}
