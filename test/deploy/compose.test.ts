/**
 * docker-compose.yml, the Dockerfile and .dockerignore, checked without a Docker engine: parsed as Docker would and
 * held against the code they run (the configuration schema, the entry points, the search attributes). That the
 * entry points really run with this environment is test/deploy/entrypoints.test.ts. The optional `observability`
 * profile (Prometheus, Grafana) is checked against the files it mounts and the dashboard it serves.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config';
import { parseDurationMs } from '../../src/domain/terms';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';
import {
  asList,
  composeDurationMs,
  dependsOn,
  enabledServices,
  envOf,
  execForm,
  interpolate,
  isIgnored,
  loadCompose,
  loadDockerfile,
  root,
  serviceEnv,
  volumeMount,
  type Service,
} from './compose-file';

const compose = loadCompose();
/** Every service, the optional profiles' too. */
const services = compose.services;
/** What a plain `docker compose up` starts. */
const defaultStack = enabledServices(compose);
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const env = (name: string) => serviceEnv(service(name));

/** The services built from our Dockerfile, and what their processes require (see each main.ts). */
const APP_SERVICES = ['migrate', 'points-api', 'worker', 'api'] as const;
const REQUIRED_ENV: Record<string, string[]> = {
  migrate: ['DATABASE_URL'],
  worker: ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'POINTS_API_URL'],
  api: ['DATABASE_URL', 'TEMPORAL_ADDRESS'],
};
/** Read by Node.js itself or by the image's healthcheck rather than src/config.ts. */
const NOT_APP_CONFIG = new Set(['NODE_ENV', 'HEALTHCHECK_URL']);

const configSource = readFileSync(path.join(root, 'src', 'config.ts'), 'utf8');
const inConfigSchema = (name: string) => new RegExp(`^\\s+${name}:`, 'm').test(configSource);

