/**
 * A TCP proxy that makes a real server slow or stalled on demand: every byte the server sends back reaches the client
 * `delayMs` late (in order), and while stalled nothing reaches the client at all, as from a server paused by SIGSTOP
 * or a network that holds packets. Requests go through at once, so the server does its work on time; only its answers
 * are late, which is what a caller with a deadline cannot tell from "not done". Tests put it in front of PostgreSQL or
 * a Temporal frontend.
 */
import net from 'node:net';

export interface DelayProxy {
  /** `host:port` to connect to instead of the server's. */
  address: string;
  port: number;
  /** The server's answers reach the client this late from now on (0: at once). */
  setDelay(ms: number): void;
  /** Holds every answer until `resume()`; what was held is then delivered, in order. */
  stall(): void;
  resume(): void;
  /** Closes every connection through the proxy (the client sees its connections break). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startDelayProxy(target: { host: string; port: number }): Promise<DelayProxy> {
  let delayMs = 0;
  let stalled = false;
  const pipes = new Set<{ flush(): void; destroy(): void }>();

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    // Answers wait here, each with the time it may leave; one timer drains the head of the queue.
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      while (!stalled && queue.length > 0 && queue[0].at <= Date.now()) {
        if (!client.destroyed) client.write(queue.shift()!.chunk);
        else queue.shift();
      }
      if (!stalled && queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0].at - Date.now()));
    };
    const pipe = {
      flush: () => {
        if (timer) clearTimeout(timer);
        flush();
      },
      destroy: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    pipes.add(pipe);
    upstream.on('data', (chunk: Buffer) => {
      queue.push({ at: Date.now() + delayMs, chunk });
      if (!timer && !stalled) timer = setTimeout(flush, delayMs);
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const end = (): void => {
      if (timer) clearTimeout(timer);
      pipes.delete(pipe);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', () => {
      // Deliver what the server said before it closed, then close.
      const finish = (): void => {
        if (queue.length === 0 || client.destroyed) return end();
        setTimeout(finish, 20);
      };
      finish();
    });
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    setDelay(ms) {
      delayMs = ms;
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const p of pipes) p.flush();
    },
    dropConnections() {
      for (const p of pipes) p.destroy();
    },
    async close() {
      for (const p of pipes) p.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
