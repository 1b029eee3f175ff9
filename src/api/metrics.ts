/** Prometheus metrics of the HTTP edge: request counts and latency histograms by route and status. */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CampaignReport } from '../db/report';

export interface HttpMetrics {
  registry: Registry;
  middleware: RequestHandler;
  /** The /metrics body: the app's metrics, then the Temporal SDK's (client RPCs; under npm start the worker's too). */
  render(): Promise<string>;
}

export function createHttpMetrics(
  registry = new Registry(),
  /** The Temporal SDK's metrics in Prometheus text format (telemetry/temporal.ts); omitted → app metrics only. */
  sdkMetrics?: () => Promise<string>,
): HttpMetrics {
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
  const render = async () => {
    const [own, sdk] = await Promise.all([registry.metrics(), sdkMetrics?.() ?? Promise.resolve('')]);
    return [own.trimEnd(), sdk.trimEnd()].filter(Boolean).join('\n') + '\n';
  };
  return { registry, middleware, render };
}

/**
 * The campaign report's figures as gauges. Computing them scans the read models (seconds at a million members), so a
 * scrape gets figures at most `maxAgeMs` old: the first scrape computes, later ones are served the last figures while
 * a refresh runs in the background once they are older than that. Whatever the number of scrapers and API replicas'
 * scrape intervals, each replica computes at most once per `maxAgeMs`. `activation_report_age_seconds` says how old
 * the figures served are.
 */
