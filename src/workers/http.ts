/**
 * The worker's small HTTP server, for the orchestrator and for Prometheus:
 *   GET /healthz  200 while the worker runs, 503 from the moment it drains (SIGTERM), stops or fails
 *   GET /readyz   200 when the worker runs and its Temporal frontend answers
 *   GET /metrics  the Temporal SDK's metrics (Core's Prometheus exporter) and the process's own
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { State } from '@temporalio/worker';
import { Registry, collectDefaultMetrics } from 'prom-client';

export interface WorkerHttpDeps {
  port: number;
  host?: string;
  /** The worker's state (`worker.getState()`). */
  state: () => State;
  /** Whether Temporal answers; called per /readyz, so keep it short (it gets a deadline). */
  temporalReachable: () => Promise<boolean>;
  /** The SDK's metrics in Prometheus text format; omitted → process metrics only. */
  sdkMetrics?: () => Promise<string>;
  /** The process's own metrics (the activities' among them); default: a new registry with the process metrics. */
  registry?: Registry;
}

export interface WorkerHttpServer {
  url: string;
  close(): Promise<void>;
}

/** Not yet running counts as alive: the worker is about to poll. Everything after RUNNING is on its way out. */
const ALIVE: ReadonlySet<State> = new Set(['INITIALIZED', 'RUNNING']);

export async function startWorkerHttpServer(deps: WorkerHttpDeps): Promise<WorkerHttpServer> {
  const registry = deps.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });

  const json = (status: number, body: unknown) => ({ status, type: 'application/json', body: JSON.stringify(body) });
  const routes: Record<string, () => Promise<{ status: number; type: string; body: string }>> = {
    '/healthz': async () => {
      const state = deps.state();
      return json(ALIVE.has(state) ? 200 : 503, { status: ALIVE.has(state) ? 'ok' : 'stopping', state });
    },
    '/readyz': async () => {
      const state = deps.state();
      const temporal = state === 'RUNNING' && (await deps.temporalReachable().catch(() => false));
      const ok = state === 'RUNNING' && temporal;
      return json(ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', state, checks: { temporal } });
    },
    '/metrics': async () => {
      const [sdk, own] = await Promise.all([deps.sdkMetrics?.() ?? Promise.resolve(''), registry.metrics()]);
      return { status: 200, type: registry.contentType, body: [sdk.trimEnd(), own].filter(Boolean).join('\n') };
    },
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = req.method === 'GET' || req.method === 'HEAD' ? routes[path] : undefined;
    const reply = route
      ? route()
      : Promise.resolve(json(404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } }));
    reply
      .catch((err: unknown) => json(500, { error: { code: 'INTERNAL', message: String(err) } }))
      .then(({ status, type, body }) => {
        res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      })
      .catch(() => res.destroy());
  });
  // Probes hold no long requests; a short keep-alive lets close() finish quickly after the worker stops.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
