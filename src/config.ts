/**
 * Configuration, parsed once at boot. An invalid value stops the process with a message naming the
 * variable; nothing reads `process.env` anywhere else.
 */
import { z } from 'zod';
import { MAX_AMOUNT_CENTS } from './domain/model';
import { graceProblem, isValidDuration, parseDurationMs, windowProblem } from './domain/terms';

const duration = (name: string, problem?: (text: string) => string | undefined) =>
  z.string().superRefine((text, ctx) => {
    const why = isValidDuration(text) ? problem?.(text) : 'must be an ISO-8601 duration such as P30D or PT48H';
    if (why) ctx.addIssue({ code: 'custom', message: `${name} ${why}` });
  });

const port = z.coerce.number().int().min(1).max(65535);
const optionalUrl = z
  .string()
  .url()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const schema = z.object({
  PORT: port.default(3000),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d+$/, 'TEMPORAL_ADDRESS must be host:port')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** mTLS to the Temporal frontend: PEM files (e.g. a mounted Kubernetes Secret); both or neither. */
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  /** The CA that signed the frontend's certificate, when it is not a public one. Setting it alone turns TLS on. */
  TEMPORAL_TLS_CA_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** An API key (Temporal Cloud); implies TLS. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('member-activation'),
  TEMPORAL_DEV_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  POINTS_API_URL: optionalUrl,
  POINTS_API_PORT: port.default(4010),
  POINTS_API_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Credit requests one worker process has in flight at most; unset → no limit. */
  POINTS_API_MAX_CONCURRENT: z.coerce.number().int().min(1).max(10_000).optional(),
  NOTIFY_URL: optionalUrl,
  EMBEDDED_PG_PORT: port.default(5433),
  CAMPAIGN_ID: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/, 'CAMPAIGN_ID must be 1–40 of [a-z0-9-]')
    .default('cold-activation'),
  CAMPAIGN_TARGET_CENTS: z.coerce.number().int().positive().max(MAX_AMOUNT_CENTS).default(50_000),
  CAMPAIGN_REWARD_POINTS: z.coerce.number().int().positive().default(2_000),
  CAMPAIGN_WINDOW: duration('CAMPAIGN_WINDOW', windowProblem).default('P30D'),
  CAMPAIGN_GRACE: duration('CAMPAIGN_GRACE', graceProblem).default('PT48H'),
  REWARD_RETRY_FOR: duration('REWARD_RETRY_FOR').default('PT24H'),
  /** Read by logger.ts (the root logger exists before the configuration is parsed); validated here so a typo stops the process. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Read by logger.ts (before the configuration is parsed); validated here so a typo stops the process. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  WORKER_SHUTDOWN_GRACE: duration('WORKER_SHUTDOWN_GRACE').default('PT10S'),
  /** A workflow bundle built by `npm run build` (dist/workflow-bundle.js); unset → bundled at worker start. */
  WORKFLOW_BUNDLE: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v)),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(1_000),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).default(40),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(100),
  SETTLEMENT_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(32),
  /** Staged lines per settlement activity call (one checkpoint each). */
  SETTLEMENT_CHUNK_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** How old the campaign figures on /metrics may get before a scrape triggers their recomputation. */
  REPORT_METRICS_MAX_AGE: duration('REPORT_METRICS_MAX_AGE').default('PT30S'),
  /** How often an idle member stream (GET …/events) carries a heartbeat comment, so proxies keep it open. */
  EVENTS_HEARTBEAT: duration('EVENTS_HEARTBEAT').default('PT15S'),
  /** Member streams one API instance holds open at most; beyond it a new one is 429 TOO_MANY_STREAMS. */
  EVENTS_MAX_STREAMS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /** The worker's health and metrics HTTP server (GET /healthz, /readyz, /metrics); 0 turns it off. */
  WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** OTLP/HTTP collector base URL (traces go to `<url>/v1/traces`); unset → spans are made but not exported. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .regex(/^https?:\/\/[^\s/]+/, 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://localhost:4318')
    .optional(),
  /** The `service.name` of exported spans; unset → cold-member-activation-api / -worker (one name under npm start). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});

export type Env = z.infer<typeof schema>;

export interface Config extends Env {
  rewardRetryForMs: number;
  reportMetricsMaxAgeMs: number;
  eventsHeartbeatMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from `env`; empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema
    .refine((c) => Boolean(c.TEMPORAL_TLS_CERT_PATH) === Boolean(c.TEMPORAL_TLS_KEY_PATH), {
      path: ['TEMPORAL_TLS_CERT_PATH'],
      message: 'TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together (the client certificate and its key)',
    })
    .safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return {
    ...parsed.data,
    rewardRetryForMs: parseDurationMs(parsed.data.REWARD_RETRY_FOR),
    reportMetricsMaxAgeMs: parseDurationMs(parsed.data.REPORT_METRICS_MAX_AGE),
    eventsHeartbeatMs: parseDurationMs(parsed.data.EVENTS_HEARTBEAT),
  };
}

export const defaultCampaignTerms = (config: Config) => ({
  campaignId: config.CAMPAIGN_ID,
  targetCents: config.CAMPAIGN_TARGET_CENTS,
  rewardPoints: config.CAMPAIGN_REWARD_POINTS,
  window: config.CAMPAIGN_WINDOW,
  grace: config.CAMPAIGN_GRACE,
  currency: 'AUD' as const,
});
