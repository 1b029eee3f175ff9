/**
 * Fuzzing from the OpenAPI document: the real Schemathesis CLI (pinned, in .tools/venv, installed by
 * scripts/ensure.sh) against the real running API of a whole stack (PostgreSQL, the Temporal dev server, the worker,
 * the points API), reading the document the API serves. It fails on any 5xx and on any response the document does not
 * describe: an undocumented status, another content type, a body off its schema, a missing header, or invalid input
 * (by the document) that the API accepted. Not `positive_data_acceptance`: a well-formed id of nothing is a 404.
 *
 * Generated ids alone would meet nothing but 404s, so the stack is seeded first (members in and past their verdicts,
 * open review items, a settlement batch) and Schemathesis draws ids from those half of the time.
 *
 * Reproduce a failure with the seed it prints: SCHEMATHESIS_SEED=<seed> npx jest test/outside/schemathesis.
 * SCHEMATHESIS_MAX_EXAMPLES overrides the examples per operation (default 60); SCHEMATHESIS_REPORT=<file> keeps the
 * report of a run that passed too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBody } from '../support/requests';
import { eventually, startTestStack, type TestStack } from '../support/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const ST = path.join(ROOT, '.tools', 'venv', 'bin', 'st');
/** The pin lives in one place, the script that installs it. */
const PIN = /SCHEMATHESIS_PIN='schemathesis==([^']+)'/.exec(
  readFileSync(path.join(ROOT, 'scripts', 'ensure.sh'), 'utf8'),
)?.[1];

const MAX_EXAMPLES = Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 60);
/** Schemathesis itself must finish within this, whatever the API does (requests time out after 15 s each). */
const RUN_TIMEOUT_MS = 300_000;

const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'negative_data_rejection',
  // A method a path does not declare: 405 with Allow, not a 404 that says the resource does not exist.
  'unsupported_method',
];

jest.setTimeout(420_000);

let stack: TestStack | undefined;
let workDir: string | undefined;
/** Schemathesis runs still going (a test that timed out in Jest): stopped before the stack is. */
const running = new Set<ChildProcess>();

beforeAll(async () => {
  stack = await startTestStack();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'schemathesis-'));
}, 180_000);

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await stack?.destroy();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 60_000);

/** Fails, saying what to do, unless the pinned Schemathesis is installed: a missing fuzzer must never pass quietly. */
async function requireSchemathesis(): Promise<void> {
  const missing = (why: string) =>
    new Error(
      `Schemathesis ${why}. Run \`bash scripts/ensure.sh --test\` (npm test does): it installs schemathesis==${PIN} with pip into ` +
        '.tools/venv (if pip failed there before, delete .tools/versions first, and see what pip says).',
    );
  if (!PIN) throw new Error('SCHEMATHESIS_PIN not found in scripts/ensure.sh');
  if (!existsSync(ST)) throw missing(`is not installed (no ${ST})`);
  const version = await run(ST, ['--version'], { cwd: ROOT, timeoutMs: 30_000 });
  if (/version (\S+)/.exec(version.output)?.[1] !== PIN) {
    throw missing(`in .tools/venv is not the pinned ${PIN}: ${version.output.trim()}`);
  }
}

it('the OpenAPI fuzzer is installed at the pinned version', async () => {
  await requireSchemathesis();
});

describe('text PostgreSQL cannot store is refused at the edge, and changes nothing', () => {
  // Before: a NUL in an opt-out reason answered 200 CANCELLED while the workflow's recordProgress failed for ever
  // (the member stayed ENROLLED); in a review note, 500 after the retry workflow had started; in a settlement
  // line's transactionId, 500 for the whole file.
  const json = (method: string, p: string, body: string) =>
    fetch(`${stack!.apiUrl}${p}`, { method, headers: { 'Content-Type': 'application/json' }, body }).then(
      async (res) => ({ status: res.status, body: (await res.json()) as { error?: { code: string } } }),
    );

  it.each([
    ['a NUL', '"reason":"opted out\\u0000"'],
    ['half a surrogate pair', '"reason":"\\ud800 opted out"'],
  ])('an opt-out reason with %s is a 400', async (_what, field) => {
    const memberId = `M-text-${Math.random().toString(36).slice(2, 8)}`;
    await stack!.api('POST', '/v1/campaigns/cold-activation/enrollments', { memberId });
    const res = await json('POST', `/v1/campaigns/cold-activation/members/${memberId}/cancel`, `{${field}}`);
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    const view = await stack!.api<{ state: string }>('GET', `/v1/campaigns/cold-activation/members/${memberId}`);
    expect(view.body.state).toBe('ENROLLED');
  });

  it('a review note with a NUL is a 400', async () => {
    const res = await json(
      'POST',
      '/v1/reviews/rv-0123456789abcdef/resolve',
      '{"action":"DISMISS","note":"ok\\u0000"}',
    );
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
  });

  it('a settlement line whose transactionId has a NUL is rejected, the rest of the file applied', async () => {
    const at = new Date().toISOString();
    const file =
      'transactionId,memberId,kind,amountCents,currency,channel,occurredAt,settledAt,status\n' +
      `TX-\u0000-1,M-1,LOAD,100,AUD,BPAY,${at},${at},SETTLED\n` +
      `TX-ok-1,M-1,LOAD,100,AUD,BPAY,${at},${at},SETTLED\n`;
    const res = await fetch(`${stack!.apiUrl}/v1/settlements`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/csv' },
      body: file,
    });
    expect({ status: res.status, body: await res.json() }).toMatchObject({
      status: 202,
      body: { records: 2, rejected: 1 },
    });
  });
});

