/** Starts the API on a port and stops it cleanly (in-flight requests finish, idle sockets close). */
import type { Server } from 'node:http';
import type express from 'express';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function listen(app: express.Express, port: number, host = '0.0.0.0'): Promise<RunningServer> {
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 5_000;
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://localhost:${actualPort}`,
    close: async () => {
      const closing = new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
        // Give busy sockets a moment, then end them so shutdown stays within its budget.
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      // What the app holds open beyond a request (live member streams): ended now, not after the 5 s.
      for (const hook of (app.locals.onClose ?? []) as (() => Promise<void>)[]) await hook();
      await closing;
    },
  };
}
