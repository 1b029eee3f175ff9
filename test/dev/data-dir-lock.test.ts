/** One stack per DATA_DIR, and a lock left by a killed run does not block the next one. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lockDataDir } from '../../src/dev/data-dir-lock';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'lock-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('refuses a second run while the first is alive, naming it', () => {
  const lock = lockDataDir(dir);
  expect(lock.previousOwnerDied).toBe(false);
  expect(() => lockDataDir(dir)).toThrow(`another run (pid ${process.pid}) is using ${dir}`);
  lock.release();
  lockDataDir(dir).release();
});

it('takes over the lock of a run that died, and says the run did not stop cleanly', () => {
  const dead = spawnSync('true').pid;
  writeFileSync(path.join(dir, 'stack.pid'), JSON.stringify({ pid: dead }));
  const lock = lockDataDir(dir);
  expect(lock.previousOwnerDied).toBe(true);
  expect(JSON.parse(readFileSync(path.join(dir, 'stack.pid'), 'utf8')).pid).toBe(process.pid);
  lock.release();
});

it('takes over a lock whose pid now belongs to another process (a recycled pid)', () => {
  writeFileSync(path.join(dir, 'stack.pid'), JSON.stringify({ pid: process.pid, started: '1' }));
  const lock = lockDataDir(dir);
  expect(lock.previousOwnerDied).toBe(true);
  lock.release();
});

it('takes over a torn lock file', () => {
  writeFileSync(path.join(dir, 'stack.pid'), '{"pid": 12');
  expect(lockDataDir(dir).previousOwnerDied).toBe(false);
});
