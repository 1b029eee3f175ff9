/**
 * The CLI's HTTP client for API v1. It tells apart the ways a call can end badly, because each has its own exit
 * code: the API answered with an error body (`ApiCallError`), something answered that is not the API
 * (`UnexpectedResponseError`), nothing answered (`UnreachableError`), or the operator gave up (`InterruptedError`).
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiCallError, InterruptedError, UnexpectedResponseError, UnreachableError } from './errors';
import type { ApiErrorBody } from './format';

/** Silence allowed on a GET or a small POST. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Silence allowed on an upload: after the last byte the API commits the staged file (1M lines) before answering. */
const UPLOAD_IDLE_TIMEOUT_MS = 300_000;

export interface Answer<T> {
  status: number;
  body: T;
}

export interface ApiClient {
  readonly baseUrl: string;
  get<T>(path: string): Promise<T>;
  postJson<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  /** Streams `body` as `text/csv`: it is read as the request is sent, never held whole. */
  postCsv<T>(path: string, body: AsyncIterable<Uint8Array>, headers?: Record<string, string>): Promise<Answer<T>>;
  /**
   * Asks for `application/x-ndjson` and hands each line of a 2xx answer to `onLine` as it arrives (an error answer
   * throws as usual). `idleTimeoutMs`: the longest silence between lines.
   */
  postJsonLines(path: string, body: unknown, onLine: (line: unknown) => void): Promise<void>;
  /**
   * Reads a Server-Sent Events stream (GET, `Accept: text/event-stream`, `Last-Event-ID` if given), handing each event
   * to `onEvent` as it arrives; resolves when the server ends the stream. An error answer throws as usual. Silence
   * longer than `idleTimeoutMs` (no event, no heartbeat) is a broken connection.
   */
  events(
    path: string,
    opts: { lastEventId?: string; idleTimeoutMs: number },
    onEvent: (e: ServerSentEvent) => void,
  ): Promise<void>;
}

export interface ServerSentEvent {
  id?: string;
  event: string;
  data: string;
}

/** Parses a Server-Sent Events stream chunk by chunk (the WHATWG rules this API's streams need: id, event, data). */
export function sseParser(onEvent: (e: ServerSentEvent) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) onEvent({ ...(id !== undefined ? { id } : {}), event, data: data.join('\n') });
    }
  };
}

/** Encodes one path segment (ids come from the operator's command line). */
export const segment = (value: string): string => encodeURIComponent(value);

interface RawAnswer {
  status: number;
  contentType: string | undefined;
  text: string;
}

interface RawRequest {
  method: 'GET' | 'POST';
  /** A 2xx answer's lines as they arrive (application/x-ndjson); the answer's text is then empty. */
  onLine?: (line: string) => void;
  /** A 2xx answer's text as it arrives (a stream); the answer's text is then empty. */
  onText?: (chunk: string) => void;
  headers: Record<string, string>;
  body?: string | AsyncIterable<Uint8Array>;
  /** Longest silence on the socket before giving up. */
  idleTimeoutMs: number;
  signal: AbortSignal;
}

/** The caller's own handler of a streamed answer threw: what it threw is the outcome, not a network failure. */
class CallerStopped extends Error {
  constructor(readonly thrown: unknown) {
    super('stopped by the caller');
  }
}

/**
 * node:http rather than fetch: fetch refuses "bad ports" (1, 6000, 6665-6669, 10080, …) that an API may well listen
 * on, and its timeouts cover a whole upload where only silence should count.
 */