it('answers every request Schemathesis makes from the OpenAPI document as the document says, never with a 5xx', async () => {
  await requireSchemathesis();
  const api = stack!;
  const fixtures = await seed(api);
  const config = path.join(workDir!, 'schemathesis.toml');
  writeFileSync(config, schemathesisConfig(fixtures));
  const args = [
    '--config-file',
    config,
    'run',
    `${api.apiUrl}/openapi.json`,
    '--checks',
    CHECKS.join(','),
    '--max-examples',
    String(MAX_EXAMPLES),
    '--request-timeout',
    '15',
    // One worker: Schemathesis' threads trip a CPython 3.11 AST bug ("recursion depth mismatch") now and then.
    '--workers',
    '1',
    '--continue-on-failure',
    '--generation-database',
    'none',
    '--no-color',
    ...(process.env.SCHEMATHESIS_SEED ? ['--seed', process.env.SCHEMATHESIS_SEED] : []),
  ];
  const result = await run(ST, args, { cwd: workDir!, timeoutMs: RUN_TIMEOUT_MS });
  if (process.env.SCHEMATHESIS_REPORT) writeFileSync(process.env.SCHEMATHESIS_REPORT, result.output);
  if (result.code !== 0) {
    throw new Error(
      `Schemathesis ${result.timedOut ? `did not finish within ${RUN_TIMEOUT_MS / 1000} s` : `exited ${result.code}`}` +
        ` (st ${args.join(' ')}); its report:\n\n${readable(result.output)}`,
    );
  }
  expect(result.output).toMatch(/Test cases:\s+\d+ generated, \d+ passed/);
});

interface Fixtures {
  campaigns: string[];
  members: string[];
  batches: string[];
  reviews: string[];
}

/**
 * What Schemathesis's ids are drawn from: the document's own examples (cold-activation, M-1001,
 * settlement-2026-11-22) exist, and so do members in every stage, a few open review items and settlement batches.
 */
