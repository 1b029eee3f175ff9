/**
 * The built-in loyalty points API that `npm start` runs when POINTS_API_URL is unset, and that tests run to exercise
 * the reward path against real HTTP. It behaves like the contract's external API ("Outbound: loyalty points API"):
 * credits are idempotent per `Idempotency-Key` (201 first, 200 replay with the same body, 409 when the key comes back
 * with a different request), and it keeps a ledger a person can look at (`GET /`, `GET /v1/credits`), persisted as
 * JSON lines so it survives restarts.
 *
 * Fault injection, for tests and demos: a queue of what the next credit requests get — an HTTP status (answered
 * with an error body, nothing credited), `timeout` (never answered, nothing credited) or `timeout-after-credit`
 * (credited, then never answered: the caller times out and must get a 200 replay when it retries).
 */
import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express, { type ErrorRequestHandler, type Express, type Response } from 'express';
import { z } from 'zod';

export const CREDIT_REASON = 'COLD_MEMBER_ACTIVATION';

export interface Credit {
  creditId: string;
  memberId: string;
  campaignId: string;
  points: number;
  reason: typeof CREDIT_REASON;
  idempotencyKey: string;
  createdAt: string;
}

/**
 * An injected answer for one credit request: a status (429 and 503 say `Retry-After: 1`), a status with the
 * `Retry-After` it says (seconds), or a timeout.
 */
export type Fault = number | { status: number; retryAfter: number } | 'timeout' | 'timeout-after-credit';

// 2xx is allowed on purpose: "200 without a creditId" is a fault a client must survive too.
const faultStatus = z.number().int().min(200).max(599);
const faultSchema = z.union([
  faultStatus,
  z.strictObject({ status: faultStatus, retryAfter: z.number().int().min(0).max(86_400) }),
  z.literal('timeout'),
  z.literal('timeout-after-credit'),
]);

/** What the next credit requests get, first in first out; shared by the HTTP `/_faults` endpoints and tests. */
export class FaultQueue {
  private readonly queue: Fault[] = [];

  /** Queues answers for the next credit requests; returns the queue length. Throws on an invalid entry. */
  push(...faults: Fault[]): number {
    for (const fault of faults) {
      const parsed = faultSchema.safeParse(fault);
      if (!parsed.success) throw new TypeError(`invalid fault ${JSON.stringify(fault)}: a status 200-599 or a timeout`);
    }
    this.queue.push(...faults);
    return this.queue.length;
  }

  /** The next queued answer, removed from the queue; undefined means "answer normally". */
  take(): Fault | undefined {
    return this.queue.shift();
  }

  clear(): void {
    this.queue.length = 0;
  }

  list(): Fault[] {
    return [...this.queue];
  }

  get size(): number {
    return this.queue.length;
  }
}

/**
 * The credits, indexed by id and by idempotency key; with a file, every credit is appended and fsynced before it is
 * answered, so an acknowledged credit is never lost (like a real ledger committing before it replies).
 */
export class CreditLedger {
  private readonly byId = new Map<string, Credit>();
  private readonly byKey = new Map<string, Credit>();
  private readonly ordered: Credit[] = [];
  private fd: number | undefined;

  constructor(readonly file?: string) {
    if (!file) return;
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      const lines = text.split('\n');
      let validLength = 0;
      lines.forEach((line, index) => {
        const isLast = index === lines.length - 1;
        if (line.trim()) {
          try {
            this.index(creditRecordSchema.parse(JSON.parse(line)));
          } catch (err) {
            // A torn last line is what a crash in the middle of an append leaves; that credit was never answered.
            if (isLast) return;
            throw new Error(`points ledger ${file} line ${index + 1} is corrupt: ${String(err)}`);
          }
        }
        validLength += Buffer.byteLength(line, 'utf8') + (isLast ? 0 : 1);
      });
      // Cut a torn tail off so the next append starts on a line of its own.
      if (validLength < Buffer.byteLength(text, 'utf8')) truncateSync(file, validLength);
      else if (text.length > 0 && !text.endsWith('\n')) appendFileSync(file, '\n');
    }
    this.fd = openSync(file, 'a');
  }

  findByKey(idempotencyKey: string): Credit | undefined {
    return this.byKey.get(idempotencyKey);
  }

  get(creditId: string): Credit | undefined {
    return this.byId.get(creditId);
  }

  /** Oldest first. */
  all(): Credit[] {
    return [...this.ordered];
  }

  /** Records a new credit; persisted (fsynced) before it becomes visible. */
  record(request: CreditRequest, idempotencyKey: string): Credit {
    const credit: Credit = {
      creditId: `credit-${randomUUID()}`,
      memberId: request.memberId,
      campaignId: request.campaignId,
      points: request.points,
      reason: request.reason,
      idempotencyKey,
      createdAt: new Date().toISOString(),
    };
    if (this.fd !== undefined) {
      writeSync(this.fd, `${JSON.stringify(credit)}\n`);
      fsyncSync(this.fd);
    }
    this.index(credit);
    return credit;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private index(credit: Credit): void {
    if (this.byKey.has(credit.idempotencyKey)) return; // first credit for a key wins, as it did when answered
    this.byId.set(credit.creditId, credit);
    this.byKey.set(credit.idempotencyKey, credit);
    this.ordered.push(credit);
  }
}

