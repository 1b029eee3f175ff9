/**
 * The workflow side of tracing. Runs inside the workflow sandbox (bundled through WORKFLOW_INTERCEPTOR_MODULES), so
 * it imports nothing but @temporalio/workflow and the workflow part of @temporalio/interceptors-opentelemetry.
 *
 * A run is traced when whoever started it was (its start carries the client interceptor's trace header) and when
 * the worker that began it ran this code (the patch). Both are facts of the run's history, so every replay decides
 * the same way, and a run untraced decides so for its whole life.
 *
 * Why the care: the OpenTelemetry interceptors wrap activity scheduling, signal handling and continue-as-new in async
 * spans, which moves the workflow's promise resolutions by a few microtasks. A run recorded without them can order
 * its commands differently when replayed with them (an update completing before or after an activity is scheduled:
 * a nondeterminism error). Untraced runs go straight through (the same promises, not a tick later), so runs that
 * began before tracing existed, or on a worker of that time during a rolling deploy (header, but no patch marker),
 * replay exactly as recorded. Once no such run is open (the longest lives 32 days), the patch can be deprecated.
 */
import { patched, type WorkflowInterceptors } from '@temporalio/workflow';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';

export const TRACING_PATCH = 'opentelemetry-tracing';

type Method = (input: unknown, next: (input: unknown) => unknown) => unknown;

/** Every interceptor method of `target`, passing straight to `next` unless the run is traced. */
function gated<T extends object>(target: T, traced: () => boolean): T {
  const methods: Record<string, Method> = {};
  for (let proto = Object.getPrototypeOf(target) as object | null; proto && proto !== Object.prototype;) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = (target as Record<string, unknown>)[name];
      if (name === 'constructor' || name in methods || typeof method !== 'function') continue;
      methods[name] = (input, next) => (traced() ? (method as Method).call(target, input, next) : next(input));
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return methods as T;
}

export const interceptors = (): WorkflowInterceptors => {
  // One instance per run. Everything else the run does comes after `execute`, which decides.
  let traced = false;
  const isTraced = () => traced;
  const inbound = new OpenTelemetryInboundInterceptor();
  return {
    inbound: [
      {
        ...gated(inbound, isTraced),
        execute(input, next) {
          traced = input.headers[TRACE_HEADER] !== undefined && patched(TRACING_PATCH);
          return traced ? inbound.execute(input, next) : next(input);
        },
      },
    ],
    outbound: [gated(new OpenTelemetryOutboundInterceptor(), isTraced)],
    internals: [gated(new OpenTelemetryInternalsInterceptor(), isTraced)],
  };
};
