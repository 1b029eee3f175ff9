/**
 * The API as both of its hosts build it from the configuration: `npm run api` (api/main.ts) and `npm start`
 * (dev/stack.ts). One place, so that the production process and the local stack cannot drift apart.
 */
import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type express from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import type { Db } from '../db/pool';
import type { Logger } from '../logger';
import type { Telemetry } from '../telemetry';
import { clientInterceptors } from '../telemetry/temporal';
import { createApp } from './app';
import { createService } from './service';

export interface ApiWiring {
  config: Config;
  db: Db;
  /** A native (Core) connection rather than the pure-JS one: Core measures every client RPC (temporal_request*). */
  connection: NativeConnection;
  telemetry: Pick<Telemetry, 'tracing' | 'sdkMetrics'>;
  logger: Logger;
  /** Test hook: continue-as-new earlier than the server suggests. */
  historyEventLimit?: number;
  /** The registry /metrics serves (npm start shares it with the worker's activities). */
  metricsRegistry?: Registry;
}

export function createApiFromConfig(w: ApiWiring): express.Express {
  const { config, telemetry } = w;
  const service = createService({
    db: w.db,
    temporal: new Client({
      connection: w.connection,
      namespace: config.TEMPORAL_NAMESPACE,
      interceptors: clientInterceptors(telemetry.tracing),
    }),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    rewardRetryForMs: config.rewardRetryForMs,
    settlementChunkSize: config.SETTLEMENT_CHUNK_SIZE,
    ...(w.historyEventLimit ? { historyEventLimit: w.historyEventLimit } : {}),
    logger: w.logger,
  });
  return createApp({
    service,
    logger: w.logger,
    reportMetricsMaxAgeMs: config.reportMetricsMaxAgeMs,
    eventsHeartbeatMs: config.eventsHeartbeatMs,
    eventsMaxStreams: config.EVENTS_MAX_STREAMS,
    ...(w.metricsRegistry ? { metricsRegistry: w.metricsRegistry } : {}),
    ...(telemetry.sdkMetrics ? { sdkMetrics: telemetry.sdkMetrics.scrape } : {}),
  });
}
