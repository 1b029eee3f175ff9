/** A whole local stack for end-to-end tests (what `npm start` runs), on free ports and a temp DATA_DIR. */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { startStack, type Stack, type StackOptions } from '../../src/dev/stack';
import { findFreePort, freeStackPorts } from '../../src/dev/tools';
import { logger } from '../../src/logger';

export const freePort = (): Promise<number> => findFreePort();

export interface TestStack extends Stack {
  env: NodeJS.ProcessEnv;
  /** JSON over HTTP to the API. */
  api<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Stops the stack and removes its data directory. */
  destroy(): Promise<void>;
}

export async function startTestStack(
  extraEnv: NodeJS.ProcessEnv = {},
  opts: Omit<StackOptions, 'logger'> = {},
): Promise<TestStack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'activation-stack-'));
  // Embedded PostgreSQL runs as the unprivileged "postgres" user, who must be able to enter the directory.
  chmodSync(dataDir, 0o755);
  let env: NodeJS.ProcessEnv = {};
  let stack: Stack | undefined;
  // Ports are free when picked, but with several stacks starting at once another process (a dev server picking its
  // HTTP port) can take one first: that start fails with EADDRINUSE, and another set of ports is tried.
  for (let attempt = 1; !stack; attempt++) {
    env = { DATA_DIR: dataDir, ...(await freeStackPorts()), POINTS_API_TIMEOUT_MS: '1500', ...extraEnv };
    try {
      stack = await startStack(loadConfig(env), { ...opts, logger: logger.child({}, { level: 'warn' }) });
    } catch (err) {
      if (attempt >= 3 || !String((err as Error)?.message).includes('EADDRINUSE')) throw err;
    }
  }
  return {
    ...stack,
    env,
    async api<T>(method: string, p: string, body?: unknown) {
      const res = await fetch(`${stack.apiUrl}${p}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async destroy() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