export function registerCampaignGauges(
  registry: Registry,
  reports: () => Promise<CampaignReport[]>,
  maxAgeMs = 30_000,
  now: () => number = Date.now,
): void {
  let last: { at: number; ok: boolean; all: CampaignReport[] } | undefined;
  let refreshing: Promise<void> | undefined;
  const refresh = (): Promise<void> =>
    (refreshing ??= (async () => {
      const at = now();
      try {
        last = { at, ok: true, all: await reports() };
      } catch {
        // A failing PostgreSQL shows as activation_report_collect_success 0, not as a failed scrape; the last good
        // figures stay (their age grows).
        last = { at, ok: false, all: last?.all ?? [] };
      } finally {
        refreshing = undefined;
      }
    })());
  // prom-client collects every metric of a scrape concurrently: they all wait for the same computation.
  let scrape: { at: number; ready: Promise<void> } | undefined;
  const current = async (): Promise<NonNullable<typeof last>> => {
    if (!scrape || now() - scrape.at > 1_000) {
      const stale = !last || now() - last.at >= maxAgeMs;
      // Without figures yet there is nothing to serve: wait. Otherwise serve what there is and refresh behind.
      scrape = {
        at: now(),
        ready: !last ? refresh() : stale ? (void refresh(), Promise.resolve()) : Promise.resolve(),
      };
    }
    await scrape.ready;
    return last!;
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
        for (const r of (await current()).all) set(this, r);
      },
    });
  new Gauge({
    name: 'activation_report_collect_success',
    help: '1 when the last computation of the campaign figures succeeded, 0 when PostgreSQL failed it',
    registers: [registry],
    async collect() {
      this.set((await current()).ok ? 1 : 0);
    },
  });
  new Gauge({
    name: 'activation_report_age_seconds',
    help: 'Age of the campaign figures served by this scrape (they are recomputed at most every REPORT_METRICS_MAX_AGE)',
    registers: [registry],
    async collect() {
      this.set(Math.max(0, (now() - (await current()).at) / 1000));
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
  gauge('activation_rewards_issued', 'Rewards credited, by campaign', (g, r) =>
    g.set({ campaign: r.campaignId }, r.rewards.issued),
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
    'activation_rate',
    'Share of ended enrollments that reached the target in the window, by campaign and group (TREATMENT, HOLDOUT)',
    (g, r) => {
      const { treatment, holdout } = r.lift;
      if (treatment.rate !== null) g.set({ campaign: r.campaignId, group: 'TREATMENT' }, treatment.rate);
      if (holdout.rate !== null) g.set({ campaign: r.campaignId, group: 'HOLDOUT' }, holdout.rate);
    },
    ['campaign', 'group'],
  );
  gauge(
    'activation_lift',
    "The campaign's lift: treatment's activation rate minus the holdout's, with its 95% interval (bound: estimate, low, high)",
    (g, r) => {
      const { difference, confidenceInterval: ci } = r.lift;
      if (difference === null || ci === null) return;
      g.set({ campaign: r.campaignId, bound: 'estimate' }, difference);
      g.set({ campaign: r.campaignId, bound: 'low' }, ci.low);
      g.set({ campaign: r.campaignId, bound: 'high' }, ci.high);
    },
    ['campaign', 'bound'],
  );
  gauge(
    'activation_points_per_incremental_activation',
    'Points issued per member activated because of the campaign (absent while the lift is not positive)',
    (g, r) => {
      if (r.lift.pointsPerIncrementalActivation !== null) {
        g.set({ campaign: r.campaignId }, r.lift.pointsPerIncrementalActivation);
      }
    },
  );
  gauge(
    'activation_budget_slots',
    "A budgeted campaign's reward slots (kind: max, reserved, remaining); absent without maxRewards",
    (g, r) => {
      if (!r.budget) return;
      g.set({ campaign: r.campaignId, kind: 'max' }, r.budget.maxRewards);
      g.set({ campaign: r.campaignId, kind: 'reserved' }, r.budget.reserved);
      g.set({ campaign: r.campaignId, kind: 'remaining' }, r.budget.remaining);
    },
    ['campaign', 'kind'],
  );
  gauge(
    'activation_grace_effectiveness_ratio',
    'Share of in-window delayed loads settled before evaluatesAt',
    (g, r) => {
      if (r.graceEffectiveness.share !== null) g.set({ campaign: r.campaignId }, r.graceEffectiveness.share);
    },
  );
}

/**
 * `activation_dependency_up{dependency}`: whether this API process reaches PostgreSQL and Temporal, checked at each
 * scrape. The alert on it is the one that sees a Temporal outage: the API's /readyz fails with it, so Kubernetes takes
 * the pods out of the Service and no request ever shows as a 5xx.
 */
export function registerDependencyGauge(
  registry: Registry,
  check: () => Promise<{ postgres: boolean; temporal: boolean }>,
): void {
  new Gauge({
    name: 'activation_dependency_up',
    help: 'Whether the API reaches the dependency (1) or not (0), checked at scrape time',
    labelNames: ['dependency'],
    registers: [registry],
    async collect() {
      const checks = await check();
      for (const [dependency, up] of Object.entries(checks)) this.set({ dependency }, up ? 1 : 0);
    },
  });
}

/** `activation_member_streams`: member streams (GET …/events) this API process holds open, against EVENTS_MAX_STREAMS. */
export function registerStreamsGauge(registry: Registry, open: () => number): void {
  new Gauge({
    name: 'activation_member_streams',
    help: 'Member streams (Server-Sent Events) open on this API process',
    registers: [registry],
    collect() {
      this.set(open());
    },
  });
}

/**
 * The latest reconciliation of each campaign (POST /v1/campaigns/{c}/reconcile, the nightly CronJob), as PostgreSQL
 * keeps it, so every API instance says the same: `activation_reconcile_missing_events` (accepted news no record of its
 * enrollment accounts for; the alert AcceptedNewsMissing fires above 0), what it checked and repaired, and when it
 * finished (ReconciliationsNotRun fires when that is over a day ago). Read at scrape time; a failing read leaves the
 * figures out of the scrape rather than failing it.
 */
export function registerReconcileGauges(
  registry: Registry,
  latest: () => Promise<
    { campaignId: string; checked: number; missing: number; repaired: number; finishedAt: string }[]
  >,
): void {
  let scrape: { at: number; runs: ReturnType<typeof latest> } | undefined;
  const runs = () => {
    if (!scrape || Date.now() - scrape.at > 1_000) {
      scrape = { at: Date.now(), runs: latest().catch(() => []) };
    }
    return scrape.runs;
  };
  const gauge = (name: string, help: string, value: (r: Awaited<ReturnType<typeof latest>>[number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['campaign'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await runs()) this.set({ campaign: r.campaignId }, value(r));
      },
    });
  gauge(
    'activation_reconcile_missing_events',
    'Accepted news that no record of its enrollment accounted for, at the campaign latest reconciliation',
    (r) => r.missing,
  );
  gauge('activation_reconcile_checked_events', 'News checked by the latest reconciliation', (r) => r.checked);
  gauge('activation_reconcile_repaired_events', 'News delivered again by the latest reconciliation', (r) => r.repaired);
  gauge(
    'activation_reconcile_last_run_timestamp_seconds',
    'When the latest reconciliation of the campaign finished (Unix time)',
    (r) => Date.parse(r.finishedAt) / 1_000,
  );
}