/** `dist/src/x/y.js` → `src/x/y.ts`: what `npm run build` (tsc, rootDir `.`, outDir `dist`) compiles it from. */
function sourceOfBuiltFile(builtPath: string): string {
  const tsconfig = JSON.parse(readFileSync(path.join(root, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: { outDir: string; rootDir: string };
  };
  const build = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  const { outDir, rootDir } = tsconfig.compilerOptions;
  const rel = path.relative(outDir, builtPath);
  expect(rel.startsWith('..')).toBe(false);
  const source = path.join(rootDir, rel).replace(/\.js$/, '.ts');
  expect(build.include).toContain('src/**/*.ts');
  expect(source.startsWith(`src${path.sep}`)).toBe(true);
  return source;
}

/** The URL a `node -e "fetch('…')…"` healthcheck asks. */
function healthcheckUrl(s: Service): URL {
  const test = asList(s.healthcheck?.test);
  expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
  const url = /fetch\('([^']+)'\)/.exec(test[3] ?? '')?.[1];
  if (!url) throw new Error(`no fetch('…') in healthcheck ${JSON.stringify(test)}`);
  // A probe that treats a non-2xx answer or a refused connection as healthy would prove nothing.
  expect(test[3]).toContain('process.exit(r.ok ? 0 : 1)');
  expect(test[3]).toContain('() => process.exit(1)');
  return new URL(url);
}

/** One-shot jobs: they run to completion and are never restarted. */
const isOneShot = (s: Service) => s.restart === 'no';

describe('docker-compose.yml', () => {
  it('runs PostgreSQL, Temporal (schema, server, setup, Web UI) and our migrate, points API, worker and API', () => {
    expect(Object.keys(defaultStack).sort()).toEqual(
      [
        'postgres',
        'temporal-schema',
        'temporal',
        'temporal-setup',
        'temporal-ui',
        'migrate',
        'points-api',
        'worker',
        'api',
      ].sort(),
    );
  });

  it('uses the official images at pinned versions, never latest', () => {
    const images = Object.fromEntries(Object.entries(services).map(([name, s]) => [name, s.image]));
    for (const [name, image] of Object.entries(images)) {
      expect({ name, image }).toEqual({ name, image: expect.stringMatching(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/) });
      expect({ name, tag: image!.split(':')[1] }).not.toEqual({ name, tag: 'latest' });
    }
    expect(images.postgres).toMatch(/^postgres:\d+\.\d+$/);
    expect(images.temporal).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(images['temporal-ui']).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    // The schema tool and the CLI must match the server they set up.
    const serverVersion = images.temporal!.split(':')[1];
    expect(images['temporal-schema']).toBe(`temporalio/admin-tools:${serverVersion}`);
    expect(images['temporal-setup']).toBe(`temporalio/admin-tools:${serverVersion}`);
  });

  it('builds one image from ./Dockerfile for all our services, each running a file `npm run build` produces', () => {
    const images = new Set(APP_SERVICES.map((name) => service(name).image));
    expect(images.size).toBe(1);
    for (const name of APP_SERVICES) {
      const s = service(name);
      expect({ name, build: s.build }).toEqual({ name, build: '.' });
      const [node, script, ...rest] = asList(s.command);
      expect({ name, node, rest }).toEqual({ name, node: 'node', rest: [] });
      expect(existsSync(path.join(root, sourceOfBuiltFile(script!)))).toBe(true);
    }
    expect(service('worker').command).toEqual(['node', 'dist/src/workers/main.js']);
    expect(service('api').command).toEqual(['node', 'dist/src/api/main.js']);
    expect(service('migrate').command).toEqual(['node', 'dist/src/db/migrate-cli.js']);
  });

  it('publishes the API, the Web UI, the points ledger and Temporal on localhost only, where the README expects them', () => {
    const published = Object.fromEntries(Object.entries(defaultStack).map(([name, s]) => [name, s.ports ?? []]));
    expect(published).toEqual({
      postgres: [],
      'temporal-schema': [],
      temporal: ['127.0.0.1:7233:7233'],
      'temporal-setup': [],
      'temporal-ui': ['127.0.0.1:8233:8080'],
      migrate: [],
      'points-api': [`127.0.0.1:4010:${env('points-api').POINTS_API_PORT}`],
      worker: [],
      api: [`127.0.0.1:3000:${env('api').PORT}`],
    });
    // The worker's health and metrics port is reachable inside the network, without a host port to collide on.
    expect(service('worker').expose).toEqual([env('worker').WORKER_HTTP_PORT]);
  });

  it('has healthchecks that ask the right port and path of each long-running service', () => {
    const pg = asList(service('postgres').healthcheck?.test);
    expect(pg.slice(0, 2)).toEqual(['CMD', 'pg_isready']);
    // Over TCP, with the user and database the others connect as.
    expect(pg.join(' ')).toContain(
      `-h 127.0.0.1 -U ${env('postgres').POSTGRES_USER} -d ${env('postgres').POSTGRES_DB}`,
    );
    expect(asList(service('temporal').healthcheck?.test)).toEqual(['CMD', 'nc', '-z', '127.0.0.1', '7233']);

    const worker = healthcheckUrl(service('worker'));
    expect([worker.hostname, worker.port, worker.pathname]).toEqual([
      '127.0.0.1',
      env('worker').WORKER_HTTP_PORT,
      '/healthz',
    ]);
    const api = healthcheckUrl(service('api'));
    expect([api.hostname, api.port, api.pathname]).toEqual(['127.0.0.1', env('api').PORT, '/readyz']);
    const points = healthcheckUrl(service('points-api'));
    expect([points.port, points.pathname]).toEqual([env('points-api').POINTS_API_PORT, '/v1/credits']);

    for (const [name, s] of Object.entries(services)) {
      if (isOneShot(s) || name === 'temporal-ui') continue;
      const h = s.healthcheck!;
      expect({ name, interval: composeDurationMs(h.interval!) > 0, retries: h.retries! > 0 }).toEqual({
        name,
        interval: true,
        retries: true,
      });
    }
    // The image's default healthcheck probes the worker; a one-shot job has nothing to probe.
    expect(service('migrate').healthcheck).toEqual({ disable: true });
  });

  it('orders start-up with depends_on conditions, and every one-shot job is awaited by a long-running service', () => {
    const oneShots = Object.keys(services).filter((name) => isOneShot(service(name)));
    expect(oneShots.sort()).toEqual(['migrate', 'temporal-schema', 'temporal-setup']);

    const adopted = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect(Object.keys(services)).toContain(dep);
        // A bare dependency only waits for the container to start; ours all wait for health or completion.
        const wanted = isOneShot(service(dep)) ? 'service_completed_successfully' : 'service_healthy';
        expect({ name, dep, condition }).toEqual({ name, dep, condition: wanted });
        if (wanted === 'service_healthy') expect(service(dep).healthcheck?.test).toBeDefined();
        if (isOneShot(service(dep)) && !isOneShot(s)) adopted.add(dep);
      }
    }
    // `docker compose up --wait` counts an exited container as a failure unless a running service awaits its
    // completion (docker/compose#10596).
    expect([...adopted].sort()).toEqual(oneShots.sort());

    expect(dependsOn(service('temporal-schema'))).toEqual({ postgres: 'service_healthy' });
    expect(dependsOn(service('temporal'))).toEqual({ 'temporal-schema': 'service_completed_successfully' });
    expect(dependsOn(service('temporal-setup'))).toEqual({ temporal: 'service_healthy' });
    expect(dependsOn(service('migrate'))).toEqual({ postgres: 'service_healthy' });
    expect(dependsOn(service('worker'))).toEqual({
      migrate: 'service_completed_successfully',
      'temporal-setup': 'service_completed_successfully',
      'points-api': 'service_healthy',
    });
    expect(dependsOn(service('api'))).toEqual({
      migrate: 'service_completed_successfully',
      'temporal-setup': 'service_completed_successfully',
    });

    // No cycles: a topological order exists.
    const done = new Set<string>();
    let progress = true;
    while (progress) {
      progress = false;
      for (const [name, s] of Object.entries(services)) {
        if (!done.has(name) && Object.keys(dependsOn(s)).every((d) => done.has(d))) {
          done.add(name);
          progress = true;
        }
      }
    }
    expect(done.size).toBe(Object.keys(services).length);
  });

  it('gives our services every variable their entry points require, all of them known to src/config.ts and valid', () => {
    for (const name of APP_SERVICES) {
      const e = env(name);
      for (const required of REQUIRED_ENV[name] ?? [])
        expect({ name, required, set: !!e[required] }).toEqual({ name, required, set: true });
      for (const key of Object.keys(e)) {
        expect({ name, key, known: NOT_APP_CONFIG.has(key) || inConfigSchema(key) }).toEqual({
          name,
          key,
          known: true,
        });
      }
      // The values parse: loadConfig throws a ConfigError naming the variable otherwise.
      const config = loadConfig(e);
      for (const [key, value] of Object.entries(e)) {
        if (value !== '' && !NOT_APP_CONFIG.has(key)) expect(Object.keys(config)).toContain(key);
      }
    }
  });

  it('points every service at the same PostgreSQL, Temporal, namespace and points API, whatever the password', () => {
    const custom = loadCompose({ POSTGRES_PASSWORD: 's3cret' });
    const e = (name: string) => serviceEnv(custom.services[name]!);
    const pg = e('postgres');
    expect(pg.POSTGRES_PASSWORD).toBe('s3cret');
    const dbUrl = `postgres://${pg.POSTGRES_USER}:s3cret@postgres:5432/${pg.POSTGRES_DB}`;
    for (const name of ['migrate', 'worker', 'api'])
      expect({ name, url: e(name).DATABASE_URL }).toEqual({ name, url: dbUrl });

    const temporal = e('temporal');
    expect(temporal).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgres',
      DB_PORT: '5432',
      POSTGRES_USER: pg.POSTGRES_USER,
      POSTGRES_PWD: 's3cret',
    });
    expect(e('temporal-schema').SQL_PASSWORD).toBe('s3cret');
    const schemaScript = asList(custom.services['temporal-schema']!.command).join('\n');
    expect(schemaScript).toContain(`--plugin postgres12 --ep postgres -p 5432 -u ${pg.POSTGRES_USER}`);

    for (const name of ['worker', 'api', 'temporal-setup', 'temporal-ui']) {
      expect({ name, address: e(name).TEMPORAL_ADDRESS }).toEqual({ name, address: 'temporal:7233' });
    }
    for (const name of ['worker', 'api', 'temporal-setup']) {
      expect({ name, namespace: e(name).TEMPORAL_NAMESPACE }).toEqual({ name, namespace: 'default' });
    }
    expect(e('temporal-ui').TEMPORAL_DEFAULT_NAMESPACE).toBe('default');
    expect(e('worker').TEMPORAL_TASK_QUEUE).toBe(e('api').TEMPORAL_TASK_QUEUE);

    // The worker credits points through the points-api service unless POINTS_API_URL says otherwise.
    expect(e('worker').POINTS_API_URL).toBe(`http://points-api:${e('points-api').POINTS_API_PORT}`);
    expect(serviceEnv(loadCompose({ POINTS_API_URL: 'https://points.example' }).services.worker!).POINTS_API_URL).toBe(
      'https://points.example',
    );
  });

  it('sets up both Temporal databases with the schema tool, as the official compose files do', () => {
    const script = asList(service('temporal-schema').command).join('\n');
    expect(asList(service('temporal-schema').entrypoint)).toEqual(['/bin/sh', '-c']);
    expect(script).toContain('for pair in temporal:temporal temporal_visibility:visibility; do');
    const steps = [...script.matchAll(/^\s*sql --db "\$db" (.+)$/gm)].map((m) => m[1]);
    expect(steps).toEqual([
      'create',
      'setup-schema -v 0.0',
      'update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"',
    ]);
  });

  it('has job scripts a POSIX shell accepts', () => {
    for (const name of ['temporal-schema', 'temporal-setup']) {
      const [shell, flag, script] = [...asList(service(name).entrypoint), ...asList(service(name).command)];
      expect([shell, flag]).toEqual(['/bin/sh', '-c']);
      // -n: parse only. Debian's sh (dash) knows POSIX and little more, like the shells of small images.
      const r = spawnSync('/bin/sh', ['-n', '-c', script!], { encoding: 'utf8' });
      expect({ name, status: r.status, stderr: r.stderr }).toEqual({ name, status: 0, stderr: '' });
    }
  });

  it('registers exactly the search attributes the workflows upsert, and waits until they are usable', () => {
    const script = asList(service('temporal-setup').command).join('\n');
    const created = Object.fromEntries([...script.matchAll(/--name (\w+) --type (\w+)/g)].map(([, n, t]) => [n, t]));
    expect(created).toEqual(SEARCH_ATTRIBUTES);
    const query = /--query '([^']+)'/.exec(script)?.[1] ?? '';
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(query).toContain(`${name} IS NULL`);
    expect(script).toMatch(/namespace create -n "\$ns"/);
  });

  it('keeps state on named volumes: the databases, and the points ledger in its DATA_DIR', () => {
    expect(service('postgres').volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
    expect(service('points-api').volumes).toEqual([`points-ledger:${env('points-api').DATA_DIR}`]);
    const used = Object.values(services).flatMap((s) =>
      (s.volumes ?? []).map(volumeMount).flatMap((m) => (m.bind ? [] : [m.source])),
    );
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual([...new Set(used)].sort());
  });

  it('lets the worker drain before Docker kills it', () => {
    const grace = parseDurationMs(env('worker').WORKER_SHUTDOWN_GRACE!);
    // Longer than the code's default (PT10S), for activities that call the points API.
    expect(grace).toBeGreaterThan(parseDurationMs(loadConfig({}).WORKER_SHUTDOWN_GRACE));
    // Some seconds beyond the drain to close the Temporal connection and the pool, as in deploy/k8s.
    expect(composeDurationMs(service('worker').stop_grace_period!)).toBeGreaterThanOrEqual(grace + 10_000);
  });

  it('gives the Temporal server a dynamic config file at the path it reads', () => {
    const temporal = service('temporal');
    const mount = temporal.configs?.[0];
    expect(mount?.target).toBe(serviceEnv(temporal).DYNAMIC_CONFIG_FILE_PATH);
    const content = compose.configs?.[mount!.source]?.content;
    const settings = parseYaml(content ?? '') as Record<string, { value: unknown }[]>;
    expect(settings['frontend.enableUpdateWorkflowExecution']).toEqual([{ value: true, constraints: {} }]);
    for (const [key, values] of Object.entries(settings)) {
      expect({ key, shape: Array.isArray(values) && values.every((v) => 'value' in v) }).toEqual({ key, shape: true });
    }
  });

  it('escapes the shell variables of the job scripts from compose interpolation', () => {
    // An unescaped `$ns` would be replaced by compose (with nothing) before the shell ever saw it.
    const raw = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    const unescaped = [...raw.matchAll(/(?<!\$)\$(?!\$)(\{?)([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[2]);
    expect([...new Set(unescaped)].sort()).toEqual([
      'GRAFANA_ADMIN_PASSWORD',
      'NOTIFY_URL',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'POINTS_API_URL',
      'POSTGRES_PASSWORD',
    ]);
    expect(interpolate('a $$ns ${X:-d} $${Y}', {})).toBe('a $ns d ${Y}');
  });
});

describe('docker-compose.yml, profile observability', () => {
  const PROFILE = 'observability';
  const withProfile = enabledServices(compose, [PROFILE]);
  const profiled = Object.keys(services).filter((name) => !(name in defaultStack));
  const mounts = (name: string) => (service(name).volumes ?? []).map(volumeMount);
  const mountAt = (name: string, target: string) => {
    const found = mounts(name).find((m) => m.target === target);
    if (!found) throw new Error(`${name} mounts nothing at ${target}`);
    return found;
  };
  const readYaml = <T>(file: string) => parseYaml(readFileSync(path.join(root, file), 'utf8')) as T;
  /** `127.0.0.1:HOST:CONTAINER` → its parts. */
  const portOf = (spec: string) => {
    const [ip, host, container, ...rest] = spec.split(':');
    expect(rest).toEqual([]);
    return { ip, host: Number(host), container: Number(container) };
  };
  const dashboard = JSON.parse(
    readFileSync(path.join(root, 'deploy', 'observability', 'grafana-dashboard.json'), 'utf8'),
  ) as { templating: { list: { name: string; type: string; query: unknown; current?: object }[] } };

  it('adds Prometheus and Grafana, and a plain `docker compose up` starts neither', () => {
    expect(profiled.sort()).toEqual(['grafana', 'prometheus']);
    for (const name of profiled)
      expect({ name, profiles: service(name).profiles }).toEqual({ name, profiles: [PROFILE] });
    expect(Object.keys(withProfile).sort()).toEqual([...Object.keys(defaultStack), ...profiled].sort());
    // A default service depending on a profiled one would drag it into (or break) the plain `up`.
    for (const [name, s] of Object.entries(defaultStack)) {
      for (const dep of Object.keys(dependsOn(s)))
        expect({ name, dep, default: dep in defaultStack }).toEqual({ name, dep, default: true });
    }
    for (const name of profiled) {
      for (const dep of Object.keys(dependsOn(service(name))))
        expect({ name, dep, enabled: dep in withProfile }).toEqual({ name, dep, enabled: true });
    }
  });

  it('runs the official Prometheus and Grafana images at pinned versions', () => {
    expect(service('prometheus').image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(service('grafana').image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
  });

  it('publishes Prometheus on 9090 and Grafana on 3001, on localhost only, colliding with no other port', () => {
    expect(service('prometheus').ports?.map(portOf)).toEqual([{ ip: '127.0.0.1', host: 9090, container: 9090 }]);
    expect(service('grafana').ports?.map(portOf)).toEqual([{ ip: '127.0.0.1', host: 3001, container: 3000 }]);
    const hostPorts = Object.values(withProfile).flatMap((s) => (s.ports ?? []).map((p) => portOf(p).host));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('mounts files and directories of this repository that exist, read-only', () => {
    const binds = profiled.flatMap((name) =>
      mounts(name)
        .filter((m) => m.bind)
        .map((m) => ({ name, ...m })),
    );
    expect(binds.length).toBeGreaterThanOrEqual(5);
    for (const m of binds) {
      expect(m.source.startsWith('./deploy/observability/')).toBe(true);
      expect({ ...m, exists: existsSync(path.join(root, m.source)) }).toEqual({ ...m, exists: true, mode: 'ro' });
    }
  });

  it('gives Prometheus the compose scrape config, and the alert rules where that config looks for them', () => {
    const args = asList(service('prometheus').command);
    const configPath = args.find((a) => a.startsWith('--config.file='))?.slice('--config.file='.length) ?? '';
    const configMount = mountAt('prometheus', configPath);
    expect(configMount.source).toBe('./deploy/observability/prometheus-compose.yml');
    const config = readYaml<{
      global: { scrape_interval: string };
      rule_files: string[];
      scrape_configs: { job_name: string; dns_sd_configs?: unknown; kubernetes_sd_configs?: unknown }[];
    }>(configMount.source);
    expect(config.rule_files).toEqual(['alert-rules.yml']);
    for (const rules of config.rule_files) {
      expect(mountAt('prometheus', path.posix.join(path.posix.dirname(configPath), rules)).source).toBe(
        `./deploy/observability/${rules}`,
      );
    }
    // Kubernetes discovery has no cluster to ask here: that is prometheus-kubernetes.yml's.
    for (const c of config.scrape_configs) expect(c.kubernetes_sd_configs).toBeUndefined();
    // Each job asks compose's DNS for a service of the stack, on the port that service listens on.
    expect(Object.fromEntries(config.scrape_configs.map((c) => [c.job_name, c.dns_sd_configs]))).toEqual({
      'activation-api': [{ names: ['api'], type: 'A', port: Number(env('api').PORT) }],
      'activation-worker': [{ names: ['worker'], type: 'A', port: Number(env('worker').WORKER_HTTP_PORT) }],
    });
    // The data survives `docker compose down` (not `down -v`).
    const storage = args.find((a) => a.startsWith('--storage.tsdb.path='))?.slice('--storage.tsdb.path='.length);
    expect(mounts('prometheus').find((m) => m.target === storage)).toMatchObject({ bind: false });
  });

  it('provisions Grafana with the Prometheus the dashboard selects and with the dashboard itself', () => {
    // Grafana's default provisioning directory (GF_PATHS_PROVISIONING unset).
    const provisioning = '/etc/grafana/provisioning';
    expect(env('grafana').GF_PATHS_PROVISIONING).toBeUndefined();
    const filesIn = (name: string, target: string) => {
      const source = mountAt(name, target).source;
      return readdirSync(path.join(root, source))
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => path.posix.join(source, f));
    };

    const datasources = filesIn('grafana', `${provisioning}/datasources`).flatMap(
      (f) =>
        readYaml<{
          datasources: { type: string; url: string; isDefault?: boolean; jsonData?: { timeInterval?: string } }[];
        }>(f).datasources,
    );
    // The dashboard's datasource variable has no saved choice: Grafana picks the default datasource of its type.
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    expect(variable?.current ?? {}).toEqual({});
    expect(datasources.filter((d) => d.type === variable?.query)).toEqual([
      expect.objectContaining({ isDefault: true }),
    ]);
    const prometheus = datasources.find((d) => d.type === 'prometheus')!;
    const url = new URL(prometheus.url);
    expect(url.hostname).toBe('prometheus');
    expect(Number(url.port)).toBe(portOf(service('prometheus').ports![0]!).container);
    const scrapeInterval = readYaml<{ global: { scrape_interval: string } }>(
      mountAt('prometheus', '/etc/prometheus/prometheus.yml').source,
    ).global.scrape_interval;
    expect(prometheus.jsonData?.timeInterval).toBe(scrapeInterval);

    const providers = filesIn('grafana', `${provisioning}/dashboards`).flatMap(
      (f) => readYaml<{ providers: { type: string; options: { path: string } }[] }>(f).providers,
    );
    const dashboardMount = mounts('grafana').find((m) => m.source === './deploy/observability/grafana-dashboard.json');
    expect(providers).toEqual([
      expect.objectContaining({ type: 'file', options: { path: path.posix.dirname(dashboardMount!.target) } }),
    ]);
    expect(env('grafana').GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(dashboardMount!.target);
  });

  it('lets anonymous visitors view, and takes the admin password from GRAFANA_ADMIN_PASSWORD', () => {
    expect(env('grafana')).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
      GF_SECURITY_ADMIN_PASSWORD: 'admin',
    });
    const custom = loadCompose({ GRAFANA_ADMIN_PASSWORD: 's3cret' });
    expect(serviceEnv(custom.services.grafana!).GF_SECURITY_ADMIN_PASSWORD).toBe('s3cret');
  });

  it('has healthchecks that ask each one on the port it listens on', () => {
    const probe = (name: string) => {
      const test = asList(service(name).healthcheck?.test);
      expect(test.slice(0, -1)).toEqual(['CMD', 'wget', '-q', '-O', '/dev/null']);
      return new URL(test.at(-1)!);
    };
    const prom = probe('prometheus');
    expect([prom.hostname, Number(prom.port), prom.pathname]).toEqual([
      '127.0.0.1',
      portOf(service('prometheus').ports![0]!).container,
      '/-/ready',
    ]);
    const grafana = probe('grafana');
    expect([grafana.hostname, Number(grafana.port), grafana.pathname]).toEqual([
      '127.0.0.1',
      portOf(service('grafana').ports![0]!).container,
      '/api/health',
    ]);
  });

  it('is documented: the command, and where Prometheus and Grafana answer', () => {
    const doc = readFileSync(path.join(root, 'docs', 'docker-compose.md'), 'utf8');
    expect(doc).toContain('docker compose --profile observability up --build');
    for (const name of profiled) {
      expect(doc).toContain(`http://localhost:${portOf(service(name).ports![0]!).host}`);
    }
    expect(doc).toContain('GRAFANA_ADMIN_PASSWORD');
  });
});

describe('Dockerfile', () => {
  const stages = loadDockerfile();
  const runtime = stages.at(-1)!;
  const named = (name: string) => stages.find((s) => s.name === name)!;
  const all = (stage: { instructions: { keyword: string; args: string }[] }, keyword: string) =>
    stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
  const runtimeEnv = Object.assign({}, ...all(runtime, 'ENV').map(envOf)) as Record<string, string>;
  const workdir = all(runtime, 'WORKDIR').at(-1)!;
  /** COPY [--from=stage] src... dest, as { from, sources, dests }: where each source lands, absolute. */
  const copies = (stage: (typeof stages)[number]) =>
    all(stage, 'COPY').map((args) => {
      const words = args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const sources = paths.slice(0, -1);
      const dir = path.posix.resolve(all(stage, 'WORKDIR').at(-1) ?? '/', paths.at(-1)!);
      // `COPY a b dir/` puts a and b into dir; `COPY a dest` makes dest.
      const intoDir = paths.at(-1)!.endsWith('/') || sources.length > 1;
      return {
        from,
        sources,
        dests: sources.map((s) => (intoDir ? path.posix.join(dir, path.posix.basename(s)) : dir)),
      };
    });

  it('is multi-stage: build, production dependencies, runtime; all from one pinned Node.js 20 image', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    const images = new Set(stages.map((s) => s.image));
    expect(images.size).toBe(1);
    const [image] = [...images];
    expect(image).toMatch(/^node:20\.\d+-bookworm-slim$/);
  });

  it('builds the code and the workflow bundle in the build stage, installing like scripts/ensure.sh', () => {
    const build = named('build');
    const runs = all(build, 'RUN');
    expect(runs[0]).toMatch(/^npm ci .*\|\| npm install --no-save /);
    expect(runs).toContain('npm run build:bundle');
    const scripts = (
      JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts['build:bundle']).toBe('npm run build && node scripts/build-bundle.mjs');
    expect(readFileSync(path.join(root, 'scripts', 'build-bundle.mjs'), 'utf8')).toContain("'workflow-bundle.js'");
  });

  it('ships production dependencies only', () => {
    const deps = named('deps');
    const install = all(deps, 'RUN').join(' ');
    const installs = [...install.matchAll(/npm (ci|install)\b[^|&)]*/g)].map((m) => m[0]);
    expect(installs.length).toBeGreaterThan(0);
    for (const cmd of installs) expect(cmd).toContain('--omit=dev');
    // node_modules reaches the runtime from the deps stage only, and the runtime installs nothing itself.
    const nodeModules = copies(runtime).filter((c) => c.sources.some((s) => s.includes('node_modules')));
    expect(nodeModules.map((c) => c.from)).toEqual(['deps']);
    expect(all(runtime, 'RUN').join(' ')).not.toMatch(/npm (ci|install)/);
    expect(runtimeEnv.NODE_ENV).toBe('production');
  });

  it('runs as an unprivileged user', () => {
    const users = all(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const lastUser = runtime.instructions.findIndex((i) => i.keyword === 'USER');
    const cmd = runtime.instructions.findIndex((i) => i.keyword === 'CMD');
    expect(lastUser).toBeLessThan(cmd);
  });

  it('ships the prebuilt workflow bundle and points WORKFLOW_BUNDLE at it', () => {
    const bundle = copies(runtime).find((c) => c.sources.includes('/app/dist/workflow-bundle.js'));
    expect(bundle?.from).toBe('build');
    expect(bundle?.dests).toEqual([runtimeEnv.WORKFLOW_BUNDLE]);
  });

  it('ships the compiled code, the migrations and package.json (the migrations are found next to it)', () => {
    const dests = copies(runtime).flatMap((c) => c.dests);
    for (const p of ['dist/src', 'migrations', 'package.json']) expect(dests).toContain(path.posix.join(workdir, p));
  });

  it('starts the worker by default, in exec form; every entry point compose runs is documented in its header', () => {
    const cmd = execForm(all(runtime, 'CMD').at(-1)!);
    expect(cmd).toEqual(['node', 'dist/src/workers/main.js']);
    expect(all(runtime, 'ENTRYPOINT')).toEqual([]);
    expect(existsSync(path.join(root, sourceOfBuiltFile(cmd![1]!)))).toBe(true);
    const header = readFileSync(path.join(root, 'Dockerfile'), 'utf8').split('\nFROM ')[0]!;
    for (const name of APP_SERVICES) expect(header).toContain(asList(service(name).command).join(' '));
  });

  it('has a healthcheck that probes the worker by default', () => {
    const healthcheck = all(runtime, 'HEALTHCHECK').at(-1)!;
    const cmd = execForm(healthcheck.slice(healthcheck.indexOf('CMD ') + 4));
    expect(cmd?.slice(0, 2)).toEqual(['node', '-e']);
    expect(cmd?.[2]).toContain('process.env.HEALTHCHECK_URL');
    const url = new URL(runtimeEnv.HEALTHCHECK_URL!);
    expect([url.port, url.pathname]).toEqual([String(loadConfig({}).WORKER_HTTP_PORT), '/healthz']);
  });

  it('copies only what exists and is not kept out of the build context by .dockerignore', () => {
    for (const stage of stages) {
      for (const { from, sources } of copies(stage)) {
        if (from) continue;
        for (const src of sources) {
          expect({ src, exists: existsSync(path.join(root, src)) }).toEqual({ src, exists: true });
          expect({ src, ignored: isIgnored(src) }).toEqual({ src, ignored: false });
        }
      }
    }
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, build output, local state, tools and test data out of the build context', () => {
    for (const p of ['node_modules', 'dist', '.git', '.tools', '.data', '.test-data', 'coverage', 'test', 'bench']) {
      expect({ p, ignored: isIgnored(p) }).toEqual({ p, ignored: true });
    }
    expect(isIgnored('node_modules/pg/package.json')).toBe(true);
    expect(isIgnored('test/fixtures/histories')).toBe(true);
    for (const p of ['src/workers/main.ts', 'migrations', 'package-lock.json']) expect(isIgnored(p)).toBe(false);
    // Every migration reaches the image.
    for (const f of readdirSync(path.join(root, 'migrations'))) expect(isIgnored(`migrations/${f}`)).toBe(false);
  });
});
