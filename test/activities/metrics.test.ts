/** The recording's figures on the worker's /metrics: read-model lag and history events per piece of news. */
import { Registry } from 'prom-client';
import { createRecordingMetrics } from '../../src/activities/metrics';
import type { ProgressRecord } from '../../src/domain/records';

const record = (measures?: ProgressRecord['measures']) =>
  ({
    workflowId: 'w',
    campaignId: 'c',
    memberId: 'm',
    rewardPoints: 1,
    version: 1,
    audit: [],
    entries: [],
    view: {},
    ...(measures ? { measures } : {}),
  }) as unknown as ProgressRecord;

it('observes each piece of news once: its lag behind our edge, and the history it cost', async () => {
  const registry = new Registry();
  const metrics = createRecordingMetrics(registry);
  const at = Date.parse('2026-12-01T10:00:01.000Z');
  metrics.observe(record({ heard: ['2026-12-01T10:00:00.990Z', '2026-12-01T10:00:00.700Z'], historyEvents: 10 }), at);
  metrics.observe(record(), at); // a record of older workflow code: nothing measured
  const text = await registry.metrics();
  expect(text).toContain('activation_read_model_lag_seconds_bucket{le="0.01"} 1');
  expect(text).toContain('activation_read_model_lag_seconds_bucket{le="0.5"} 2');
  expect(text).toContain('activation_read_model_lag_seconds_count 2');
  expect(text).toContain('activation_news_recorded_total 2');
  expect(text).toContain('activation_history_events_total 10');
});
