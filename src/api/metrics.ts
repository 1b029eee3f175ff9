/** Prometheus metrics of the HTTP edge: request counts and latency histograms by route and status. */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CampaignReport } from '../db/report';

export interface HttpMetrics {
  registry: Registry;
  middleware: RequestHandler;
}

export function createHttpMetrics(registry = new Registry()): HttpMetrics {
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      // The matched route's pattern, never the raw path: member ids must not explode label cardinality.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };
  return { registry, middleware };
}

/** The campaign report's figures as gauges, computed when Prometheus scrapes. */
export function registerCampaignGauges(registry: Registry, reports: () => Promise<CampaignReport[]>): void {
  // prom-client collects every metric of a scrape concurrently: the gauges share one computation per scrape.
  let cached: { at: number; all: Promise<CampaignReport[]> } | undefined;
  const current = (): Promise<CampaignReport[]> => {
    if (!cached || Date.now() - cached.at > 1_000) cached = { at: Date.now(), all: reports() };
    return cached.all;
  };
  const gauge = (
    name: string,
    help: string,
    set: (g: Gauge, r: CampaignReport) => void,
    labelNames: string[] = ['campaign'],
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        // A failing PostgreSQL shows as activation_report_collect_success 0, not as a failed scrape.
        for (const r of await current().catch(() => [])) set(this, r);
      },
    });
  new Gauge({
    name: 'activation_report_collect_success',
    help: '1 when the campaign figures were computed for this scrape, 0 when PostgreSQL failed',
    registers: [registry],
    async collect() {
      this.set(
        await current().then(
          () => 1,
          () => 0,
        ),
      );
    },
  });
  gauge(
    'activation_enrollments',
    'Enrollments by campaign and state',
    (g, r) => {
      for (const [state, n] of Object.entries(r.counts)) g.set({ campaign: r.campaignId, state }, n);
    },
    ['campaign', 'state'],
  );
  gauge('activation_points_issued', 'Points credited by campaign', (g, r) =>
    g.set({ campaign: r.campaignId }, r.rewards.pointsIssued),
  );
  gauge('activation_rewards_failed', 'Rewards that could not be issued, by campaign', (g, r) =>
    g.set({ campaign: r.campaignId }, r.rewards.failed),
  );
  gauge('activation_open_reviews', 'Open manual review items by campaign', (g, r) =>
    g.set({ campaign: r.campaignId }, r.openReviews),
  );
  gauge(
    'activation_settlement_discrepancy_members',
    'Members whose instant total exceeds their settled total by more than A$100, 7 days after the load',
    (g, r) => g.set({ campaign: r.campaignId }, r.settlementDiscrepancies.members),
  );
  gauge('activation_late_settlement_member_ratio', 'Share of members with a late settlement', (g, r) => {
    if (r.lateSettlements.share !== null) g.set({ campaign: r.campaignId }, r.lateSettlements.share);
  });
  gauge(
    'activation_grace_effectiveness_ratio',
    'Share of in-window delayed loads settled before evaluatesAt',
    (g, r) => {
      if (r.graceEffectiveness.share !== null) g.set({ campaign: r.campaignId }, r.graceEffectiveness.share);
    },
  );
}
