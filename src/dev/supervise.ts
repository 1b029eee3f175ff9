/**
 * Supervision of the servers a local stack runs (embedded PostgreSQL, the Temporal dev server): one that dies is
 * restarted on the same data, and says so; one that cannot be brought back is reported, so that the stack stops with
 * a clear message instead of running on with a dead dependency.
 */
import type { Logger } from '../logger';
import { delay, describeExit, type ExitInfo } from './tools';

/** A server that dies is restarted up to this many times in a row; more crashes within CRASH_WINDOW_MS are fatal. */
export const RESTART_ATTEMPTS = 4;
export const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 10 * 60_000;

export interface SupervisionContext {
  say: (line: string) => void;
  logger: Pick<Logger, 'error' | 'warn' | 'info'>;
  onFatal: (err: Error) => void;
  /** Test hook: the pause before restart attempt n is this times 2^n (default 500 ms). */
  backoffMs?: number;
}

export interface Server {
  exit: Promise<ExitInfo>;
  stop(): Promise<void>;
}

/**
 * Runs a server and restarts it on the same data when it dies, saying so. `start` is called again for each restart;
 * after RESTART_ATTEMPTS failed restarts, or MAX_CRASHES crashes within CRASH_WINDOW_MS, `onFatal` is told and the
 * server stays down. `stop()` stops whichever instance runs (waiting for a restart in progress).
 */
export async function supervise<S extends Server>(
  name: string,
  start: () => Promise<S>,
  ctx: SupervisionContext,
): Promise<{ current: () => S; stop(): Promise<void> }> {
  let current = await start();
  let stopped = false;
  let restarting: Promise<unknown> | undefined;
  const crashes: number[] = [];
  void (async () => {
    for (;;) {
      const exit = await current.exit;
      if (stopped) return;
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && crashes[0] < now - CRASH_WINDOW_MS) crashes.shift();
      ctx.logger.error({ server: name, exit }, `${name} ${describeExit(exit)} unexpectedly`);
      if (crashes.length > MAX_CRASHES) {
        ctx.onFatal(new Error(`${name} keeps dying (${crashes.length} times in ${CRASH_WINDOW_MS / 60_000} min)`));
        return;
      }
      ctx.say(`${name} ${describeExit(exit)} unexpectedly; restarting it on the same data…`);
      let lastError: unknown;
      let restarted: S | undefined;
      for (let attempt = 1; attempt <= RESTART_ATTEMPTS && !stopped && !restarted; attempt++) {
        try {
          restarting = start();
          restarted = (await restarting) as S;
        } catch (err) {
          lastError = err;
          ctx.logger.warn({ server: name, attempt, err }, `${name} did not restart`);
          if (attempt < RESTART_ATTEMPTS) await delay((ctx.backoffMs ?? 500) * 2 ** attempt);
        }
      }
      if (!restarted) {
        if (!stopped) {
          const reason = lastError instanceof Error ? lastError.message : String(lastError);
          ctx.onFatal(new Error(`${name} died and could not be restarted: ${reason}`));
        }
        return;
      }
      current = restarted;
      if (stopped) return;
      ctx.say(`${name} is running again`);
      ctx.logger.info({ server: name }, `${name} restarted`);
    }
  })();
  return {
    current: () => current,
    async stop() {
      stopped = true;
      // A restart in progress finishes first, so that the instance it brings up is the one stopped.
      const late = await restarting?.catch(() => undefined);
      await ((late as S | undefined) ?? current).stop();
    },
  };
}
