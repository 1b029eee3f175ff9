/**
 * A process's telemetry in one call, made before anything connects to Temporal: the Temporal Runtime (SDK logs into
 * pino, SDK metrics) and OpenTelemetry tracing. The API, the worker and `npm start` each call it once.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { installTemporalRuntime, type SdkMetrics } from './temporal';
import { createTracing, type Tracing } from './tracing';

export interface TelemetryOptions {
  /** `service.name` of the spans unless OTEL_SERVICE_NAME says otherwise. */
  serviceName: string;
  logger: Logger;
  /** Export the SDK's metrics (the process serves them on a /metrics of its own). */
  sdkMetrics: boolean;
  /** Tests: every span goes to this exporter. */
  spanExporter?: SpanExporter;
}

export interface Telemetry {
  tracing: Tracing;
  /** The Temporal SDK's metrics; undefined when not asked for or when the Runtime was installed by someone else. */
  sdkMetrics?: SdkMetrics;
  shutdown(): Promise<void>;
}

export async function startTelemetry(
  config: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>,
  options: TelemetryOptions,
): Promise<Telemetry> {
  const runtime = await installTemporalRuntime({ logger: options.logger, metrics: options.sdkMetrics });
  if (!runtime)
    options.logger.debug('Temporal Runtime already installed: SDK logs and metrics stay where it sends them');
  const tracing = createTracing({
    serviceName: config.OTEL_SERVICE_NAME ?? options.serviceName,
    ...(config.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
    ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
  });
  return {
    tracing,
    ...(runtime?.metrics ? { sdkMetrics: runtime.metrics } : {}),
    shutdown: () => tracing.shutdown(),
  };
}

export type { SdkMetrics } from './temporal';
export type { Tracing } from './tracing';
