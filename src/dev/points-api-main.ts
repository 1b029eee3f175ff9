/**
 * The local loyalty points API as a process of its own: the docker-compose stack's stand-in for the real points API
 * (`npm start` runs the same server in-process). Listens on POINTS_API_PORT on every interface, as a container must;
 * keeps its ledger in DATA_DIR/points-ledger.jsonl. SIGTERM or SIGINT closes it and exits 0.
 */
import path from 'node:path';
import { loadConfig } from '../config';
import { logger } from '../logger';
import { startPointsApi } from './points-api';

async function main(): Promise<void> {
  const config = loadConfig();
  const ledgerFile = path.resolve(config.DATA_DIR, 'points-ledger.jsonl');
  const points = await startPointsApi({ port: config.POINTS_API_PORT, host: '0.0.0.0', ledgerFile });
  logger.info({ port: config.POINTS_API_PORT, ledgerFile }, 'points API listening');
  const stop = async (signal: string) => {
    logger.info({ signal }, 'points API stopping');
    await points.stop();
    process.exit(0);
  };
  process.once('SIGINT', (s) => void stop(s));
  process.once('SIGTERM', (s) => void stop(s));
}

main().catch((err: unknown) => {
  logger.fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
});
