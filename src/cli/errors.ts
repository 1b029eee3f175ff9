/**
 * How a CLI run can fail, and the exit code and message each failure gets. Scripts branch on the exit code, so
 * every failure maps to exactly one; people read the message, so each says what to do next.
 */
import { formatApiError, type ApiErrorBody } from './format';

export const EXIT = {
  OK: 0,
  /** The API answered an error, or the settlement batch FAILED. */
  FAILED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  /** Ctrl-C, as a shell reports it (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

/** The API answered with its error body (`{"error":{code,message,details}}`). */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly error: ApiErrorBody,
    /** The body as received, for `--json`. */
    readonly body: unknown,
  ) {
    super(`${error.code}: ${error.message}`);
    this.name = 'ApiCallError';
  }
}

/** Something answered that is not the API (a wrong `--api`, a proxy's error page). */
export class UnexpectedResponseError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`unexpected answer from ${url} (HTTP ${status}): ${detail}`);
    this.name = 'UnexpectedResponseError';
  }
}

/** Nothing answered: refused, unknown host, timed out. */
export class UnreachableError extends Error {
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach the API at ${baseUrl} (${reason})`);
    this.name = 'UnreachableError';
  }
}

/** The command line was fine but names something unusable, such as a file that cannot be read. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** The operator pressed Ctrl-C. */
export class InterruptedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InterruptedError';
  }
}

export interface Failure {
  exitCode: number;
  /** For stderr. */
  message: string;
  /** For stdout under `--json`: the API's own error body, so scripts parse one shape. */
  json?: unknown;
}

export function describeFailure(err: unknown): Failure {
  if (err instanceof ApiCallError) {
    return { exitCode: EXIT.FAILED, message: `error: ${formatApiError(err.error)}`, json: err.body };
  }
  if (err instanceof UnreachableError) {
    return {
      exitCode: EXIT.UNREACHABLE,
      message:
        `error: ${err.message}.\n` + `Is it running? Start it with "npm start", or point --api (or API_URL) at it.`,
    };
  }
  if (err instanceof UnexpectedResponseError) {
    return { exitCode: EXIT.FAILED, message: `error: ${err.message}. Does --api point at the activation API?` };
  }
  if (err instanceof CliUsageError) return { exitCode: EXIT.USAGE, message: `error: ${err.message}` };
  if (err instanceof InterruptedError) return { exitCode: EXIT.INTERRUPTED, message: err.message };
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { exitCode: EXIT.FAILED, message: `error: ${message}` };
}
