/**
 * The real `npm start`, run the way a person runs it: a child in a process group of its own (a terminal's foreground
 * job), so that a test can signal the whole group as a terminal's Ctrl-C or a supervisor does, or kill -9 it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isProcessAlive, readPidFile } from '../../src/dev/processes';
import { freeStackPorts, repoRoot } from '../../src/dev/tools';

export interface Product {
  child: ChildProcess;
  /** The process group (npm's pid). */
  pgid: number;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  pointsUrl: string;
  /** Everything npm and the product wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves when the output matches `pattern` (checked from `from`, an offset into output()). */
  waitFor(pattern: RegExp, timeoutMs: number, from?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** The embedded servers' pids, from their lock files in DATA_DIR. */
  serverPids(): { postgres?: number; temporal?: number };
  api<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T; headers: Headers }>;
}

export interface ProductOptions {
  /** Reuse a data directory (a restart); default: a new one. */
  dataDir?: string;
  /** Reuse ports (a restart keeps them, like a person would); default: free ones. */
  ports?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

export function newDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'activation-product-'));
  // Where user namespaces are forbidden, PostgreSQL runs as the OS user postgres, who must be able to enter it.
  chmodSync(dir, 0o755);
  return dir;
}

export async function startProduct(opts: ProductOptions = {}): Promise<Product> {
  const dataDir = opts.dataDir ?? newDataDir();
  const ports = opts.ports ?? (await freeStackPorts());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...ports,
    DATA_DIR: dataDir,
    POINTS_API_TIMEOUT_MS: '1500',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  // Not the test run's database or bundle: the product brings its own, as on a fresh machine.
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  delete env.WORKFLOW_BUNDLE;
  const child = spawn('npm', ['start'], {
    cwd: repoRoot(),
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const check of waiters) check();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal, at: Date.now() });
      for (const check of waiters) check();
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));

  const waitFor = (pattern: RegExp, timeoutMs: number, from = 0) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${out}`));
      }, timeoutMs);
      const check = () => {
        if (pattern.test(out.slice(from))) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        } else if (gone) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`npm start exited while waiting for ${pattern}; output:\n${out}`));
        }
      };
      waiters.add(check);
      check();
    });

  const apiUrl = `http://localhost:${ports.PORT}`;
  return {
    child,
    pgid: child.pid!,
    dataDir,
    env,
    apiUrl,
    pointsUrl: `http://127.0.0.1:${ports.POINTS_API_PORT}`,
    output: () => out,
    waitFor,
    exited,
    serverPids: () => ({
      postgres: readPidFile(path.join(dataDir, 'postgres', 'postmaster.pid')),
      temporal:
        readPidFile(path.join(dataDir, 'temporal.db.pid')) ??
        processesMentioning(dataDir).find((p) => p.cmdline.includes('start-dev'))?.pid,
    }),
    async api<T>(method: string, p: string, body?: unknown) {
      const res = await fetch(`${apiUrl}${p}`, {
        method,
        signal: AbortSignal.timeout(30_000),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
    },
  };
}

export const RUNNING = /cold member activation is running/;

/** Every live process whose command line mentions `text` (a data directory): what a run left behind. */
export function processesMentioning(text: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const state = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmdline.includes(text) && state !== 'Z') found.push({ pid: Number(name), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The pid and its descendants, by /proc parentage. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const all: number[] = [];
  const walk = (pid: number) => {
    all.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return all;
}

export const isAlive = isProcessAlive;

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
