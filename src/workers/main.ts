/** `npm run worker`: the production worker process. Drains in-flight tasks on SIGTERM, then exits 0. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config';
import { parseDurationMs } from '../domain/terms';
import { createPool } from '../db/pool';
import { logger } from '../logger';
import { createWorker, workerTuning } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'POINTS_API_URL'] as const) {
    if (!config[name]) throw new Error(`${name} must be set for the production worker (npm start runs a local stack)`);
  }
  const db = createPool(config.DATABASE_URL!);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS! });
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: {
      db,
      pointsApiUrl: config.POINTS_API_URL!,
      pointsApiTimeoutMs: config.POINTS_API_TIMEOUT_MS,
      notifyUrl: config.NOTIFY_URL,
    },
    shutdownGraceTimeMs: parseDurationMs(config.WORKER_SHUTDOWN_GRACE),
    ...workerTuning(config),
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'worker draining');
      worker.shutdown();
    });
  }
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: config.TEMPORAL_ADDRESS }, 'worker running');
  await worker.run();
  await connection.close();
  await db.end();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  logger.fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
