/**
 * The worker's figures of the member workflows' recording (on the worker's /metrics; under `npm start`, the API's):
 * how stale the read model is behind our edge, and what news costs in history events.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ProgressRecord } from '../domain/records';

export interface RecordingMetrics {
  observe(record: ProgressRecord, at: number): void;
}

export function createRecordingMetrics(registry: Registry): RecordingMetrics {
  const lag = new Histogram({
    name: 'activation_read_model_lag_seconds',
    help: 'From the API or the settlement file hearing a transaction to the read model (member view) showing it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const news = new Counter({
    name: 'activation_news_recorded_total',
    help: 'Transactions (real time and settlement, late ones included) recorded by member workflows',
    registers: [registry],
  });
  const events = new Counter({
    name: 'activation_history_events_total',
    help: 'Member workflow history events between records: divided by news, the cost of news in history events',
    registers: [registry],
  });
  return {
    observe(record, at) {
      if (!record.measures) return;
      for (const heard of record.measures.heard) {
        const ms = at - Date.parse(heard);
        if (Number.isFinite(ms)) lag.observe(Math.max(0, ms) / 1000);
      }
      news.inc(record.measures.heard.length);
      events.inc(Math.max(0, record.measures.historyEvents));
    },
  };
}
