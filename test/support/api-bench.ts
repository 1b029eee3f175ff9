/**
 * The HTTP app on real servers, without a listening socket (supertest drives it): a fresh PostgreSQL database, the
 * Temporal time-skipping test server, the local points API and a worker running the real activities.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { createApp, type AppDeps } from '../../src/api/app';
import { createService } from '../../src/api/service';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { startPointsApi } from '../../src/dev/points-api';
import { logger } from '../../src/logger';
import { workflowSinks } from '../../src/telemetry/temporal';
import { createTestDatabase } from './db';
import { createTimeSkippingEnv, workflowBundle } from './temporal';

export interface ApiBench {
  app: ReturnType<typeof createApp>;
  env: TestWorkflowEnvironment;
  db: Db;
  points: Awaited<ReturnType<typeof startPointsApi>>;
  teardown(): Promise<void>;
}

export async function startApiBench(
  name: string,
  opts: { rewardRetryForMs?: number; app?: Pick<AppDeps, 'eventsHeartbeatMs' | 'eventsMaxStreams'> } = {},
): Promise<ApiBench> {
  const database = await createTestDatabase(name);
  const env = await createTimeSkippingEnv();
  await migrate(database.url);
  const db = createPool(database.url, 5);
  const points = await startPointsApi({ port: 0 });
  const taskQueue = `${name}-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    sinks: workflowSinks(),
    activities: createActivities({ db, pointsApiUrl: points.url, pointsApiTimeoutMs: 1_000 }),
  });
  const running = worker.run();
  const service = createService({
    db,
    temporal: env.client,
    taskQueue,
    rewardRetryForMs: opts.rewardRetryForMs ?? 86_400_000,
  });
  const app = createApp({ service, logger: logger.child({}, { level: 'silent' }), ...opts.app });
  return {
    app,
    env,
    db,
    points,
    async teardown() {
      // What the app holds open beyond a request (the live views' listening connection), as its host would close it.
      for (const hook of (app.locals.onClose ?? []) as (() => Promise<void>)[]) await hook();
      worker.shutdown();
      await running;
      await points.stop();
      await db.end();
      await env.teardown();
      await database.drop();
    },
  };
}
