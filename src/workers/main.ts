/**
 * `npm run worker`: the production worker process. Serves /healthz, /readyz and /metrics on WORKER_HTTP_PORT. On
 * SIGTERM /healthz turns 503 at once, in-flight tasks drain, then the HTTP server closes and the process exits 0.
 */
import { NativeConnection } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createRecordingMetrics } from '../activities/metrics';
import { loadConfig } from '../config';
import { parseDurationMs } from '../domain/terms';
import { createPool } from '../db/pool';
import { logger } from '../logger';
import { temporalConnectionOptions } from '../temporal-connection';
import { startTelemetry } from '../telemetry';
import { startWorkerHttpServer } from './http';
import { startNotificationRelay } from './notification-relay';
import { createWorker, workerTuning } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'POINTS_API_URL'] as const) {
    if (!config[name]) throw new Error(`${name} must be set for the production worker (npm start runs a local stack)`);
  }
  // Before the first connection: it would install a Temporal Runtime of its own, without our logs and metrics.
  const telemetry = await startTelemetry(config, {
    serviceName: 'cold-member-activation-worker',
    logger,
    sdkMetrics: config.WORKER_HTTP_PORT !== 0,
  });
  const db = createPool(config.DATABASE_URL!);
  const registry = new Registry();
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.TEMPORAL_ADDRESS!, config));
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: {
      db,
      pointsApiUrl: config.POINTS_API_URL!,
      pointsApiTimeoutMs: config.POINTS_API_TIMEOUT_MS,
      ...(config.POINTS_API_MAX_CONCURRENT ? { pointsApiMaxConcurrent: config.POINTS_API_MAX_CONCURRENT } : {}),
      notifyUrl: config.NOTIFY_URL,
      metrics: createRecordingMetrics(registry),
    },
    shutdownGraceTimeMs: parseDurationMs(config.WORKER_SHUTDOWN_GRACE),
    tracing: telemetry.tracing,
    ...workerTuning(config),
  });
  const http =
    config.WORKER_HTTP_PORT === 0
      ? undefined
      : await startWorkerHttpServer({
          port: config.WORKER_HTTP_PORT,
          state: () => worker.getState(),
          temporalReachable: () =>
            connection
              .withDeadline(Date.now() + 2_000, () => connection.workflowService.getSystemInfo({}))
              .then(() => true),
          ...(telemetry.sdkMetrics ? { sdkMetrics: telemetry.sdkMetrics.scrape } : {}),
          registry,
        });
  // `on`, not `once`: a repeated signal (a supervisor's second SIGTERM) must not fall to Node's default and kill the
  // process in the middle of the drain.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (worker.getState() !== 'RUNNING') return;
      logger.info({ signal }, 'worker draining');
      worker.shutdown();
    });
  }
  logger.info(
    { taskQueue: config.TEMPORAL_TASK_QUEUE, address: config.TEMPORAL_ADDRESS, http: http?.url },
    'worker running',
  );
  const relay = config.NOTIFY_URL ? startNotificationRelay({ db, notifyUrl: config.NOTIFY_URL, logger }) : undefined;
  await worker.run();
  await relay?.stop();
  // Probes see 503 through the whole drain; the server goes only once nothing is left to report on.
  await http?.close();
  await connection.close();
  await db.end();
  await telemetry.shutdown();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  logger.fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