const creditRequestSchema = z.object({
  memberId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 of A-Z a-z 0-9 _ -'),
  campaignId: z.string().regex(/^[a-z0-9-]{1,40}$/, '1-40 of a-z 0-9 -'),
  points: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  reason: z.literal(CREDIT_REASON),
});
type CreditRequest = z.infer<typeof creditRequestSchema>;

const creditRecordSchema = creditRequestSchema.extend({
  creditId: z.string().min(1),
  idempotencyKey: z.string().min(1),
  createdAt: z.string().min(1),
});

/** Printable ASCII, as HTTP header values should be. */
const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
  }
}

function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message }));
  throw new HttpError(400, 'VALIDATION_FAILED', details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
}

function sendError(res: Response, err: HttpError): void {
  res.status(err.status).json({
    error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
  });
}

const creditView = (c: Credit) => ({
  creditId: c.creditId,
  memberId: c.memberId,
  campaignId: c.campaignId,
  points: c.points,
  createdAt: c.createdAt,
});

const sameRequest = (c: Credit, r: CreditRequest) =>
  c.memberId === r.memberId && c.campaignId === r.campaignId && c.points === r.points && c.reason === r.reason;

/** How a real points API behaves under load, for benchmarks: how long a credit takes, and how many at once it takes. */
export interface PointsApiBehaviour {
  /** Every credit request is answered after this long. */
  latencyMs?: number;
  /** More credit requests than this in flight: the extra ones get 429 with `Retry-After: 1`, nothing credited. */
  maxConcurrent?: number;
}

