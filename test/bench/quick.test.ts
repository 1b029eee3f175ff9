/**
 * `npm run bench -- --quick`: a smoke run of every benchmark, so that the suite keeps working as the product changes.
 * It asserts that each one ran and recorded its figures, never how fast anything was (shared, noisy machines).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../src/dev/tools';

jest.setTimeout(900_000);

const out = mkdtempSync(path.join(os.tmpdir(), 'bench-quick-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('runs every benchmark and records each one’s figures', async () => {
  const root = repoRoot();
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'bench/tsconfig.json'], { cwd: root });
  let log = '';
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(root, 'dist-bench', 'bench', 'main.js'), '--quick', '--out', out],
      {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`npm run bench -- --quick exited ${code}:\n${log.slice(-6000)}`);

  const files = readdirSync(out);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the figures of each benchmark's own shape
  const resultOf = (name: string): any =>
    JSON.parse(
      readFileSync(
        path.join(
          out,
          files.find((f) => f.startsWith(`${name}-`) && f.endsWith('.json'))!,
        ),
        'utf8',
      ),
    );
  for (const name of [
    'transactions',
    'enrollments',
    'store',
    'rewards',
    'settlement',
    'operations',
    'verify',
    'backtest',
    'live',
    'reconcile',
    'storm',
    'wedge',
  ]) {
    const json = files.find((f) => f.startsWith(`${name}-`) && f.endsWith('.json'));
    expect({ name, json: Boolean(json) }).toEqual({ name, json: true });
    expect((resultOf(name) as { benchmark?: string }).benchmark).toBe(name);
  }
  const readme = readFileSync(path.join(out, 'README.md'), 'utf8');
  for (const heading of [
    'Transactions',
    'Enrollments',
    'The store as it grows',
    'Reward burst',
    'Settlement',
    'Bulk operations',
    'Proving verdicts',
    'What-if terms',
    'Live progress',
    'Nothing lost',
    'Continue-as-new storm',
    'A slow database, the wedge',
  ]) {
    expect(readme).toContain(`## ${heading}`);
  }
  // The figures a reader looks for are there (not that they are good).
  const tx = resultOf('transactions');
  expect(tx.trees[0].rounds.length).toBeGreaterThan(0);
  expect(tx.trees[0].rounds[0].freshness).not.toBeNull();
  expect(tx.trees[0].rounds[0].eventsPerTransactionTotal).toBeGreaterThan(0);
  const rewards = resultOf('rewards');
  // None lost, none doubled: that part is correctness, and holds at any speed.
  expect(rewards.trees[0].completed).toBe(rewards.parameters.members);
  expect(rewards.trees[0].credits).toBe(rewards.parameters.members);
  expect(rewards.trees[0].distinctCreditedMembers).toBe(rewards.parameters.members);
  // Every member of the operation changed once, none twice (correctness again).
  const ops = resultOf('operations');
  expect(ops.trees[0].ours).toMatchObject({ changed: ops.parameters.members, changedTwice: 0, failed: 0 });
  expect(ops.trees[0].ours.changedOnce).toBe(ops.parameters.members);
  // Every verdict reproduced by the backtest's replay under the actual terms, at every level.
  const backtest = resultOf('backtest');
  for (const level of backtest.levels) {
    expect(level.ours).toMatchObject({ reproduced: level.enrollments, disagree: 0, exitCode: 0 });
  }
  // Every transaction seen on its member's streams, and one listening connection for them all.
  const live = resultOf('live');
  expect(live.stream.missed).toBe(0);
  expect(live.connections.listening).toBe(1);
  // Every lost piece of news found, nothing else, at every level (those a repair delivered are not lost any more).
  const reconcile = resultOf('reconcile');
  for (const level of reconcile.levels) {
    expect(level.ours).toMatchObject({ missing: level.injected - level.repairedBefore, listedNotLost: 0, exitCode: 1 });
    expect(level.ours.checked).toBe(level.news);
  }
  expect(reconcile.levels.some((l: { repair?: { repaired: number } }) => (l.repair?.repaired ?? 0) > 0)).toBe(true);
  // The storm lost nothing, doubled nothing, and continued as new.
  const storm = resultOf('storm');
  expect(storm.failures).toEqual([]);
  expect(storm.checks.reconcile.missing).toBe(0);
  expect(storm.shapes.continuedAsNew).toBeGreaterThan(0);
  // The wedge: both codes measured, and every member caught up on the current one.
  const wedge = resultOf('wedge');
  expect(wedge.runs.map((r: { code: string }) => r.code)).toEqual(['current', 'before safe-seams']);
  expect(wedge.runs[0].caught).toBe(wedge.runs[0].members);
  expect(existsSync(path.join(root, 'bench', 'results', 'README.md'))).toBe(true);
});
