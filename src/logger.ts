/**
 * Structured JSON logs (pino). One root logger; modules take children with their own bindings. Every line written
 * inside an activity carries its workflowId, runId and activityId, and inside a traced request or task its trace_id
 * and span_id (see telemetry/log-context.ts); the Temporal SDK's own lines come here too (telemetry/temporal.ts).
 */
import pino from 'pino';
import { logContext } from './telemetry/log-context';

export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  destination?: pino.DestinationStream,
): pino.Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'cold-member-activation' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: logContext,
  };
  return destination ? pino(options, destination) : pino(options);
}

export const logger = createLogger();

export type Logger = typeof logger;