export function createPointsApp(
  ledger: CreditLedger,
  faults: FaultQueue = new FaultQueue(),
  behaviour: PointsApiBehaviour = {},
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));
  let inFlight = 0;

  app.post('/v1/credits', async (req, res) => {
    if (behaviour.maxConcurrent !== undefined && inFlight >= behaviour.maxConcurrent) {
      res.set('Retry-After', '1');
      return sendError(res, new HttpError(429, 'TOO_MANY_REQUESTS', `more than ${behaviour.maxConcurrent} at once`));
    }
    inFlight += 1;
    try {
      if (behaviour.latencyMs) await new Promise((r) => setTimeout(r, behaviour.latencyMs));
      answerCredit(req, res);
    } finally {
      inFlight -= 1;
    }
  });

  const answerCredit = (req: express.Request, res: Response): void => {
    const fault = faults.take();
    if (fault === 'timeout') return; // never answered, nothing credited; released when the client gives up
    if (typeof fault === 'number' || typeof fault === 'object') {
      const status = typeof fault === 'number' ? fault : fault.status;
      const retryAfter =
        typeof fault === 'object' ? fault.retryAfter : status === 429 || status === 503 ? 1 : undefined;
      if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter));
      return sendError(res, new HttpError(status, 'INJECTED_FAULT', `injected fault: HTTP ${status}`));
    }

    const idempotencyKey = req.get('Idempotency-Key');
    if (idempotencyKey === undefined) {
      throw new HttpError(400, 'MISSING_IDEMPOTENCY_KEY', 'the Idempotency-Key header is required');
    }
    validate(idempotencyKeySchema, idempotencyKey, 'headers.Idempotency-Key');
    const request = validate(creditRequestSchema, req.body ?? null, 'body');

    const existing = ledger.findByKey(idempotencyKey);
    if (existing && !sameRequest(existing, request)) {
      throw new HttpError(
        409,
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key ${idempotencyKey} was used for a different request (credit ${existing.creditId})`,
      );
    }
    const credit = existing ?? ledger.record(request, idempotencyKey);
    if (fault === 'timeout-after-credit') return; // credited, but the answer is "lost"
    if (existing) res.set('Idempotent-Replayed', 'true');
    res.status(existing ? 200 : 201).json(creditView(credit));
  };

  app.get('/v1/credits', (req, res) => {
    const { memberId, campaignId } = req.query;
    const credits = ledger
      .all()
      .filter(
        (c) =>
          (typeof memberId !== 'string' || c.memberId === memberId) &&
          (typeof campaignId !== 'string' || c.campaignId === campaignId),
      );
    res.json({ credits });
  });

  app.get('/v1/credits/:creditId', (req, res) => {
    const credit = ledger.get(req.params.creditId);
    if (!credit) throw new HttpError(404, 'CREDIT_NOT_FOUND', `credit ${req.params.creditId} not found`);
    res.json(credit);
  });

  app.get('/_faults', (_req, res) => {
    res.json({ faults: faults.list() });
  });
  app.post('/_faults', (req, res) => {
    const { responses } = validate(z.object({ responses: z.array(faultSchema) }), req.body ?? null, 'body');
    faults.push(...responses);
    res.json({ faults: faults.list() });
  });
  app.delete('/_faults', (_req, res) => {
    faults.clear();
    res.json({ faults: [] });
  });

  app.get('/', (_req, res) => {
    res.type('html').send(renderLedger(ledger.all(), faults.list()));
  });

  app.use((req, _res, next) => next(new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (err: unknown, _req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof HttpError) return sendError(res, err);
    const e = err as { type?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, new HttpError(400, 'INVALID_JSON', 'body is not JSON'));
    if (e.type === 'entity.too.large') return sendError(res, new HttpError(413, 'PAYLOAD_TOO_LARGE', 'body too large'));
    sendError(res, new HttpError(500, 'INTERNAL', err instanceof Error ? err.message : String(err)));
  };
  app.use(onError);
  return app;
}

export interface PointsApiOptions {
  /** 0 picks a free port. */
  port: number;
  /** JSON-lines ledger, reloaded at start; in memory only when unset. */
  ledgerFile?: string;
  /** Default 127.0.0.1. */
  host?: string;
  behaviour?: PointsApiBehaviour;
}

export interface PointsApi {
  /** Base URL, e.g. `http://127.0.0.1:4000`; POST `${url}/v1/credits`. */
  url: string;
  /** Closes the server, dropping hung (fault-injected) requests at once. */
  stop(): Promise<void>;
  /** The ledger, oldest first. */
  credits(): Credit[];
  faults: FaultQueue;
}

export async function startPointsApi(opts: PointsApiOptions): Promise<PointsApi> {
  const host = opts.host ?? '127.0.0.1';
  const ledger = new CreditLedger(opts.ledgerFile);
  const faults = new FaultQueue();
  const app = createPointsApp(ledger, faults, opts.behaviour);
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(opts.port, host);
      s.once('listening', () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(`points API: port ${opts.port} on ${host} is already in use`)
            : new Error(`points API: cannot listen on ${host}:${opts.port}: ${err.message}`),
        ),
      );
    });
  } catch (err) {
    ledger.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= new Promise<void>((resolve, reject) => {
      server.close((err) => {
        ledger.close();
        if (err) reject(err);
        else resolve();
      });
      // close() waits for open connections; hung requests and keep-alive sockets would hold it for minutes.
      server.closeAllConnections();
    }));

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    stop,
    credits: () => ledger.all(),
    faults,
  };
}

function renderLedger(credits: Credit[], faults: Fault[]): string {
  const esc = (s: string | number) => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const rows = credits
    .map(
      (c) =>
        `<tr><td>${esc(c.createdAt)}</td><td>${esc(c.creditId)}</td><td>${esc(c.campaignId)}</td>` +
        `<td>${esc(c.memberId)}</td><td class="n">${esc(c.points)}</td><td>${esc(c.idempotencyKey)}</td></tr>`,
    )
    .join('\n');
  const total = credits.reduce((sum, c) => sum + c.points, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Points ledger</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}td.n{text-align:right}</style></head>
<body><h1>Points ledger (local)</h1>
<p>${credits.length} credit(s), ${esc(total)} points in total. JSON: <a href="/v1/credits">/v1/credits</a>.
${faults.length ? `Queued faults: ${esc(faults.map((f) => (typeof f === 'object' ? `${f.status} (Retry-After ${f.retryAfter})` : String(f))).join(', '))}.` : ''}</p>
<table><thead><tr><th>created</th><th>credit</th><th>campaign</th><th>member</th><th>points</th><th>idempotency key</th></tr></thead>
<tbody>
${rows}
</tbody></table></body></html>
`;
}