function send(url: URL, req: RawRequest): Promise<RawAnswer> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<RawAnswer>((resolve, reject) => {
    const request = transport.request(url, { method: req.method, headers: req.headers, signal: req.signal });
    request.setTimeout(req.idleTimeoutMs, () =>
      request.destroy(
        Object.assign(new Error(`no answer within ${req.idleTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' }),
      ),
    );
    request.once('error', reject);
    request.once('response', (res) => {
      const chunks: Buffer[] = [];
      const status = res.statusCode ?? 0;
      if (req.onText && status >= 200 && status < 300) {
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          try {
            req.onText!(c);
          } catch (err) {
            request.destroy();
            reject(new CallerStopped(err));
          }
        });
        res.once('error', reject);
        res.once('end', () => resolve({ status, contentType: res.headers['content-type'], text: '' }));
        return;
      }
      if (req.onLine && status >= 200 && status < 300) {
        let partial = '';
        res.setEncoding('utf8');
        const take = (lines: string[]): boolean => {
          try {
            for (const line of lines) if (line.trim() !== '') req.onLine!(line);
            return true;
          } catch (err) {
            request.destroy();
            reject(new CallerStopped(err));
            return false;
          }
        };
        res.on('data', (c: string) => {
          const lines = (partial + c).split('\n');
          partial = lines.pop() ?? '';
          take(lines);
        });
        res.once('error', reject);
        res.once('end', () => {
          if (take([partial])) resolve({ status, contentType: res.headers['content-type'], text: '' });
        });
        return;
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    if (typeof req.body === 'string' || req.body === undefined) {
      request.end(req.body);
      return;
    }
    // Streams with backpressure: the next chunk is read only when the socket has taken the last one. An answer
    // before the end (the API rejecting the header) settles the promise; the pipeline's own error then does not.
    pipeline(Readable.from(req.body), request).catch(reject);
  });
}

/** `interrupt`: aborted on Ctrl-C; it cancels whatever request is in flight. */
export function createClient(baseUrl: string, interrupt: AbortSignal = new AbortController().signal): ApiClient {
  const call = async <T>(path: string, req: Omit<RawRequest, 'signal'>): Promise<Answer<T>> => {
    const url = `${baseUrl}${path}`;
    let raw: RawAnswer;
    try {
      raw = await send(new URL(url), { ...req, signal: interrupt });
    } catch (err) {
      if (err instanceof CallerStopped) throw err.thrown;
      if (interrupt.aborted) throw new InterruptedError(`interrupted: ${req.method} ${path} was cancelled`);
      throw new UnreachableError(baseUrl, networkReason(err));
    }
    return readAnswer<T>(url, raw);
  };

  return {
    baseUrl,
    async get<T>(path: string) {
      const { body } = await call<T>(path, {
        method: 'GET',
        headers: { Accept: 'application/json' },
        idleTimeoutMs: REQUEST_TIMEOUT_MS,
      });
      return body;
    },
    postJson<T>(path: string, body: unknown, headers: Record<string, string> = {}) {
      return call<T>(path, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(body),
        idleTimeoutMs: REQUEST_TIMEOUT_MS,
      });
    },
    async postJsonLines(path: string, body: unknown, onLine: (line: unknown) => void) {
      const url = `${baseUrl}${path}`;
      await call<undefined>(path, {
        method: 'POST',
        headers: { Accept: 'application/x-ndjson', 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        idleTimeoutMs: REQUEST_TIMEOUT_MS,
        onLine: (line) => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            throw new UnexpectedResponseError(url, 200, 'a line of the stream is not JSON');
          }
          onLine(parsed);
        },
      });
    },
    async events(path, opts, onEvent) {
      const parse = sseParser(onEvent);
      await call<undefined>(path, {
        method: 'GET',
        headers: {
          Accept: 'text/event-stream',
          ...(opts.lastEventId !== undefined ? { 'Last-Event-ID': opts.lastEventId } : {}),
        },
        idleTimeoutMs: opts.idleTimeoutMs,
        onText: parse,
      });
    },
    postCsv<T>(path: string, body: AsyncIterable<Uint8Array>, headers: Record<string, string> = {}) {
      return call<T>(path, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'text/csv', ...headers },
        body,
        idleTimeoutMs: UPLOAD_IDLE_TIMEOUT_MS,
      });
    },
  };
}

function readAnswer<T>(url: string, res: RawAnswer): Answer<T> {
  let body: unknown;
  try {
    body = res.text === '' ? undefined : JSON.parse(res.text);
  } catch {
    throw new UnexpectedResponseError(url, res.status, `not JSON (${res.contentType ?? 'no content type'})`);
  }
  if (res.status >= 200 && res.status < 300) return { status: res.status, body: body as T };
  const error = (body as { error?: Partial<ApiErrorBody> } | undefined)?.error;
  if (typeof error?.code !== 'string' || typeof error.message !== 'string') {
    throw new UnexpectedResponseError(url, res.status, 'an error without the API error body');
  }
  throw new ApiCallError(res.status, { code: error.code, message: error.message, details: error.details ?? [] }, body);
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** The socket error's code (ECONNREFUSED, ENOTFOUND, …) is what an operator can act on, so name it. */
function networkReason(err: unknown): string {
  // A host with several addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError of one per address.
  if (err instanceof AggregateError && err.errors.length > 0) return networkReason(err.errors[0]);
  const e = err as { code?: unknown; message?: unknown };
  if (e.code === 'ETIMEDOUT' && typeof e.message === 'string') return e.message;
  if (typeof e.code === 'string') return NETWORK_ERRORS[e.code] ? `${e.code}: ${NETWORK_ERRORS[e.code]}` : e.code;
  return typeof e.message === 'string' ? e.message : String(err);
}
