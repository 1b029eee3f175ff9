/**
 * Correlation fields for every log line, taken from where the line is written: inside an activity, the workflow and
 * activity it runs for; inside a traced operation, the trace and span ids (the same names the Temporal OpenTelemetry
 * interceptors give workflow and activity log lines, so one query finds them all).
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { asyncLocalStorage } from '@temporalio/activity';

export function logContext(): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  // The activity's AsyncLocalStorage: undefined outside an activity, so asking never throws.
  const activity = asyncLocalStorage.getStore()?.info;
  if (activity) {
    if (activity.workflowExecution) {
      fields.workflowId = activity.workflowExecution.workflowId;
      fields.runId = activity.workflowExecution.runId;
    }
    fields.activityId = activity.activityId;
    fields.activityType = activity.activityType;
    fields.attempt = activity.attempt;
  }
  const span = trace.getActiveSpan()?.spanContext();
  if (span && isSpanContextValid(span)) {
    fields.trace_id = span.traceId;
    fields.span_id = span.spanId;
  }
  return fields;
}
