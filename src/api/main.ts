/** `npm run api`: the production API process. Stops accepting on SIGTERM, finishes requests, exits 0. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createPool } from '../db/pool';
import { logger } from '../logger';
import { temporalConnectionOptions } from '../temporal-connection';
import { startTelemetry } from '../telemetry';
import { listen } from './server';
import { createApiFromConfig } from './wiring';

async function main(): Promise<void> {
  const config = loadConfig();
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL'] as const) {
    if (!config[name]) throw new Error(`${name} must be set for the production API (npm start runs a local stack)`);
  }
  // Before the connection: the Temporal Runtime is installed once, with our logger and the SDK's metrics exporter.
  const telemetry = await startTelemetry(config, {
    serviceName: 'cold-member-activation-api',
    logger,
    sdkMetrics: true,
  });
  const db = createPool(config.DATABASE_URL!, 20);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.TEMPORAL_ADDRESS!, config));
  const server = await listen(createApiFromConfig({ config, db, connection, telemetry, logger }), config.PORT);
  logger.info({ url: server.url }, 'API listening');
  let stopping = false;
  const stop = async (signal: string) => {
    // A repeated signal must not fall to Node's default and kill the process mid-shutdown.
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'API stopping');
    await server.close();
    await connection.close();
    await db.end();
    await telemetry.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', (s) => void stop(s));
  process.on('SIGTERM', (s) => void stop(s));
}

main().catch((err: unknown) => {
  logger.fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
