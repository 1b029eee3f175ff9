/** Wiring of the Temporal worker: the workflows, the activities and their dependencies. */
import { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { createOperationActivities } from '../activities/operations';
import { createSettlementActivities } from '../activities/settlement';
import type { Config } from '../config';
import {
  WORKFLOW_INTERCEPTOR_MODULES,
  activityInterceptors,
  clientInterceptors,
  workflowSinks,
} from '../telemetry/temporal';
import type { Tracing } from '../telemetry/tracing';

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
  /** REWARD_RETRY_FOR, for the rewards a bulk RETRY_REWARD issues again (default 24 h). */
  rewardRetryForMs?: number;
  /** Where workflow and activity spans go; without it they are still made (the bundle traces) and dropped. */
  tracing?: Pick<Tracing, 'spanProcessor' | 'resource' | 'exporting'>;
  extra?: Partial<WorkerOptions>;
}

/** The worker's tuning from the environment (see the README's configuration table). */
export const workerTuning = (
  config: Config,
): Pick<WorkerSetup, 'workflowBundlePath' | 'settlementConcurrency' | 'rewardRetryForMs' | 'extra'> => ({
  ...(config.WORKFLOW_BUNDLE ? { workflowBundlePath: config.WORKFLOW_BUNDLE } : {}),
  settlementConcurrency: config.SETTLEMENT_CONCURRENCY,
  rewardRetryForMs: config.rewardRetryForMs,
  extra: {
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
  },
});

export async function createWorker(setup: WorkerSetup): Promise<Worker> {
  // The settlement batch and bulk operations update member workflows: a client on the worker's own connection, whose
  // calls continue the caller's trace.
  const temporal = new Client({
    connection: setup.connection,
    namespace: setup.namespace,
    interceptors: clientInterceptors(setup.tracing ?? { exporting: false }),
  });
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue,
    // Either bundle carries the workflow interceptors (scripts/build-bundle.mjs does the same as here).
    workflowBundle: setup.workflowBundlePath
      ? { codePath: setup.workflowBundlePath }
      : await bundleWorkflowCode({
          workflowsPath: require.resolve('../workflows'),
          workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
          // webpack's statistics are for whoever builds the bundle, not for the worker's log.
          logger: new DefaultLogger('WARN', ({ level, message }) => Runtime.instance().logger.log(level, message)),
        }),
    interceptors: { activity: activityInterceptors() },
    sinks: workflowSinks(setup.tracing),
    activities: {
      ...createActivities(setup.deps),
      ...createSettlementActivities({
        db: setup.deps.db,
        temporal,
        ...(setup.settlementConcurrency ? { concurrency: setup.settlementConcurrency } : {}),
      }),
      ...createOperationActivities({
        db: setup.deps.db,
        temporal,
        taskQueue: setup.taskQueue,
        rewardRetryForMs: setup.rewardRetryForMs ?? 86_400_000,
      }),
    },
    shutdownGraceTime: setup.shutdownGraceTimeMs ?? 10_000,
    ...setup.extra,
  });
}
