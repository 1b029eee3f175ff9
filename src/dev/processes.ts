/**
 * Processes known by pid: pid files, liveness, and stopping one that is not our child (a server a killed run left
 * behind). Linux details (/proc) degrade to the pid alone elsewhere.
 */
import { readFileSync } from 'node:fs';
import { delay } from './tools';

/** The pid on the first line of `file` (postmaster.pid, our own pid files), or undefined. */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return process.platform !== 'linux'; // no /proc: the signal's answer is all we know
  }
}

/** The command line of `pid` as its arguments (empty when it is gone, or without /proc). */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Sends each signal in turn to `pid`, waiting up to its grace period for `running()` to turn false before escalating.
 * Resolves with whether it stopped.
 */
export async function stopProcess(
  pid: number,
  steps: readonly (readonly [NodeJS.Signals, number])[],
  running: () => boolean = () => isProcessAlive(pid),
): Promise<boolean> {
  for (const [signal, graceMs] of steps) {
    try {
      process.kill(pid, signal);
    } catch {
      return true; // gone
    }
    const deadline = Date.now() + graceMs;
    while (running() && Date.now() < deadline) await delay(100);
    if (!running()) return true;
  }
  return !running();
}
