/**
 * PostgreSQL's own word that a member view changed: every write of an enrollment's row notifies `member_view` with
 * `campaignId memberId version` at its commit (migration member-view-notify). One connection of an API process listens;
 * whoever follows a member (api/live.ts) hears it from here. The connection is kept: lost (PostgreSQL restarted, the
 * network broke, a probe unanswered), it is opened again with backoff, and `onResync` is called once it is back, since
 * notifications sent meanwhile are lost with it.
 */
import { Client, type ClientConfig } from 'pg';

export const VIEW_CHANNEL = 'member_view';

export interface ViewChange {
  campaignId: string;
  memberId: string;
  version: number;
}

/** `campaignId memberId version`: neither id may hold a space (contract.md). */
export function parseViewChange(payload: string | undefined): ViewChange | undefined {
  const [campaignId, memberId, version, ...rest] = (payload ?? '').split(' ');
  const v = Number(version);
  if (!campaignId || !memberId || rest.length > 0 || !Number.isSafeInteger(v)) return undefined;
  return { campaignId, memberId, version: v };
}

export interface ViewChangeListener {
  /**
   * Starts listening if not yet started, and resolves once the connection listens; rejects after `timeoutMs` if it
   * cannot (PostgreSQL is away: the listener keeps trying on its own).
   */
  ready(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface ListenerOptions {
  onChange(change: ViewChange): void;
  /** Listening again after the connection was lost: notifications may have been missed. */
  onResync(): void;
  onError?(err: Error): void;
  /** How often the connection is probed (a paused or partitioned server never says it is gone). Default 15 s. */
  probeEveryMs?: number;
}

const MAX_BACKOFF_MS = 10_000;

export function listenForViewChanges(config: ClientConfig, opts: ListenerOptions): ViewChangeListener {
  let client: Client | undefined;
  let closed = false;
  let listening = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let probe: NodeJS.Timeout | undefined;
  let started = false;
  let waiters: (() => void)[] = [];

  const drop = (c: Client, err?: Error) => {
    if (client !== c) return;
    client = undefined;
    listening = false;
    if (probe) clearInterval(probe);
    if (err) opts.onError?.(err);
    c.removeAllListeners('notification');
    void c.end().catch(() => undefined);
    if (!closed) {
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempt, 5));
      attempt += 1;
      timer = setTimeout(() => void connect(true).catch(() => undefined), delay);
      timer.unref();
    }
  };

  const connect = async (again: boolean): Promise<void> => {
    const c = new Client({ ...config, keepAlive: true, application_name: 'cold-member-activation-live' });
    client = c;
    c.on('error', (err) => drop(c, err));
    c.on('end', () => drop(c));
    c.on('notification', (n) => {
      if (n.channel !== VIEW_CHANNEL) return;
      const change = parseViewChange(n.payload);
      if (change) opts.onChange(change);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${VIEW_CHANNEL}`);
    } catch (err) {
      drop(c, err as Error);
      throw err;
    }
    if (closed || client !== c) return;
    listening = true;
    attempt = 0;
    for (const resolve of waiters) resolve();
    waiters = [];
    probe = setInterval(() => {
      const timeout = setTimeout(() => drop(c, new Error('the listening connection did not answer a probe')), 5_000);
      c.query('SELECT 1').then(
        () => clearTimeout(timeout),
        (err: Error) => {
          clearTimeout(timeout);
          drop(c, err);
        },
      );
    }, opts.probeEveryMs ?? 15_000);
    probe.unref();
    if (again) opts.onResync();
  };

  return {
    ready(timeoutMs) {
      if (closed) return Promise.reject(new Error('the view-change listener is closed'));
      if (listening) return Promise.resolve();
      if (!started) {
        started = true;
        void connect(false).catch(() => undefined);
      }
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          waiters = waiters.filter((w) => w !== done);
          reject(
            Object.assign(new Error('cannot listen for view changes: PostgreSQL does not answer'), { code: '57P03' }),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(t);
          resolve();
        };
        waiters.push(done);
      });
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (probe) clearInterval(probe);
      const c = client;
      client = undefined;
      listening = false;
      await c?.end().catch(() => undefined);
    },
  };
}
