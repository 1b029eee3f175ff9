/**
 * OpenTelemetry tracing for one process. The provider is registered globally because three parties must share the
 * active context without knowing of each other: the HTTP edge (server span per request), the Temporal client
 * interceptor (puts the context into workflow headers) and the activity interceptor (takes it out again). Workflow
 * spans are made inside the workflow sandbox and leave it through a sink into the same span processor.
 *
 * Without OTEL_EXPORTER_OTLP_ENDPOINT spans are still made (their ids correlate logs) but never exported: a no-op
 * processor, no batching, no network.
 */
import { context, propagation, trace, type ProxyTracerProvider, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** The instrumentation scope of the spans this project makes itself (the Temporal interceptors use their own). */
export const TRACER_NAME = 'cold-member-activation';

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to `<url>/v1/traces`. */
  otlpEndpoint?: string;
  /** Send every span to this exporter as it ends (tests: an InMemorySpanExporter). Wins over `otlpEndpoint`. */
  exporter?: SpanExporter;
}

export interface Tracing {
  tracer: Tracer;
  resource: Resource;
  /** Where this process's spans end, the workflow spans handed out of the sandbox included. */
  spanProcessor: SpanProcessor;
  /** Whether spans leave the process at all. */
  exporting: boolean;
  /** Flushes pending spans and gives the global registration back (a later stack in this process registers anew). */
  shutdown(): Promise<void>;
}

export function createTracing(options: TracingOptions): Tracing {
  const resource = new Resource({ [ATTR_SERVICE_NAME]: options.serviceName });
  const spanProcessor: SpanProcessor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : options.otlpEndpoint
      ? new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/+$/, '')}/v1/traces` }))
      : new NoopSpanProcessor();
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Sets the tracer provider, the AsyncLocalStorage context manager and the W3C trace-context propagator. If another
  // provider is registered already (two stacks in one process), the first one keeps the globals.
  provider.register();
  const registered = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() === provider;
  return {
    tracer: provider.getTracer(TRACER_NAME),
    resource,
    spanProcessor,
    exporting: Boolean(options.exporter ?? options.otlpEndpoint),
    async shutdown() {
      await provider.shutdown();
      if (registered) {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}
