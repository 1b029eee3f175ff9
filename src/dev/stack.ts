/**
 * The whole product on one machine, as `npm start` runs it and the end-to-end tests drive it: embedded
 * PostgreSQL and the Temporal dev server (unless DATABASE_URL / TEMPORAL_ADDRESS point elsewhere),
 * migrations, the default campaign, the local points API, the worker and the API. `stop()` shuts
 * everything down in reverse order; state lives under DATA_DIR, so a restart resumes every enrollment.
 *
 * The stack supervises the servers it started: one that dies is restarted on the same data (and says so); one that
 * cannot be restarted makes `failed` settle, and the caller stops. A run killed outright leaves nothing that blocks
 * the next: its servers get a signal from the kernel when it dies (see tools.ts), and the next start on the same
 * DATA_DIR stops whatever of them still runs (data-dir-lock.ts).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NativeConnection } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createRecordingMetrics } from '../activities/metrics';
import { listen } from '../api/server';
import { createApiFromConfig } from '../api/wiring';
import { defaultCampaignTerms, type Config } from '../config';
import { putCampaign } from '../db/campaigns';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { parseDurationMs } from '../domain/terms';
import { logger as rootLogger, type Logger } from '../logger';
import { startTelemetry } from '../telemetry';
import { startNotificationRelay } from '../workers/notification-relay';
import { createWorker, workerTuning } from '../workers/worker';
import { startPointsApi } from './points-api';
import { startEmbeddedPostgres } from './postgres';
import { lockDataDir } from './data-dir-lock';
import { startTemporalDevServer } from './temporal-dev-server';
import { supervise } from './supervise';

export interface Stack {
  apiUrl: string;
  uiUrl?: string;
  pointsApiUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  dataDir: string;
  /** The built-in points API, when this stack runs it. */
  points?: Awaited<ReturnType<typeof startPointsApi>>;
  /** Resolves when the worker stops on its own (a fatal error); `stop()` is still needed. */
  workerDone: Promise<void>;
  /** Settles with the reason when a server the stack runs died and could not be restarted; `stop()` is still needed. */
  failed: Promise<Error>;
  /**
   * Stops everything in reverse order. `hurry` aborted (a second Ctrl-C): the worker's drain is cut short; every
   * server is still stopped.
   */
  stop(opts?: { hurry?: AbortSignal }): Promise<void>;
}

export interface StackOptions {
  say?: (line: string) => void;
  logger?: Logger;
  /** Test hook passed to new enrollments: continue-as-new earlier than the server suggests. */
  historyEventLimit?: number;
  /** `false`: run no worker in this process (tests run workers as separate processes, to kill them). */
  worker?: boolean;
  /** Test hook: every span of the stack (HTTP, client, workflow, activity) goes to this exporter. */
  spanExporter?: SpanExporter;
  /** Aborts the start (Ctrl-C while starting): what was started is stopped and startStack rejects. */
  signal?: AbortSignal;
}

