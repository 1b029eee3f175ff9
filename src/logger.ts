/** Structured JSON logs (pino). One root logger; modules take children with their own bindings. */
import pino from 'pino';

export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'cold-member-activation' },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export type Logger = typeof logger;
