/**
 * The Temporal SDK's telemetry, routed into ours: its logs (SDK, Core, workflow `log`, activity `log`) into pino, its
 * metrics (Core's Prometheus exporter) next to the app's, and the OpenTelemetry interceptors that carry a trace from
 * the client through the workflow into its activities.
 */
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { ClientInterceptors } from '@temporalio/client';
import { IllegalStateError, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/common';
import { Runtime, makeTelemetryFilterString, type WorkerInterceptors } from '@temporalio/worker';
import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { findFreePort } from '../platform';
import type { Logger } from '../logger';
import type { Tracing } from './tracing';

/**
 * The workflow interceptor modules every workflow bundle of this project is built with: the prebuilt one
 * (scripts/build-bundle.mjs), the worker's own when it bundles at start, and every bundle that replays histories.
 * They are part of the workflow code: a traced run replays deterministically only with them (see
 * workflow-interceptors.ts), and a worker running them must register `workflowSinks()`.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [require.resolve('./workflow-interceptors')];

const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * The SDK's Logger interface over pino. Workflow lines arrive with workflowId and runId in their metadata, activity
 * lines with workflowId, workflowRunId and activityId; both leave with `workflowId` and `runId`, so one query finds a
 * run's workflow and activity lines alike.
 */
export function temporalLogger(log: Logger): TemporalLogger {
  const emit = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    const method = PINO_LEVEL[level];
    if (!log.isLevelEnabled(method)) return;
    log[method](meta ? logFields(meta) : {}, message);
  };
  return {
    log: emit,
    trace: (message, meta) => emit('TRACE', message, meta),
    debug: (message, meta) => emit('DEBUG', message, meta),
    info: (message, meta) => emit('INFO', message, meta),
    warn: (message, meta) => emit('WARN', message, meta),
    error: (message, meta) => emit('ERROR', message, meta),
  };
}

function logFields(meta: LogMetadata): Record<string, unknown> {
  // The task token is an opaque credential-like blob, useless to a reader; the SDK's error goes under pino's `err`.
  const { taskToken: _taskToken, workflowRunId, error, ...rest } = meta as Record<string, unknown>;
  const fields: Record<string, unknown> = rest;
  if (workflowRunId !== undefined && fields.runId === undefined) fields.runId = workflowRunId;
  if (error !== undefined) fields.err = error;
  return fields;
}

export interface SdkMetrics {
  /** Core's Prometheus endpoint, on the loopback interface only: our own /metrics serves it. */
  url: string;
  /** The SDK's metrics in Prometheus text format; a comment line when Core cannot be reached. */
  scrape(): Promise<string>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Run Core's Prometheus exporter (worker and client metrics of every NativeConnection of this process). */
  metrics: boolean;
}

/**
 * Installs the process's one Temporal Runtime: before any NativeConnection, since the first connection would install a
 * default one. Returns undefined when a Runtime exists already (the test runner installs a quiet one per process);
 * the SDK's metrics are then not available here.
 */
export async function installTemporalRuntime(options: RuntimeOptions): Promise<{ metrics?: SdkMetrics } | undefined> {
  const port = options.metrics ? await findFreePort() : undefined;
  try {
    Runtime.install({
      // Our entry points handle signals themselves (drain, then stop the servers). The Runtime's own handler would
      // shut workers down behind their back and, being removed after the first signal, leave a second Ctrl-C to
      // Node's default: death in the middle of the shutdown.
      shutdownSignals: [],
      logger: temporalLogger(options.logger),
      telemetryOptions: {
        // Core's own lines join the JSON log instead of plain text on the console.
        logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
        ...(port === undefined
          ? {}
          : {
              // Prometheus conventions: durations in seconds with the unit in the name, counters ending in _total.
              metrics: {
                prometheus: {
                  bindAddress: `127.0.0.1:${port}`,
                  useSecondsForDurations: true,
                  unitSuffix: true,
                  countersTotalSuffix: true,
                },
              },
            }),
      },
    });
  } catch (err) {
    if (err instanceof IllegalStateError) return undefined;
    throw err;
  }
  if (port === undefined) return {};
  const url = `http://127.0.0.1:${port}/metrics`;
  return {
    metrics: {
      url,
      async scrape() {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          return await res.text();
        } catch (err) {
          return `# Temporal SDK metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`;
        }
      },
    },
  };
}

/**
 * The client interceptors of every Temporal client that starts, signals or updates workflows. They carry the trace
 * into the workflows only when spans leave the process: a traced workflow run costs the worker about five times the
 * memory of an untraced one while it is cached (the OpenTelemetry workflow interceptors and their spans, measured at
 * ~1.9 MB against ~0.4 MB), which buys nothing when no span is exported. Untraced runs go through the workflow
 * interceptors untouched (src/telemetry/workflow-interceptors.ts).
 */
export const clientInterceptors = (tracing: Pick<Tracing, 'exporting'>): ClientInterceptors =>
  tracing.exporting ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : {};

/** The worker's activity interceptors: a span per activity, child of the workflow's schedule span. */
export const activityInterceptors = (): NonNullable<WorkerInterceptors['activity']> => [
  (ctx) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  }),
];

/**
 * The sink through which the workflow interceptors hand their spans out of the sandbox. Every worker running our
 * bundle needs it, even one that exports nothing: a workflow calling an unregistered sink makes the worker log errors.
 */
export const workflowSinks = (tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>) => ({
  exporter: makeWorkflowExporter(
    tracing?.spanProcessor ?? new NoopSpanProcessor(),
    tracing?.resource ?? Resource.empty(),
  ),
});