export async function startStack(config: Config, opts: StackOptions = {}): Promise<Stack> {
  const say = opts.say ?? (() => undefined);
  const logger = opts.logger ?? rootLogger;
  const dataDir = path.resolve(config.DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const lock = lockDataDir(dataDir);
  // Whatever still runs on this DATA_DIR belongs to a run that is gone: stop it rather than fail on its ports.
  const leftover = lock.previousOwnerDied ? ('stop' as const) : ('refuse' as const);
  if (lock.previousOwnerDied) say(`an earlier run on ${dataDir} did not stop cleanly; recovering…`);

  const stops: { name: string; stop: (hurry?: AbortSignal) => Promise<void> }[] = [
    { name: 'data directory lock', stop: async () => lock.release() },
  ];
  const stop = async ({ hurry }: { hurry?: AbortSignal } = {}) => {
    const failures: string[] = [];
    for (const { name, stop } of stops.splice(0).reverse()) {
      try {
        await stop(hurry);
      } catch (err) {
        logger.error({ err, name }, 'failed to stop cleanly');
        failures.push(name);
      }
    }
    if (failures.length) throw new Error(`could not stop cleanly: ${failures.join(', ')}`);
  };
  let fail: (err: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const supervision = { say, logger, onFatal: (err: Error) => fail(err) };
  const { signal } = opts;

  try {
    // Before any Temporal connection. API and worker share this process, hence one Runtime: the API's /metrics
    // serves the SDK's metrics of both (client RPCs and the worker's tasks).
    const telemetry = await startTelemetry(config, {
      serviceName: 'cold-member-activation',
      logger,
      sdkMetrics: true,
      ...(opts.spanExporter ? { spanExporter: opts.spanExporter } : {}),
    });
    stops.push({ name: 'telemetry', stop: telemetry.shutdown });

    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      say(`starting embedded PostgreSQL (${path.join(dataDir, 'postgres')}, port ${config.EMBEDDED_PG_PORT})…`);
      let started = false;
      const pg = await supervise(
        'embedded PostgreSQL',
        () =>
          startEmbeddedPostgres({
            dataDir: path.join(dataDir, 'postgres'),
            port: config.EMBEDDED_PG_PORT,
            // A restart after a crash finds its own dead server's leftovers (a backend still exiting): stop them.
            leftover: started ? 'stop' : leftover,
            say,
            ...(signal ? { signal } : {}),
          }),
        supervision,
      );
      started = true;
      stops.push({ name: 'postgres', stop: pg.stop });
      databaseUrl = pg.current().url;
    }

    let temporalAddress = config.TEMPORAL_ADDRESS;
    let uiUrl: string | undefined;
    if (!temporalAddress) {
      signal?.throwIfAborted();
      say(`starting the Temporal dev server (${path.join(dataDir, 'temporal.db')})…`);
      let started = false;
      const temporal = await supervise(
        'Temporal dev server',
        () =>
          startTemporalDevServer({
            port: config.TEMPORAL_DEV_PORT,
            uiPort: config.TEMPORAL_UI_PORT,
            dbFile: path.join(dataDir, 'temporal.db'),
            namespace: config.TEMPORAL_NAMESPACE,
            logFile: path.join(dataDir, 'temporal.log'),
            leftover: started ? 'stop' : leftover,
            say,
            ...(signal ? { signal } : {}),
          }),
        supervision,
      );
      started = true;
      stops.push({ name: 'temporal', stop: temporal.stop });
      temporalAddress = temporal.current().address;
      uiUrl = temporal.current().uiUrl;
    }

    signal?.throwIfAborted();
    const applied = await migrate(databaseUrl);
    if (applied.length) say(`applied migrations: ${applied.join(', ')}`);
    const db = createPool(databaseUrl, 20);
    // One /metrics for the one process: the API's figures and the worker's activities' (read-model lag, news cost).
    const metricsRegistry = new Registry();
    stops.push({ name: 'database pool', stop: () => db.end() });

    const campaign = await putCampaign(db, defaultCampaignTerms(config));
    if (campaign.outcome === 'CONFLICT') {
      say(
        `note: campaign ${config.CAMPAIGN_ID} already exists with other terms; terms are immutable, keeping ` +
          JSON.stringify(campaign.campaign),
      );
    }

    let pointsApiUrl = config.POINTS_API_URL;
    let points: Stack['points'];
    if (!pointsApiUrl) {
      points = await startPointsApi({
        port: config.POINTS_API_PORT,
        ledgerFile: path.join(dataDir, 'points-ledger.jsonl'),
      });
      stops.push({ name: 'points API', stop: points.stop });
      pointsApiUrl = points.url;
    }

    signal?.throwIfAborted();
    let workerDone: Promise<void> = Promise.resolve();
    if (opts.worker !== false) {
      const workerConnection = await NativeConnection.connect({ address: temporalAddress });
      stops.push({ name: 'worker connection', stop: () => workerConnection.close() });
      const worker = await createWorker({
        connection: workerConnection,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        deps: {
          db,
          pointsApiUrl,
          pointsApiTimeoutMs: config.POINTS_API_TIMEOUT_MS,
          notifyUrl: config.NOTIFY_URL,
          metrics: createRecordingMetrics(metricsRegistry),
          ...(config.POINTS_API_MAX_CONCURRENT ? { pointsApiMaxConcurrent: config.POINTS_API_MAX_CONCURRENT } : {}),
        },
        shutdownGraceTimeMs: parseDurationMs(config.WORKER_SHUTDOWN_GRACE),
        tracing: telemetry.tracing,
        ...workerTuning(config),
      });
      if (config.NOTIFY_URL) {
        const relay = startNotificationRelay({ db, notifyUrl: config.NOTIFY_URL, logger });
        stops.push({ name: 'notification relay', stop: relay.stop });
      }
      const running = worker.run();
      workerDone = running.catch((err: unknown) => {
        logger.fatal({ err }, 'worker failed');
      });
      stops.push({
        name: 'worker',
        stop: async (hurry) => {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          // Drains in-flight tasks (WORKER_SHUTDOWN_GRACE at most), unless a second Ctrl-C says not to wait.
          const cut = new Promise<void>((resolve) => {
            if (hurry?.aborted) resolve();
            hurry?.addEventListener('abort', () => resolve(), { once: true });
          });
          await Promise.race([running.catch(() => undefined), cut]);
        },
      });
    }

    // Native, as in production (src/api/main.ts): Core measures the client's RPCs.
    const connection = await NativeConnection.connect({ address: temporalAddress });
    stops.push({ name: 'client connection', stop: () => connection.close() });
    const api = await listen(
      createApiFromConfig({
        config,
        db,
        connection,
        telemetry,
        logger,
        metricsRegistry,
        ...(opts.historyEventLimit ? { historyEventLimit: opts.historyEventLimit } : {}),
      }),
      config.PORT,
    );
    stops.push({ name: 'API', stop: api.close });
    signal?.throwIfAborted();

    return {
      apiUrl: api.url,
      ...(uiUrl ? { uiUrl } : {}),
      pointsApiUrl,
      ...(points ? { points } : {}),
      databaseUrl,
      temporalAddress,
      dataDir,
      workerDone,
      failed,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
