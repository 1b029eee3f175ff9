/** Wiring of the Temporal worker: the workflows, the activities and their dependencies. */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { createSettlementActivities } from '../activities/settlement';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Path of a prebuilt workflow bundle; without it the workflows are bundled at start-up. */
  workflowBundlePath?: string;
  shutdownGraceTimeMs?: number;
  /** Member workflows the settlement batch updates at once (default 32). */
  settlementConcurrency?: number;
  extra?: Partial<WorkerOptions>;
}

export async function createWorker(setup: WorkerSetup): Promise<Worker> {
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue,
    ...(setup.workflowBundlePath
      ? { workflowBundle: { codePath: setup.workflowBundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: {
      ...createActivities(setup.deps),
      // The settlement batch signals member workflows: a client on the worker's own connection.
      ...createSettlementActivities({
        db: setup.deps.db,
        temporal: new Client({ connection: setup.connection, namespace: setup.namespace }),
        ...(setup.settlementConcurrency ? { concurrency: setup.settlementConcurrency } : {}),
      }),
    },
    shutdownGraceTime: setup.shutdownGraceTimeMs ?? 10_000,
    ...setup.extra,
  });
}
