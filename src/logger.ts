/**
 * Structured JSON logs (pino); on a terminal, readable lines instead (LOG_FORMAT=json|pretty overrides). One root logger; modules take children with their own bindings. Every line written
 * inside an activity carries its workflowId, runId and activityId, and inside a traced request or task its trace_id
 * and span_id (see telemetry/log-context.ts); the Temporal SDK's own lines come here too (telemetry/temporal.ts).
 */
import pino from 'pino';
import { logContext } from './telemetry/log-context';
import { prettyDestination } from './telemetry/pretty-log';

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
  return pino(options, destination ?? (logFormat() === 'pretty' ? prettyDestination() : undefined));
}

/** `pretty` on a terminal, `json` everywhere else, unless LOG_FORMAT says. */
export function logFormat(
  env: NodeJS.ProcessEnv = process.env,
  tty = process.stdout.isTTY === true,
): 'json' | 'pretty' {
  if (env.LOG_FORMAT === 'json' || env.LOG_FORMAT === 'pretty') return env.LOG_FORMAT;
  return tty ? 'pretty' : 'json';
}

export const logger = createLogger();

export type Logger = typeof logger;