async function seed(api: TestStack): Promise<Fixtures> {
  const ok = async (method: string, p: string, body: unknown, status: number[]) => {
    const res = await api.api(method, p, body);
    if (!status.includes(res.status))
      throw new Error(`seeding: ${method} ${p} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Record<string, unknown>;
  };
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const load = (transactionId: string, memberId: string, occurredAt: string, amountCents = 5_000) =>
    loadBody(memberId, transactionId, amountCents, occurredAt);

  // Open enrollments in the default campaign: one has counted loads, one was disqualified by a withdrawal.
  const open = ['M-1001', 'M-1002', 'M-1003', 'M-1004', 'M-1005', 'M-1006', 'M-1007', 'M-1008'];
  for (const m of open) await ok('POST', '/v1/campaigns/cold-activation/enrollments', { memberId: m }, [201]);
  // Times after the enrollments, so inside the windows.
  await ok('POST', '/v1/transactions', load('TX-seed-1', 'M-1001', iso(Date.now())), [202]);
  await ok(
    'POST',
    '/v1/transactions',
    { ...load('TX-seed-2', 'M-1008', iso(Date.now())), kind: 'WITHDRAWAL', channel: 'ATM' },
    [202],
  );

  // A reward issued (the member view's `reward`, the verdict in the explanation): on target inside a short window.
  await ok(
    'PUT',
    '/v1/campaigns/fuzz-rewarded',
    { targetCents: 1_000, rewardPoints: 10, window: 'PT3S', grace: 'PT0S' },
    [201],
  );
  const winner = await ok('POST', '/v1/campaigns/fuzz-rewarded/enrollments', { memberId: 'W-1' }, [201]);
  await ok('POST', '/v1/transactions', load('TX-win-1', 'W-1', iso(Date.now())), [202]);

  // Verdicts already reached: enrolled an hour ago in a one-second window, so NOT_ELIGIBLE at once. A load inside that
  // window, posted now, is late news that would have qualified them: one review item each.
  await ok(
    'PUT',
    '/v1/campaigns/fuzz-decided',
    { targetCents: 1_000, rewardPoints: 10, window: 'PT1S', grace: 'PT0S' },
    [201],
  );
  const decided = ['R-1', 'R-2', 'R-3', 'R-4', 'R-5'];
  const enrolledAt = iso(now - 3_600_000);
  for (const m of decided) {
    await ok('POST', '/v1/campaigns/fuzz-decided/enrollments', { memberId: m, enrolledAt }, [201]);
  }
  for (const m of decided) {
    await eventually(
      async () =>
        (await api.api<{ state: string }>('GET', `/v1/campaigns/fuzz-decided/members/${m}`)).body.state ===
        'NOT_ELIGIBLE',
      30_000,
      `${m} to be NOT_ELIGIBLE`,
    );
    await ok('POST', '/v1/transactions', load(`TX-late-${m}`, m, enrolledAt), [202]);
  }
  // Once rewarded, a withdrawal inside its window is late news that would have disqualified: another review item.
  await eventually(
    async () =>
      (await api.api<{ state: string }>('GET', '/v1/campaigns/fuzz-rewarded/members/W-1')).body.state === 'COMPLETED',
    60_000,
    'W-1 to be rewarded',
  );
  await ok(
    'POST',
    '/v1/transactions',
    { ...load('TX-win-2', 'W-1', String(winner.enrolledAt)), kind: 'WITHDRAWAL', channel: 'ATM' },
    [202],
  );
  const reviews = await eventually(
    async () => {
      const { body } = await api.api<{ items: { id: string }[] }>('GET', '/v1/reviews?state=OPEN');
      return body.items.length > decided.length && body.items.map((i) => i.id);
    },
    30_000,
    'the review items of the late news',
  );

  // A settlement batch under the document's example key, and one named by its content.
  const header = 'transactionId,memberId,kind,amountCents,currency,channel,occurredAt,settledAt,status';
  const file = `${header}\nTX-seed-1,M-1001,LOAD,5000,AUD,DEBIT_CARD,${iso(now)},${iso(now)},SETTLED\n`;
  const post = (body: string, key?: string) =>
    fetch(`${api.apiUrl}/v1/settlements`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/csv', ...(key ? { 'Idempotency-Key': key } : {}) },
      body,
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as { batchId: string } }));
  const keyed = await post(file, 'settlement-2026-11-22');
  const hashed = await post(`${file}TX-seed-3,M-1002,LOAD,100,AUD,BPAY,${iso(now)},${iso(now)},RETURNED\n`);
  for (const r of [keyed, hashed]) if (r.status !== 202) throw new Error(`seeding a batch: ${JSON.stringify(r)}`);

  return {
    campaigns: ['cold-activation', 'fuzz-decided', 'fuzz-rewarded'],
    members: [...open, ...decided, 'W-1'],
    batches: [keyed.body.batchId, hashed.body.batchId],
    reviews,
  };
}

function schemathesisConfig(f: Fixtures): string {
  const list = (values: string[]) => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;
  return [
    '[dictionaries.campaigns]',
    `values = ${list(f.campaigns)}`,
    '[dictionaries.members]',
    `values = ${list(f.members)}`,
    '[dictionaries.batches]',
    `values = ${list(f.batches)}`,
    '[dictionaries.reviews]',
    `values = ${list(f.reviews)}`,
    '',
    '[parameters]',
    '"path.campaignId" = { dictionary = "campaigns", probability = 0.5 }',
    '"path.memberId" = { dictionary = "members", probability = 0.5 }',
    '"path.batchId" = { dictionary = "batches", probability = 0.5 }',
    '"path.id" = { dictionary = "reviews", probability = 0.5 }',
    // Enrollments of known members (200, the same body) and transactions that reach their workflows.
    '"body.memberId" = { dictionary = "members", probability = 0.3 }',
    '',
    // A member stream stays open (text/event-stream). Schemathesis reads a stream until it has read this many events
    // or until the request timeout; each event is checked against the document's MemberEvent, its data against
    // Member. The first (the view as it stands) is enough, and maxSeconds ends the stream itself a moment later: one
    // with nothing to send yet (Last-Event-ID at the current version) then costs 0.2 s, not the request timeout.
    // (maxSeconds' own bad values are test/api/live.test.ts's.)
    '[[operations]]',
    'include-operation-id = "followMember"',
    'max-stream-events = 1',
    'request-timeout = 5',
    'parameters = { "query.maxSeconds" = 0.2 }',
    '',
  ].join('\n');
}

interface RunResult {
  code: number | null;
  output: string;
  timedOut: boolean;
}

/**
 * Runs a program (one process; in our process group, so a Ctrl-C reaches it too), stdout and stderr together; it is
 * stopped at the deadline.
 */
function run(cmd: string, args: string[], opts: { cwd: string; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, opts.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      running.delete(child);
    };
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('close', (code) => {
      done();
      resolve({ code, output, timedOut });
    });
  });
}

/** The report as a CI log should show it: whole, but without runaway lines (a traceback may quote a whole file). */
function readable(output: string): string {
  const lines = output.split('\n').map((l) => (l.length > 2_000 ? `${l.slice(0, 2_000)}… (${l.length} chars)` : l));
  const text = lines.join('\n');
  return text.length > 200_000 ? `${text.slice(0, 40_000)}\n…\n${text.slice(-160_000)}` : text;
}
