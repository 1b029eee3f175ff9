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
type Instance = Record<string, unknown>;

/**
 * Every interceptor method of the class `type`, calling the instance `current()` gives when the run is traced and
 * passing straight to `next` when it is not (no instance).
 */
function gated<T extends object>(type: abstract new () => T, current: () => T | undefined): T {
  const methods: Record<string, Method> = {};
  for (let proto = type.prototype as object | null; proto && proto !== Object.prototype;) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name in methods || typeof (proto as Instance)[name] !== 'function') continue;
      methods[name] = (input, next) => {
        const target = current() as Instance | undefined;
        return target ? (target[name] as Method).call(target, input, next) : next(input);
      };
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return methods as T;
}

export const interceptors = (): WorkflowInterceptors => {
  // Made only for a traced run, in `execute`, which comes before anything else the run does: an untraced run (most
  // of them when no span is exported) carries no OpenTelemetry objects at all, which keeps cached workflows small.
  let otel:
    | {
        inbound: OpenTelemetryInboundInterceptor;
        outbound: OpenTelemetryOutboundInterceptor;
        internals: OpenTelemetryInternalsInterceptor;
      }
    | undefined;
  return {
    inbound: [
      {
        ...gated(OpenTelemetryInboundInterceptor, () => otel?.inbound),
        execute(input, next) {
          if (input.headers[TRACE_HEADER] === undefined || !patched(TRACING_PATCH)) return next(input);
          otel = {
            inbound: new OpenTelemetryInboundInterceptor(),
            outbound: new OpenTelemetryOutboundInterceptor(),
            internals: new OpenTelemetryInternalsInterceptor(),
          };
          return otel.inbound.execute(input, next);
        },
      },
    ],
    outbound: [gated(OpenTelemetryOutboundInterceptor, () => otel?.outbound)],
    internals: [gated(OpenTelemetryInternalsInterceptor, () => otel?.internals)],
  };
};
