/**
 * The built CLI (`node dist/src/cli/main.js`) as an operator runs it, as a child process against the whole stack
 * `npm start` runs: embedded PostgreSQL, the Temporal dev server, the worker, the API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildCli, runCli, type CliResult } from '../support/cli';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/** Runs the CLI with API_URL pointing at the stack. */
const cli = (...args: string[]): Promise<CliResult> => runCli(() => stack?.apiUrl ?? '', args);

const parseJson = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;

const filesDir = mkdtempSync(path.join(os.tmpdir(), 'activation-cli-files-'));
let stack: TestStack | undefined;

const api = <T>(method: string, p: string, body?: unknown) => stack!.api<T>(method, p, body);

const HEADER = 'transactionId,memberId,kind,amountCents,currency,channel,occurredAt,settledAt,status';
let settlementFile: string;

beforeAll(async () => {
  // The test runs what operators run: the compiled CLI.
  buildCli();
  stack = await startTestStack({ CAMPAIGN_ID: 'cli-default' });

  // A month-long campaign with two members, and one of two seconds whose member ends NOT_ELIGIBLE before the
  // settlement file brings the load that would have qualified them (late news: a review item).
  expect(
    (
      await api('PUT', '/v1/campaigns/cli-demo', {
        targetCents: 50_000,
        rewardPoints: 2_000,
        window: 'P30D',
        grace: 'PT48H',
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await api('PUT', '/v1/campaigns/cli-quick', {
        targetCents: 50_000,
        rewardPoints: 2_000,
        window: 'PT2S',
        grace: 'PT1S',
      })
    ).status,
  ).toBe(201);
  for (const memberId of ['M-cli-1', 'M-cli-2']) {
    expect((await api('POST', '/v1/campaigns/cli-demo/enrollments', { memberId })).status).toBe(201);
  }
  const quick = await api<{ enrolledAt: string }>('POST', '/v1/campaigns/cli-quick/enrollments', {
    memberId: 'M-cli-q',
  });
  expect(quick.status).toBe(201);

  const occurredAt = new Date().toISOString();
  const load = (transactionId: string, memberId: string, amountCents: number, channel: string) =>
    api('POST', '/v1/transactions', {
      transactionId,
      memberId,
      kind: 'LOAD',
      amountCents,
      currency: 'AUD',
      channel,
      occurredAt,
    });
  expect((await load('TX-cli-1', 'M-cli-1', 30_000, 'DEBIT_CARD')).status).toBe(202);
  expect((await load('TX-cli-2', 'M-cli-2', 10_000, 'BPAY')).status).toBe(202);

  await eventually(
    async () =>
      (await api<{ state: string }>('GET', '/v1/campaigns/cli-quick/members/M-cli-q')).body.state === 'NOT_ELIGIBLE',
    30_000,
    'the two-second campaign to decide NOT_ELIGIBLE',
  );

  const settledAt = new Date().toISOString();
  const inQuickWindow = new Date(Date.parse(quick.body.enrolledAt) + 500).toISOString();
  settlementFile = path.join(filesDir, 'settlement.csv');
  writeFileSync(
    settlementFile,
    [
      HEADER,
      `TX-cli-1,M-cli-1,LOAD,30000,AUD,DEBIT_CARD,${occurredAt},${settledAt},SETTLED`, // applied: instant → settled
      `TX-cli-1,M-cli-1,LOAD,30000,AUD,DEBIT_CARD,${occurredAt},${settledAt},SETTLED`, // duplicate
      `TX-cli-2,M-cli-2,LOAD,10000,AUD,BPAY,${occurredAt},${settledAt},SETTLED`, // applied: pending → settled
      `TX-cli-3,M-cli-1,LOAD,20000,AUD,BANK_TRANSFER,${occurredAt},${settledAt},SETTLED`, // applied: new load
      'TX-cli-bad,M-cli-1,LOAD,not-a-number', // rejected (line 6)
      `TX-cli-4,M-cli-nobody,LOAD,5000,AUD,BPAY,${occurredAt},${settledAt},SETTLED`, // no enrollment
      `TX-cli-q,M-cli-q,LOAD,60000,AUD,BPAY,${inQuickWindow},${settledAt},SETTLED`, // late: opens a review
      '',
    ].join('\n'),
  );
}, 240_000);

afterAll(async () => {
  await stack?.destroy();
  rmSync(filesDir, { recursive: true, force: true });
}, 60_000);

describe('the operator CLI against a running stack', () => {
  it('settles a file, following the batch to its report', async () => {
    const r = await cli('settle', settlementFile);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Settlement batch [0-9a-f]{64}: COMPLETED$/m);
    expect(r.stdout).toMatch(/^ {2}records {8}7$/m);
    expect(r.stdout).toMatch(/^ {2}applied {8}3$/m);
    expect(r.stdout).toMatch(/^ {2}duplicates {5}1$/m);
    expect(r.stdout).toMatch(/^ {2}no enrollment {2}1$/m);
    expect(r.stdout).toMatch(/^ {2}late {11}1$/m);
    expect(r.stdout).toMatch(/^ {2}rejected {7}1$/m);
    expect(r.stdout).toContain('Rejected lines:\n  line 6: expected 9 columns, found 4');
    // stderr is not a terminal here: plain progress lines, no carriage returns.
    expect(r.stderr).toMatch(/^settling: +\d+% \d+\/7 records · .* · ETA /m);
    expect(r.stderr).not.toContain('\r');
  }, 120_000);

  it('shows the same batch again as JSON, applied once', async () => {
    const r = await cli('settle', settlementFile, '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('was submitted before');
    const report = parseJson<{ state: string; records: number; applied: number; duplicates: number }>(r);
    expect(report).toMatchObject({ state: 'COMPLETED', records: 7, applied: 3, duplicates: 1 });

    const batch = await cli('batch', (report as unknown as { batchId: string }).batchId, '--json');
    expect(batch.code).toBe(0);
    expect(parseJson(batch)).toEqual(report);
  }, 60_000);

  it("prints a member's balance view in A$", async () => {
    // The read model follows the workflow within about a second.
    await eventually(
      async () => {
        const r = await cli('status', 'cli-demo', 'M-cli-1', '--json');
        return r.code === 0 && parseJson<{ countedCents: number }>(r).countedCents === 50_000;
      },
      10_000,
      'the settled loads in the member view',
    );
    const r = await cli('status', 'cli-demo', 'M-cli-1');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Member M-cli-1 in campaign cli-demo');
    expect(r.stdout).toMatch(/state\s+GOAL_ACHIEVED/);
    expect(r.stdout).toMatch(/counted\s+A\$500\.00 of A\$500\.00 target/);
    expect(r.stdout).toMatch(/settled\s+A\$500\.00/);
    expect(r.stdout).toMatch(/pending\s+A\$0\.00/);
    expect(r.stdout).toMatch(/remaining\s+A\$0\.00/);
    expect(r.stdout).toMatch(/reward\s+none yet/);
  }, 60_000);

  it("moves a member's deadlines, saying who and why; a refusal exits 1 with the API's code", async () => {
    const before = (await api<{ windowEndsAt: string }>('GET', '/v1/campaigns/cli-demo/members/M-cli-2')).body;
    const r = await cli(
      'schedule',
      'cli-demo',
      'M-cli-2',
      '--extend-window',
      'P7D',
      '--reason',
      'processor outage',
      '--caller',
      'ops-bob',
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/moved\s+.* by ops-bob: window .* → .*, evaluates .* → .* \(processor outage\)/);
    const after = (await api<{ windowEndsAt: string }>('GET', '/v1/campaigns/cli-demo/members/M-cli-2')).body;
    expect(Date.parse(after.windowEndsAt) - Date.parse(before.windowEndsAt)).toBe(7 * 86_400_000);

    const refused = await cli('schedule', 'cli-demo', 'M-cli-2', '--extend-grace', 'P30D', '--reason', 'too far');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('EXTENSION_LIMIT');
    const usage = await cli('schedule', 'cli-demo', 'M-cli-2', '--reason', 'nothing to move');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('give --extend-window D, --extend-grace D or both');
  }, 60_000);

  it('lists the review the late load opened, and resolves it once', async () => {
    const open = await eventually(
      async () => {
        const r = await cli('--json', 'reviews', '--state', 'OPEN');
        const items = parseJson<{ items: { id: string; memberId: string; kind: string }[] }>(r).items;
        return r.code === 0 && items.find((i) => i.memberId === 'M-cli-q');
      },
      10_000,
      'the review item',
    );
    expect(open.kind).toBe('LATE_LOAD_WOULD_QUALIFY');

    const table = await cli('reviews');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+STATE\s+CAMPAIGN\s+MEMBER\s+KIND\s+CREATED\s+REASON$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^${open.id}\\s+OPEN\\s+cli-quick\\s+M-cli-q\\s+LATE_LOAD_WOULD_QUALIFY`, 'm'),
    );

    const resolved = await cli('resolve', open.id, 'DISMISS', '--note', 'settled late by the bank; no reward');
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toContain(`Review ${open.id} RESOLVED: DISMISS`);
    expect(resolved.stdout).toMatch(/note\s+settled late by the bank; no reward/);

    const again = await cli('resolve', open.id, 'DISMISS', '--note', 'twice');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('REVIEW_ALREADY_RESOLVED');

    const none = await cli('reviews', '--state', 'OPEN');
    expect(none).toMatchObject({ code: 0, stdout: 'No OPEN review items.\n' });
  }, 60_000);

  it('prints the campaign report, readable and as JSON', async () => {
    const r = await cli('report', 'cli-quick');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Campaign cli-quick (report of ');
    expect(r.stdout).toMatch(/enrollments\s+1/);
    expect(r.stdout).toMatch(/NOT_ELIGIBLE\s+1/);
    expect(r.stdout).toMatch(/late settlements\s+1 member \(100\.0% of enrollments\)/);

    const json = await cli('report', 'cli-demo', '--json');
    expect(json.code).toBe(0);
    expect(parseJson(json)).toMatchObject({
      campaignId: 'cli-demo',
      enrollments: 2,
      counts: { GOAL_ACHIEVED: 1, ACTIVE: 1 },
      openReviews: 0,
    });
  }, 60_000);

  it('runs a bulk operation: a dry run changes nothing, the operation is followed to its counts', async () => {
    const dry = await cli(
      'operate',
      'cli-demo',
      'extend_schedule',
      '--extend-grace',
      'PT1H',
      '--reason',
      'x',
      '--dry-run',
    );
    expect([dry.code, dry.stderr]).toEqual([0, '']);
    expect(dry.stdout).toContain('Dry run: EXTEND_SCHEDULE would touch 2 members; nothing was changed.');
    expect(dry.stdout).toMatch(/M-cli-1\s+GOAL_ACHIEVED\s+A\$500\.00/);

    const run = await cli(
      'operate',
      'cli-demo',
      'EXTEND_SCHEDULE',
      '--member',
      'M-cli-1,M-cli-2',
      '--extend-grace',
      'PT1H',
      '--reason',
      'late file',
      '--caller',
      'ops-cli',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Operation op-\S+: COMPLETED/);
    expect(run.stdout).toMatch(/changed\s+2/);
    expect(run.stdout).toMatch(/reason\s+late file \(ops-cli\)/);
    const operationId = /Operation (op-\S+):/.exec(run.stdout)![1];
    const shown = await cli('operation', operationId, '--json');
    expect(parseJson<{ outcomes: { changed: number } }>(shown).outcomes.changed).toBe(2);

    const usage = await cli('operate', 'cli-demo', 'EXTEND_SCHEDULE', '--reason', 'x');
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('EXTEND_SCHEDULE needs --extend-window')]);
  }, 90_000);

  it("exits 1 with the API's error code and message", async () => {
    const missing = await cli('status', 'cli-demo', 'M-nobody');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: NOT_FOUND: enrollment of member M-nobody in campaign cli-demo not found');

    const json = await cli('status', 'cli-demo', 'M-nobody', '--json');
    expect(json.code).toBe(1);
    expect(parseJson(json)).toMatchObject({ error: { code: 'NOT_FOUND' } });

    const badHeader = path.join(filesDir, 'bad-header.csv');
    writeFileSync(badHeader, 'id,member,amount\nTX-1,M-1,100\n');
    const bad = await cli('settle', badHeader);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('error: INVALID_SETTLEMENT_FILE: line 1 must be the header');
  }, 60_000);

  it('exits 2 with the usage for a usage error', async () => {
    const missing = await cli('status', 'cli-demo');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: missing <memberId>');
    expect(missing.stderr).toContain('Usage: npm run cli -- status <campaignId> <memberId>');

    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(unknown.stderr).toContain('Commands:');

    expect((await cli('reviews', '--bogus')).code).toBe(2);
    expect((await cli('settle', path.join(filesDir, 'no-such-file.csv'))).code).toBe(2);

    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run cli -- <command>');
  }, 60_000);

  it('exits 3 when the API cannot be reached, naming the URL and npm start', async () => {
    const r = await cli('--api', 'http://127.0.0.1:1', 'reviews');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot reach the API at http://127.0.0.1:1');
    expect(r.stderr).toContain('npm start');
  }, 60_000);
});
