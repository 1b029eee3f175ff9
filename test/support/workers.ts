/**
 * Workers as separate processes (the production entry point, `npm run worker`: dist/src/workers/main.js), for tests
 * that kill one mid-way. The stack then runs none of its own (`startTestStack({}, { worker: false })`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestStack } from './stack';

const WORKER = path.join(__dirname, '..', '..', 'dist', 'src', 'workers', 'main.js');

export interface WorkerProcesses {
  start(): ChildProcess;
  /** Kills every worker still running (SIGKILL). */
  killAll(): void;
}

export function workerProcesses(stack: () => TestStack): WorkerProcesses {
  const workers: ChildProcess[] = [];
  return {
    start() {
      const s = stack();
      const child = spawn(process.execPath, [WORKER], {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: s.temporalAddress,
          DATABASE_URL: s.databaseUrl,
          POINTS_API_URL: s.pointsApiUrl,
          // The bundle Jest's global setup built: the worker starts in a second instead of running webpack.
          WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
          LOG_LEVEL: 'warn',
          // No health and metrics server: two suites' workers would both want the default port 9464, and the second
          // would exit (two crash suites run side by side on 2 cores).
          WORKER_HTTP_PORT: '0',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      workers.push(child);
      return child;
    },
    killAll() {
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    },
  };
}

/** Rejects when `child` exits: raced against a wait, a worker that died says so at once instead of a timeout. */
export const exitOf = (child: ChildProcess, what: string): Promise<never> =>
  new Promise((_, reject) => {
    const fail = (code: number | null) => reject(new Error(`the worker exited (${String(code)}) ${what}`));
    if (child.exitCode !== null) fail(child.exitCode);
    else child.once('exit', fail);
  });
