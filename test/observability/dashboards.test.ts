/**
 * The checked-in Grafana dashboard, Prometheus alert rules and scrape configs (deploy/observability/): they parse,
 * they have the shape Grafana and Prometheus need, every PromQL expression parses, and every metric they name is one
 * the product really exports. The names are scraped from the production entry points (`npm run api` and `npm run
 * worker`, dist/src/{api,workers}/main.js) running against real servers after they have enrolled a member, credited
 * a reward through one failed attempt, and failed a workflow task: the metrics an alert waits for exist only once
 * the thing happened.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { Client, Connection } from '@temporalio/client';
import { parse as parseYaml } from 'yaml';
import { eventually, freePort, startTestStack, type TestStack } from '../support/stack';
import { workflowBundle } from '../support/temporal';

const DIR = path.join(__dirname, '..', '..', 'deploy', 'observability');
const DIST = path.join(__dirname, '..', '..', 'dist', 'src');

interface Target {
  refId: string;
  expr: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos?: { h: number; w: number; x: number; y: number };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const dashboard = JSON.parse(readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
const rules = parseYaml(readFileSync(path.join(DIR, 'alert-rules.yml'), 'utf8')) as RuleFile;
interface ScrapeConfigFile {
  rule_files: string[];
  scrape_configs: {
    job_name: string;
    dns_sd_configs?: unknown[];
    kubernetes_sd_configs?: unknown[];
    relabel_configs?: { target_label?: string; replacement?: string }[];
  }[];
}
/** One Prometheus configuration per place it runs: compose's DNS, Kubernetes' pod discovery. */
const PROMETHEUS_CONFIGS = ['prometheus-compose.yml', 'prometheus-kubernetes.yml'];
const prometheusConfigs = PROMETHEUS_CONFIGS.map((file) => ({
  file,
  config: parseYaml(readFileSync(path.join(DIR, file), 'utf8')) as ScrapeConfigFile,
}));

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const alerts = rules.groups.flatMap((g) => g.rules);

/** Every PromQL expression of the dashboard (its variables' queries too) and of the rules, with where it is. */
function expressions(d: Dashboard = dashboard, r: RuleFile = rules): { where: string; expr: string }[] {
  const fromPanels = allPanels(d.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr })),
  );
  const fromVariables = d.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => ({ where: `variable ${v.name}`, expr: labelValuesSelector(v.definition ?? '') }));
  const fromRules = r.groups.flatMap((g) =>
    g.rules.map((x) => ({ where: `rule ${x.alert ?? x.record}`, expr: x.expr })),
  );
  return [...fromPanels, ...fromVariables, ...fromRules];
}

/** `label_values(selector, label)` is Grafana's, not PromQL: its selector is. */
const labelValuesSelector = (query: string) => /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? query;

/** Grafana's macros and variables replaced by what Grafana would send, so that Prometheus's grammar applies. */
const asPromql = (expr: string) =>
  expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?(\w+)\}?/g, 'value-of-$1');

/** Parses with Prometheus's own grammar: the metric names used, and whether any part did not parse. */
function analyse(expr: string): { errors: string[]; metrics: string[] } {
  const promql = asPromql(expr);
  const errors: string[] = [];
  const metrics = new Set<string>();
  parser.parse(promql).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`at ${node.from}: "${promql.slice(Math.max(0, node.from - 10), node.to + 10)}"`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        metrics.add(promql.slice(node.from, node.to));
      }
    },
  });
  return { errors, metrics: [...metrics] };
}

/**
 * Series no process of ours exports: Prometheus makes `up` for every target; kube-state-metrics (scraped by the
 * cluster's Prometheus) has the Job and CronJob series the nightly verifier's alerts read.
 */
const PROMETHEUS_SERIES = new Set([
  'up',
  'kube_job_status_failed',
  'kube_job_status_start_time',
  'kube_cronjob_status_last_successful_time',
]);

