/**
 * The pre-deploy check (`npm run replay`, scripts/replay-histories.mjs) played through a deploy on a real dev server:
 * member workflows run on the code as it was before the patch, one finished and one still in its window. The
 * working tree (with the patch) replays them: exit 0. The same change shipped without `patched()` does not: exit 1,
 * naming the open run it would break. The script runs as a child process, as an operator runs it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { putCampaign } from '../../src/db/campaigns';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { startPointsApi } from '../../src/dev/points-api';
import { repoRoot } from '../../src/dev/tools';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor, type CampaignTerms } from '../../src/domain/terms';
import type { ActivationInput, memberActivation } from '../../src/workflows/member-activation';
import { applyTransactionsUpdate, memberViewQuery, transactionSignal } from '../../src/workflows/messages';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { loadFixtures } from '../support/histories';
import { createLocalEnv } from '../support/temporal';
import { bundleMemberWorkflow } from './derived-workflows';

const SCRIPT = path.join(repoRoot(), 'scripts', 'replay-histories.mjs');
const TERMS: CampaignTerms = {
  campaignId: 'replay-check',
  targetCents: 50_000,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD',
};
const SHORT: CampaignTerms = { ...TERMS, window: 'PT2S', grace: 'PT1S' };

let env: TestWorkflowEnvironment;
let database: TestDatabase;
let db: Db;
let points: Awaited<ReturnType<typeof startPointsApi>>;
let unguardedBundle: string;
const taskQueue = `replay-${randomUUID()}`;
const openId = `activation:${TERMS.campaignId}:in-window`;
const doneId = `activation:${TERMS.campaignId}:rewarded`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const runScript = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const childEnv = { ...process.env, ...extraEnv };
    // The working tree's code unless a test says otherwise, as on an operator's machine.
    if (!('WORKFLOW_BUNDLE' in extraEnv)) delete childEnv.WORKFLOW_BUNDLE;
    const child = spawn(process.execPath, [SCRIPT, ...args], { env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

const against = () => ['--address', env.address, '--namespace', 'default', '--query', `TaskQueue="${taskQueue}"`];

const event = (memberId: string, n: number, extra: Partial<TransactionEvent> = {}): TransactionEvent => ({
  source: 'REALTIME',
  transactionId: `TX-${memberId}-${n}`,
  memberId,
  kind: 'LOAD',
  channel: 'DEBIT_CARD',
  amountCents: 6_000,
  currency: 'AUD',
  occurredAt: new Date().toISOString(),
  receivedAt: new Date().toISOString(),
  ...extra,
});

beforeAll(async () => {
  database = await createTestDatabase('replay_script');
  await migrate(database.url);
  db = createPool(database.url, 5);
  await putCampaign(db, TERMS);
  await putCampaign(db, SHORT);
  points = await startPointsApi({ port: 0 });
  const [beforePatch, unguarded, started] = await Promise.all([
    bundleMemberWorkflow('before-patch'),
    bundleMemberWorkflow('unguarded'),
    createLocalEnv({ log: { format: 'pretty', level: 'never' } }),
  ]);
  unguardedBundle = unguarded;
  env = started;

  // Production before the deploy: the old code runs a member who is mid-window and one who got the reward.
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: beforePatch },
    activities: createActivities({ db, pointsApiUrl: points.url, pointsApiTimeoutMs: 1_000 }),
  });
  await worker.runUntil(async () => {
    const start = (workflowId: string, memberId: string, campaign: CampaignTerms) => {
      const input: ActivationInput = {
        campaign,
        memberId,
        schedule: scheduleFor(campaign, new Date().toISOString()),
        rewardRetryForMs: 60_000,
      };
      return env.client.workflow.start<typeof memberActivation>('memberActivation', {
        workflowId,
        taskQueue,
        args: [input],
      });
    };
    const open = await start(openId, 'in-window', TERMS);
    const done = await start(doneId, 'rewarded', SHORT);
    // A night's settlement lines for the open member in one update, then a duplicate heard in real time.
    const lines = [1, 2, 3, 4, 5].map((n) => event('in-window', n));
    await open.executeUpdate(applyTransactionsUpdate, { args: [lines] });
    await open.signal(transactionSignal, lines[0]);
    await done.signal(transactionSignal, event('rewarded', 1, { amountCents: 60_000 }));
    expect(await done.result()).toMatchObject({ state: 'COMPLETED' });
    expect(await open.query(memberViewQuery)).toMatchObject({ state: 'ACTIVE', countedCents: 30_000 });
  });
}, 300_000);

afterAll(async () => {
  await env?.teardown();
  await points?.stop();
  await db?.end();
  await database?.drop();
}, 60_000);

describe('npm run replay (scripts/replay-histories.mjs)', () => {
  it('replays the open and the recent runs against the working tree and exits 0; --save keeps them as fixtures', async () => {
    const saveDir = mkdtempSync(path.join(os.tmpdir(), 'replay-save-'));
    try {
      const run = await runScript([...against(), '--save', saveDir]);
      expect(run).toMatchObject({ code: 0 });
      expect(run.stderr).toContain('2 executions (1 open)');
      expect(run.stderr).toContain('bundling the workflows of this working tree');
      expect(run.stdout).toContain('replayed 2 histories: 2 ok, 0 failed');

      expect(readdirSync(saveDir)).toHaveLength(2);
      const saved = loadFixtures(saveDir);
      expect(saved.map((f) => [f.workflowId, f.path]).sort()).toEqual([
        [openId, 'RUNNING'],
        [doneId, 'COMPLETED'],
      ]);
      // Recorded by the code before the patch: no marker.
      expect(saved.every((f) => f.patches.length === 0)).toBe(true);
    } finally {
      rmSync(saveDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('exits 1 naming the runs that the change without patched() would break, the open one first', async () => {
    const run = await runScript(against(), { WORKFLOW_BUNDLE: unguardedBundle });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`replaying against the bundle ${unguardedBundle}`);
    // Both: the unguarded code upserts after the window's timer is started, where the old code upserted before it.
    const failed = run.stdout.split('\n').filter((l) => l.startsWith('✕'));
    expect(failed).toHaveLength(2);
    expect(failed[0]).toContain(`✕ ${openId} (memberActivation, RUNNING, run `);
    expect(failed[1]).toContain(`✕ ${doneId} (memberActivation, COMPLETED, run `);
    for (const line of failed) expect(line).toContain('DeterminismViolationError');
    expect(run.stdout).toContain('replayed 2 histories: 0 ok, 2 failed (1 of them open: the deploy would break them)');
  }, 300_000);

  it('honours --limit, taking open runs first', async () => {
    const run = await runScript([...against(), '--limit', '1']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('1 executions (1 open)');
    expect(run.stdout).toContain('replayed 1 histories: 1 ok, 0 failed');
  }, 300_000);

  it('exits 2 on a usage error and 3 when Temporal cannot be reached', async () => {
    const usage = await runScript(['--limit', '0']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--limit must be a positive integer');
    const unknown = await runScript(['--frobnicate']);
    expect(unknown.code).toBe(2);
    const unreachable = await runScript(['--address', '127.0.0.1:1']);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  }, 120_000);
});

describe('the saved fixtures against the change without patched()', () => {
  it('a history recorded before the change fails to replay: the patch is what keeps old runs alive', async () => {
    const old = loadFixtures().find((f) => f.file === 'e2e-settlement-crash/activation_settle-crash_K-3.json');
    expect(old).toBeDefined();
    expect(old!.patches).toEqual([]);
    const replay = Worker.runReplayHistory(
      { workflowBundle: { codePath: unguardedBundle }, replayName: 'unguarded' },
      old!.history,
      old!.workflowId,
    );
    await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
  }, 120_000);
});
