/**
 * The product as a benchmark measures it: `npm start`'s stack (embedded PostgreSQL, the Temporal dev server, worker
 * and API in one node process, the local points API) run as a child from a code tree — this working tree, or another
 * commit checked out in a temporary worktree (`--against`) so that two versions are measured in one run on the same
 * machine. Its processes are this process's descendants, so `childUsage()` accounts their CPU by name.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { freeStackPorts, repoRoot } from '../../src/dev/tools';
import { delay, measuredNodeArgs, say } from './common';

/** A tree of the product's code, compiled: this one, or a commit's in a worktree (removed by `dispose`). */
export interface CodeTree {
  root: string;
  /** The commit measured, and whether the tree had uncommitted changes to src/. */
  commit: string;
  label: string;
  dispose(): void;
}

export function currentTree(): CodeTree {
  const root = repoRoot();
  const commit = git(root, 'rev-parse', '--short', 'HEAD');
  const dirty = git(root, 'status', '--porcelain', '--', 'src', 'migrations').length > 0;
  // The product runs from dist/: compile what is here now, never measure an older build.
  say(`compiling this tree (${commit}${dirty ? ' with changes' : ''})…`);
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  return { root, commit, label: dirty ? `${commit}+changes` : commit, dispose: () => undefined };
}

/** Checks `commit` out into a temporary worktree, with this tree's node_modules and .tools, and compiles it. */
export function commitTree(commit: string): CodeTree {
  const here = repoRoot();
  const sha = git(here, 'rev-parse', '--short', commit);
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-${sha}-`));
  say(`checking out ${commit} (${sha}) into ${dir} and compiling it…`);
  git(here, 'worktree', 'add', '--detach', dir, sha);
  for (const shared of ['node_modules', '.tools']) symlinkSync(path.join(here, shared), path.join(dir, shared));
  execFileSync(path.join(here, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: dir,
    stdio: 'inherit',
  });
  return {
    root: dir,
    commit: sha,
    label: sha,
    dispose: () => {
      try {
        git(here, 'worktree', 'remove', '--force', dir);
      } catch {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

export interface Product {
  tree: CodeTree;
  apiUrl: string;
  pointsApiUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  dataDir: string;
  child: ChildProcess;
  /** A Temporal client on the product's dev server (the raw baseline's path). */
  temporal: Client;
  /** A PostgreSQL connection pool on the product's database (for what the benchmark watches). */
  db: pg.Pool;
  output(): string;
  stop(): Promise<void>;
}

export interface ProductOptions {
  env?: NodeJS.ProcessEnv;
}

export async function startProduct(tree: CodeTree, opts: ProductOptions = {}): Promise<Product> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-product-'));
  chmodSync(tmp, 0o755); // where user namespaces are forbidden, PostgreSQL runs as the OS user postgres
  const dataDir = path.join(tmp, 'data');
  const ports = await freeStackPorts();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...ports,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    LOG_FORMAT: 'json',
    ...opts.env,
  };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'POINTS_API_URL'] as const) {
    if (!opts.env?.[name]) delete env[name];
  }
  const entry = path.join(tree.root, 'dist', 'src', 'dev', 'start.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: compile the tree first`);
  const child = spawn(process.execPath, [...measuredNodeArgs(), entry], {
    cwd: tree.root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + 180_000;
  while (!/cold member activation is running/.test(out)) {
    if (gone) throw new Error(`the product (${tree.label}) exited while starting:\n${out.slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`the product (${tree.label}) did not start in 180 s:\n${out}`);
    await delay(100);
  }
  const temporalAddress = `127.0.0.1:${ports.TEMPORAL_DEV_PORT}`;
  const connection = await Connection.connect({ address: temporalAddress });
  const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${ports.EMBEDDED_PG_PORT}/activation`;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db.on('error', () => undefined);
  let stopping: Promise<void> | undefined;
  return {
    tree,
    apiUrl: `http://localhost:${ports.PORT}`,
    pointsApiUrl: opts.env?.POINTS_API_URL ?? `http://127.0.0.1:${ports.POINTS_API_PORT}`,
    databaseUrl,
    temporalAddress,
    dataDir,
    child,
    temporal: new Client({ connection }),
    db,
    output: () => out,
    stop: () =>
      (stopping ??= (async () => {
        await db.end().catch(() => undefined);
        await connection.close().catch(() => undefined);
        if (!gone) child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        await exited;
        clearTimeout(timer);
        rmSync(tmp, { recursive: true, force: true });
      })()),
  };
}

/** JSON over HTTP to the product's API. */
export async function api<T = unknown>(
  product: Pick<Product, 'apiUrl'>,
  method: string,
  p: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${product.apiUrl}${p}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T };
}