/** The metric names used by `exprs` that are in none of `exported` (sample names and families from # TYPE). */
function unknownMetrics(exprs: { where: string; expr: string }[], exported: Set<string>): string[] {
  return exprs.flatMap(({ where, expr }) =>
    analyse(expr)
      .metrics.filter((m) => !PROMETHEUS_SERIES.has(m) && !exported.has(m))
      .map((m) => `${m} (${where})`),
  );
}

/** Names in a Prometheus text exposition: every sample's name (with _bucket/_sum/_count) and every family. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const family = /^# TYPE (\S+) /.exec(line);
    if (family) names.add(family[1]!);
    else if (line && !line.startsWith('#')) names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}

describe('the checked-in files', () => {
  it('every PromQL expression parses with Prometheus grammar', () => {
    const exprs = expressions();
    expect(exprs.length).toBeGreaterThan(30);
    const broken = exprs.flatMap(({ where, expr }) => analyse(expr).errors.map((e) => `${where} ${e}`));
    expect(broken).toEqual([]);
    // The check bites: a missing bracket and an unknown function are errors.
    expect(analyse('sum(rate(http_requests_total[5m])').errors).not.toEqual([]);
    expect(analyse('histogram_quantil(0.9, x)').errors).not.toEqual([]);
  });

  it('the dashboard: unique panel ids, a title, targets and a layout on every panel, the datasource a variable', () => {
    expect(dashboard.uid).toBe('cold-member-activation');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const datasource = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(datasource).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const p of panels) {
      expect(p.title.trim()).not.toBe('');
      expect(p.gridPos).toEqual(expect.objectContaining({ w: expect.any(Number), h: expect.any(Number) }));
      if (p.type === 'row') continue;
      expect({ panel: p.title, datasource: p.datasource?.uid }).toEqual({
        panel: p.title,
        datasource: '${datasource}',
      });
      expect(p.targets?.length).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const t of p.targets!) expect(t.expr.trim()).not.toBe('');
    }
    const titles = panels.map((p) => p.title);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it('the dashboard covers the golden signals and the campaign figures', () => {
    const used = new Set(expressions().flatMap(({ expr }) => analyse(expr).metrics));
    for (const metric of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'temporal_workflow_task_execution_latency_seconds_bucket',
      'temporal_activity_execution_latency_seconds_bucket',
      'temporal_workflow_task_schedule_to_start_latency_seconds_bucket',
      'temporal_activity_schedule_to_start_latency_seconds_bucket',
      'temporal_activity_execution_failed_total',
      'temporal_worker_task_slots_used',
      'temporal_sticky_cache_size',
      'activation_enrollments',
      'activation_rewards_issued',
      'activation_rewards_failed',
      'activation_open_reviews',
      'activation_settlement_discrepancy_members',
      'activation_late_settlement_member_ratio',
    ]) {
      expect({ metric, used: used.has(metric) }).toEqual({ metric, used: true });
    }
  });

  it('every alert has a name, an expression, a for, a severity and a summary; names are unique', () => {
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect({ alert: a.alert, expr: typeof a.expr, for: a.for }).toEqual({
        alert: expect.stringMatching(/^[A-Z][A-Za-z0-9]+$/),
        expr: 'string',
        for: expect.stringMatching(/^\d+[smhd]$/),
      });
      expect(['critical', 'warning', 'info']).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.trim()).toBeTruthy();
      // Each alert has its runbook line in the docs.
      expect(readFileSync(path.join(__dirname, '..', '..', 'docs', 'observability.md'), 'utf8')).toContain(
        `\`${a.alert}\``,
      );
    }
    const names = alerts.map((a) => a.alert);
    expect(new Set(names).size).toBe(names.length);
  });

  it('alerts on reward failures, open reviews, settlement discrepancies, schedule-to-start, API 5xx, worker down', () => {
    const alerting = (metric: string, matcher?: RegExp) =>
      alerts.filter((a) => analyse(a.expr).metrics.includes(metric) && (!matcher || matcher.test(a.expr)));
    expect(alerting('activation_rewards_failed').length).toBeGreaterThan(0);
    expect(alerting('activation_open_reviews').length).toBeGreaterThanOrEqual(2); // above a threshold, growing
    expect(alerting('activation_settlement_discrepancy_members').length).toBeGreaterThan(0);
    expect(alerting('temporal_workflow_task_schedule_to_start_latency_seconds_bucket').length).toBeGreaterThan(0);
    expect(alerting('temporal_activity_schedule_to_start_latency_seconds_bucket').length).toBeGreaterThan(0);
    expect(alerting('http_requests_total', /status=~"5\.\."/).length).toBeGreaterThan(0);
    expect(alerting('up', /job="activation-worker"/).length).toBeGreaterThan(0);
  });

  it('each scrape config loads the rules and defines every job the rules and the dashboard select', () => {
    const jobsOf = ({ scrape_configs }: ScrapeConfigFile) => {
      const jobs = new Set(scrape_configs.map((c) => c.job_name));
      for (const c of scrape_configs) {
        for (const r of c.relabel_configs ?? []) {
          // Kubernetes: `activation-$1` over (api|worker).
          if (r.target_label === 'job' && r.replacement === 'activation-$1')
            ['api', 'worker'].forEach((x) => jobs.add(`activation-${x}`));
        }
      }
      return jobs;
    };
    const selected = new Set(
      [
        ...alerts.flatMap((a) => [...a.expr.matchAll(/\bjob="([^"]+)"/g)].map((m) => m[1]!)),
        ...dashboard.templating.list.filter((v) => v.type === 'custom').map((v) => String(v.query)),
      ].filter(Boolean),
    );
    expect([...selected].sort()).toEqual(['activation-api', 'activation-worker']);
    for (const { file, config } of prometheusConfigs) {
      expect({ file, rules: config.rule_files }).toEqual({ file, rules: ['alert-rules.yml'] });
      const jobs = jobsOf(config);
      for (const job of selected) expect({ file, job, defined: jobs.has(job) }).toEqual({ file, job, defined: true });
    }
    // Each discovers in one place only: Kubernetes discovery outside a cluster fails, compose's DNS names mean
    // nothing inside one.
    const discovery = Object.fromEntries(
      prometheusConfigs.map(({ file, config }) => [
        file,
        [
          ...new Set(
            config.scrape_configs.flatMap((c) => [
              ...(c.dns_sd_configs ? ['dns'] : []),
              ...(c.kubernetes_sd_configs ? ['kubernetes'] : []),
            ]),
          ),
        ],
      ]),
    );
    expect(discovery).toEqual({ 'prometheus-compose.yml': ['dns'], 'prometheus-kubernetes.yml': ['kubernetes'] });
  });
});

describe('against the running API and worker', () => {
  let stack: TestStack;
  const children: ChildProcess[] = [];
  let apiUrl: string;
  let workerUrl: string;
  let exported: Set<string>;
  let apiMetrics: string;
  let workerMetrics: string;

  const start = (script: string, env: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, [path.join(DIST, script)], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        DATABASE_URL: stack.databaseUrl,
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
  };
  const api = async <T>(method: string, p: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${p}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();

  beforeAll(async () => {
    stack = await startTestStack({}, { worker: false });
    const [apiPort, workerPort] = [await freePort(), await freePort()];
    apiUrl = `http://127.0.0.1:${apiPort}`;
    workerUrl = `http://127.0.0.1:${workerPort}`;
    start('api/main.js', { PORT: String(apiPort) });
    start('workers/main.js', {
      POINTS_API_URL: stack.pointsApiUrl,
      WORKFLOW_BUNDLE: workflowBundle().codePath,
      WORKER_HTTP_PORT: String(workerPort),
    });
    await eventually(
      async () => (await fetch(`${apiUrl}/readyz`)).ok && (await fetch(`${workerUrl}/readyz`)).ok,
      60_000,
      'the API and the worker to be ready',
    );

    // A reward credited on its second attempt: the first one meets a 503 from the points API.
    stack.points!.faults.push(503);
    await api('PUT', '/v1/campaigns/dash', { targetCents: 1_000, rewardPoints: 10, window: 'PT2S', grace: 'PT1S' });
    expect((await api('POST', '/v1/campaigns/dash/enrollments', { memberId: 'G-1' })).status).toBe(201);
    const load = {
      transactionId: 'TX-G-1',
      memberId: 'G-1',
      kind: 'LOAD',
      amountCents: 2_000,
      currency: 'AUD',
      channel: 'DEBIT_CARD',
      occurredAt: new Date().toISOString(),
    };
    expect((await api('POST', '/v1/transactions', load)).status).toBe(202);
    expect((await api('GET', '/v1/campaigns/dash/members/nobody')).status).toBe(404);

    // A workflow task that fails: a workflow type this worker does not know.
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const handle = await new Client({ connection }).workflow.start('noSuchWorkflow', {
        taskQueue: 'member-activation',
        workflowId: 'dashboards-unknown-type',
      });
      await eventually(
        async () => /^temporal_workflow_task_execution_failed_total\{/m.test(await scrape(workerUrl)),
        30_000,
        'a failed workflow task to be counted',
      );
      await handle.terminate('test over');
    } finally {
      await connection.close();
    }

    await eventually(
      async () => (await api<{ state: string }>('GET', '/v1/campaigns/dash/members/G-1')).body.state === 'COMPLETED',
      60_000,
      'the reward to be issued',
    );
    apiMetrics = await scrape(apiUrl);
    workerMetrics = await scrape(workerUrl);
    exported = new Set([...exportedNames(apiMetrics), ...exportedNames(workerMetrics)]);
  }, 240_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await stack?.destroy();
  }, 60_000);

  it('the API serves its own metrics and the Temporal SDK client metrics on one /metrics', () => {
    expect(apiMetrics).toMatch(/^activation_enrollments\{campaign="dash",state="COMPLETED"\} 1$/m);
    expect(apiMetrics).toMatch(/^http_requests_total\{method="POST",route="\/v1\/transactions",status="202"\} 1$/m);
    expect(apiMetrics).toMatch(/^temporal_request_total\{.*operation="StartWorkflowExecution".*\} \d+/m);
    expect(apiMetrics).toMatch(/^process_cpu_user_seconds_total /m);
    // The API runs no worker: no worker metrics of its own.
    expect(apiMetrics).not.toMatch(/^temporal_worker_task_slots_available/m);
  });

  it('the worker serves the SDK metrics of what it ran', () => {
    expect(workerMetrics).toMatch(/^temporal_activity_execution_failed_total\{.*activity_type="issueReward".*\} 1$/m);
    expect(workerMetrics).toMatch(/^temporal_workflow_completed_total\{.*workflow_type="memberActivation".*\} 1$/m);
    expect(workerMetrics).toMatch(/^temporal_workflow_task_schedule_to_start_latency_seconds_bucket\{/m);
    // The dashboard splits workflow task failures by reason.
    expect(workerMetrics).toMatch(/^temporal_workflow_task_execution_failed_total\{.*failure_reason="[^"]+".*\} \d+/m);
  });

  it('every metric the dashboard and the alert rules name is exported by the API or the worker', () => {
    expect(unknownMetrics(expressions(), exported)).toEqual([]);
  });

  it('a misspelt metric name in the dashboard or the rules fails the check', () => {
    const typo = (s: string) =>
      s.replace(
        'temporal_activity_execution_latency_seconds_bucket',
        'temporal_activity_execution_latncy_seconds_bucket',
      );
    const badDashboard = JSON.parse(typo(JSON.stringify(dashboard))) as Dashboard;
    expect(unknownMetrics(expressions(badDashboard, rules), exported)).toEqual([
      expect.stringMatching(
        /^temporal_activity_execution_latncy_seconds_bucket \(panel "Activity execution latency p95" A\)$/,
      ),
    ]);
    const badRules = parseYaml(
      readFileSync(path.join(DIR, 'alert-rules.yml'), 'utf8').replace(
        'activation_open_reviews',
        'activation_open_review',
      ),
    ) as RuleFile;
    expect(unknownMetrics(expressions(dashboard, badRules), exported)).toEqual([
      'activation_open_review (rule OpenReviewsHigh)',
    ]);
  });
});
