/**
 * The CLI's HTTP client against a stub server (no stack): streamed uploads, and each way a call can fail mapped to
 * its own error and exit code.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '../../src/cli/client';
import {
  ApiCallError,
  CliUsageError,
  describeFailure,
  EXIT,
  InterruptedError,
  UnexpectedResponseError,
  UnreachableError,
} from '../../src/cli/errors';

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));

describe('createClient', () => {
  it('streams a CSV body chunk by chunk with its headers', async () => {
    let seen: { headers: IncomingMessage['headers']; body: string } | undefined;
    handler = (req, body, res) => {
      seen = { headers: req.headers, body: body.toString() };
      json(res, 202, { batchId: 'b1', records: 2, rejected: 0 });
    };
    async function* lines() {
      yield Buffer.from('header\n');
      yield Buffer.from('a\nb\n');
    }
    const answer = await createClient(baseUrl).postCsv('/v1/settlements', lines(), { 'Idempotency-Key': 'b1' });
    expect(answer).toEqual({ status: 202, body: { batchId: 'b1', records: 2, rejected: 0 } });
    expect(seen?.body).toBe('header\na\nb\n');
    expect(seen?.headers['content-type']).toBe('text/csv');
    expect(seen?.headers['idempotency-key']).toBe('b1');
    // Streamed, not buffered: no length known up front.
    expect(seen?.headers['transfer-encoding']).toBe('chunked');
  });

  it('sends JSON and reads JSON', async () => {
    handler = (req, body, res) =>
      json(res, 200, { method: req.method, url: req.url, got: JSON.parse(body.toString()) });
    const answer = await createClient(baseUrl).postJson('/v1/reviews/rv-1/resolve', { action: 'DISMISS', note: 'n' });
    expect(answer.body).toEqual({
      method: 'POST',
      url: '/v1/reviews/rv-1/resolve',
      got: { action: 'DISMISS', note: 'n' },
    });
  });

  it("turns the API's error body into an ApiCallError (exit 1)", async () => {
    const body = { error: { code: 'NOT_FOUND', message: 'campaign x not found', details: [] } };
    handler = (_req, _body, res) => json(res, 404, body);
    const err = await createClient(baseUrl)
      .get('/v1/campaigns/x/report')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiCallError);
    expect(err).toMatchObject({ status: 404, error: { code: 'NOT_FOUND', message: 'campaign x not found' } });
    expect(describeFailure(err)).toEqual({
      exitCode: EXIT.FAILED,
      message: 'error: NOT_FOUND: campaign x not found',
      json: body,
    });
  });

  it('calls an answer that is not the API unexpected (exit 1)', async () => {
    handler = (_req, _body, res) => res.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>nope</h1>');
    const err = await createClient(baseUrl)
      .get('/v1/reviews')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnexpectedResponseError);
    expect(describeFailure(err)).toMatchObject({
      exitCode: EXIT.FAILED,
      message: expect.stringContaining('not JSON (text/html)'),
    });
    handler = (_req, _body, res) => json(res, 502, { message: 'bad gateway' });
    await expect(createClient(baseUrl).get('/v1/reviews')).rejects.toThrow(/without the API error body/);
  });

  it('calls a refused connection unreachable, naming the URL and npm start (exit 3)', async () => {
    // Port 1: nothing listens there, and unlike fetch, node:http does not refuse it as a "bad port".
    const err = await createClient('http://127.0.0.1:1')
      .get('/v1/reviews')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    const failure = describeFailure(err);
    expect(failure.exitCode).toBe(EXIT.UNREACHABLE);
    expect(failure.message).toContain('cannot reach the API at http://127.0.0.1:1 (ECONNREFUSED: connection refused)');
    expect(failure.message).toContain('npm start');
  });

  it('cancels a request in flight when interrupted (exit 130)', async () => {
    handler = () => undefined; // never answers
    const interrupt = new AbortController();
    const pending = createClient(baseUrl, interrupt.signal)
      .get('/v1/reviews')
      .catch((e: unknown) => e);
    setTimeout(() => interrupt.abort(), 50);
    const err = await pending;
    expect(err).toBeInstanceOf(InterruptedError);
    expect(describeFailure(err).exitCode).toBe(EXIT.INTERRUPTED);
  });

  it('maps usage problems found late (an unreadable file) to exit 2', () => {
    expect(describeFailure(new CliUsageError('cannot read x.csv: ENOENT'))).toEqual({
      exitCode: EXIT.USAGE,
      message: 'error: cannot read x.csv: ENOENT',
    });
  });
});
