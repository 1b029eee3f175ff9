/**
 * One local stack per DATA_DIR. The lock file `<DATA_DIR>/stack.pid` names the process that runs the stack on it; a
 * second `npm start` on the same directory is refused while that process lives. When it does not (the run was killed:
 * kill -9, a power cut, the OOM killer), whatever still runs on the directory's servers is a leftover of that run, and
 * the new run may stop it and carry on.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from './processes';

export interface DataDirLock {
  /** Whether the previous owner of the directory died without releasing it (its servers may still run). */
  previousOwnerDied: boolean;
  release(): void;
}

interface Owner {
  pid: number;
  /** The process's start time (`/proc/<pid>/stat` field 22), so that a recycled pid is not taken for the owner. */
  started?: string;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, 'stack.pid');
  const me: Owner = { pid: process.pid, ...startTime(process.pid) };
  let previousOwnerDied = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${JSON.stringify(me)}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw err;
    }
    const owner = readOwner(file);
    if (owner && isRunning(owner)) {
      throw new Error(
        `another run (pid ${owner.pid}) is using ${dataDir}: stop it first, or give this one its own DATA_DIR`,
      );
    }
    previousOwnerDied = owner !== undefined;
    rmSync(file, { force: true });
  }
  return {
    previousOwnerDied,
    release: () => {
      if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
    },
  };
}

function readOwner(file: string): Owner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Owner;
    return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : undefined;
  } catch {
    return undefined; // absent, or torn by a crash while it was written
  }
}

function isRunning(owner: Owner): boolean {
  if (!isProcessAlive(owner.pid)) return false;
  const now = startTime(owner.pid).started;
  return owner.started === undefined || now === undefined || now === owner.started;
}

function startTime(pid: number): { started?: string } {
  try {
    // The command name (field 2) may contain spaces and parentheses: count fields after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return started ? { started } : {};
  } catch {
    return {}; // no /proc (macOS): the pid alone
  }
}
