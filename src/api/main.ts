/** `npm run api`: the production API process. Stops accepting on SIGTERM, finishes requests, exits 0. */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config';
import { createPool } from '../db/pool';
import { logger } from '../logger';
import { createApp } from './app';
import { listen } from './server';
import { createService } from './service';

async function main(): Promise<void> {
  const config = loadConfig();
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL'] as const) {
    if (!config[name]) throw new Error(`${name} must be set for the production API (npm start runs a local stack)`);
  }
  const db = createPool(config.DATABASE_URL!, 20);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS! });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const service = createService({
    db,
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    rewardRetryForMs: config.rewardRetryForMs,
  });
  const server = await listen(createApp({ service, logger }), config.PORT);
  logger.info({ url: server.url }, 'API listening');
  const stop = async (signal: string) => {
    logger.info({ signal }, 'API stopping');
    await server.close();
    await connection.close();
    await db.end();
    process.exit(0);
  };
  process.once('SIGINT', (s) => void stop(s));
  process.once('SIGTERM', (s) => void stop(s));
}

main().catch((err: unknown) => {
  logger.fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
