import { ConfigError, loadConfig } from '../../src/config';
import { workerTuning } from '../../src/workers/worker';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      DATA_DIR: '.data',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'member-activation',
      CAMPAIGN_ID: 'cold-activation',
      CAMPAIGN_WINDOW: 'P30D',
      CAMPAIGN_GRACE: 'PT48H',
      REWARD_RETRY_FOR: 'PT24H',
      rewardRetryForMs: 24 * 3_600_000,
      WORKER_HTTP_PORT: 9464,
    });
    expect(c.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(c.OTEL_SERVICE_NAME).toBeUndefined();
    expect(workerTuning(c)).toEqual({
      settlementConcurrency: 32,
      rewardRetryForMs: 86_400_000,
      extra: {
        maxCachedWorkflows: 1_000,
        maxConcurrentWorkflowTaskExecutions: 40,
        maxConcurrentActivityTaskExecutions: 100,
      },
    });
  });

  it('takes worker tuning from the environment', () => {
    const c = loadConfig({
      WORKFLOW_BUNDLE: '/app/dist/workflow-bundle.js',
      WORKER_MAX_CACHED_WORKFLOWS: '5000',
      WORKER_MAX_CONCURRENT_ACTIVITIES: '200',
      SETTLEMENT_CONCURRENCY: '64',
    });
    expect(workerTuning(c)).toMatchObject({
      workflowBundlePath: '/app/dist/workflow-bundle.js',
      settlementConcurrency: 64,
      extra: { maxCachedWorkflows: 5_000, maxConcurrentActivityTaskExecutions: 200 },
    });
  });

  it('takes the observability settings from the environment', () => {
    const c = loadConfig({
      WORKER_HTTP_PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SERVICE_NAME: 'activation-eu',
    });
    expect(c).toMatchObject({
      WORKER_HTTP_PORT: 0,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SERVICE_NAME: 'activation-eu',
    });
    expect(() => loadConfig({ WORKER_HTTP_PORT: '70000' })).toThrow(/WORKER_HTTP_PORT/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('stops at boot naming every bad variable', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', CAMPAIGN_WINDOW: '30 days', SETTLEMENT_CONCURRENCY: '0' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/CAMPAIGN_WINDOW must be an ISO-8601 duration/);
    expect(message).toMatch(/SETTLEMENT_CONCURRENCY/);
  });
});
