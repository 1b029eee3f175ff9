/**
 * The notification relay: pushes what the member workflows' recorders put in the `notifications` outbox (written in
 * the same transaction as the audit line and the view that caused it) to the push channel, NOTIFY_URL. It runs in each
 * worker process; relays claim due rows with SKIP LOCKED, so several never push the same row at once, and a row a
 * crashed relay had claimed comes due again after its lease. At least once: the receiver dedupes on the stable id.
 * Failures are retried with backoff, MAX_PUSH_ATTEMPTS in all, then the row is FAILED: a failing push channel never
 * blocks or fails an enrollment, and costs the workflows nothing (no activity, no history event).
 */
import { pushNotification } from '../activities/push-client';
import { claimDueNotifications, MAX_PUSH_ATTEMPTS, settleNotification } from '../db/notifications';
import type { Db } from '../db/pool';
import type { Logger } from '../logger';

export interface RelayOptions {
  db: Db;
  notifyUrl: string;
  logger: Pick<Logger, 'warn' | 'info'>;
  timeoutMs?: number;
  /** How often an idle relay looks for due rows. */
  pollMs?: number;
  /** Rows claimed (and pushed concurrently) at a time. */
  batch?: number;
  /** Seconds before the next push after `attempts` failed ones (default pushBackoffSeconds). */
  backoffSeconds?: (attempts: number) => number;
}

export interface Relay {
  /** Finishes the pushes in flight and stops. */
  stop(): Promise<void>;
}

/** Seconds before attempt n + 1 after n failed: 1, 2, 4, 8 … at most 60. */
export const pushBackoffSeconds = (attempts: number): number => Math.min(60, 2 ** Math.max(0, attempts - 1));

export function startNotificationRelay(opts: RelayOptions): Relay {
  const { db, notifyUrl, logger } = opts;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const pollMs = opts.pollMs ?? 250;
  const batch = opts.batch ?? 50;
  const backoff = opts.backoffSeconds ?? pushBackoffSeconds;
  // A claimed row is someone else's for longer than a push can take.
  const leaseSeconds = Math.ceil((timeoutMs * 2) / 1000) + 5;
  let stopped = false;
  let wake: () => void = () => undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    while (!stopped) {
      let claimed = 0;
      try {
        const due = await claimDueNotifications(db, batch, leaseSeconds);
        claimed = due.length;
        await Promise.all(
          due.map(async (message) => {
            const answer = await pushNotification(notifyUrl, message, timeoutMs);
            if (answer.delivered) return settleNotification(db, message.id, { delivered: true });
            const last = message.attempts >= MAX_PUSH_ATTEMPTS;
            logger.warn(
              { id: message.id, attempts: message.attempts, error: answer.error, gaveUp: last },
              'notification not delivered',
            );
            return settleNotification(db, message.id, {
              delivered: false,
              error: answer.error,
              ...(last ? {} : { retryInSeconds: backoff(message.attempts) }),
            });
          }),
        );
      } catch (err) {
        // PostgreSQL away: claimed rows come due again after their lease.
        logger.warn({ err }, 'notification relay: cannot reach the outbox; trying again shortly');
        await sleep(1_000);
        continue;
      }
      if (claimed < batch) await sleep(pollMs);
    }
  })();

  return {
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
  };
}
