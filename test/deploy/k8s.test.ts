/**
 * The Kubernetes manifests under deploy/k8s: valid against the Kubernetes schemas (kubernetes-models), free of
 * fields their kinds do not define, and carrying the operational properties the deployment relies on (probes on
 * the declared ports, a grace period above the worker's drain, memory that follows the workflow cache, selectors
 * that match, settings that src/config.ts accepts, migrations in each pod's init container that queue rather than
 * fail when pods start together, and a documented first deploy in an order that works).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IMetricSpec } from 'kubernetes-models/autoscaling/v2/MetricSpec';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { Client } from 'pg';
import { loadConfig } from '../../src/config';
import { migrate, MIGRATION_LOCK_KEY, MIGRATIONS_DIR } from '../../src/db/migrate';
import { parseDurationMs } from '../../src/domain/terms';
import { createTestDatabase } from '../support/db';
import { eventually } from '../support/stack';

const root = path.resolve(__dirname, '../..');
const dir = path.join(root, 'deploy/k8s');
const IMAGE = 'cold-member-activation';
const MIGRATE_COMMAND = ['node', 'dist/src/db/migrate-cli.js'];
/** Templates an operator fills in from the secret manager; never applied by the kustomization. */
const isTemplate = (file: string) => file.endsWith('.example.yaml');

/** Standard variables that Node.js or OpenTelemetry read themselves; src/config.ts does not know them. */
const RUNTIME_VARS = new Set([
  'NODE_OPTIONS',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
]);

/** The operator CLI's own setting (src/cli/args.ts), which the nightly verifier (a CronJob) is given. */
const CLI_VARS = new Set(['API_URL']);

/** What each production entry point refuses to start without (src/workers/main.ts, src/api/main.ts, migrate-cli). */
const ENTRY_POINTS: Record<string, { source: string; requires: string[] }> = {
  'dist/src/workers/main.js': {
    source: 'src/workers/main.ts',
    requires: ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'POINTS_API_URL'],
  },
  'dist/src/api/main.js': { source: 'src/api/main.ts', requires: ['TEMPORAL_ADDRESS', 'DATABASE_URL'] },
  'dist/src/db/migrate-cli.js': { source: 'src/db/migrate-cli.ts', requires: ['DATABASE_URL'] },
  'dist/src/cli/main.js': { source: 'src/cli/main.ts', requires: ['API_URL'] },
};

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}
interface Loaded {
  file: string;
  object: KubeObject;
}

const yamlFiles = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort();
const manifestFiles = yamlFiles.filter((f) => f !== 'kustomization.yaml');

const loaded: Loaded[] = manifestFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const object = doc.toJS() as KubeObject | null;
    return object === null ? [] : [{ file, object }];
  }),
);
const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
  namespace: string;
  resources: string[];
  images: { name: string; newName?: string; newTag?: string; digest?: string }[];
};

const ofKind = <T>(kind: string): T[] => loaded.filter((l) => l.object.kind === kind).map((l) => l.object as T);
const named = <T extends { metadata?: { name?: string } }>(items: T[], name: string, what: string): T => {
  const found = items.find((i) => i.metadata?.name === name);
  if (!found) throw new Error(`no ${what} named ${name} in deploy/k8s`);
  return found;
};

const deployments = ofKind<IDeployment>('Deployment');
const jobs = ofKind<IJob>('Job');
const configMaps = ofKind<IConfigMap>('ConfigMap');
const secrets = ofKind<ISecret>('Secret');
const services = ofKind<IService>('Service');
const hpas = ofKind<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
const pdbs = ofKind<IPodDisruptionBudget>('PodDisruptionBudget');

const template = (d: IDeployment | IJob): IPodTemplateSpec => {
  if (!d.spec?.template) throw new Error(`${d.metadata?.name} has no pod template`);
  return d.spec.template;
};
const podSpec = (d: IDeployment | IJob): IPodSpec => {
  const spec = template(d).spec;
  if (!spec) throw new Error(`${d.metadata?.name} has no pod spec`);
  return spec;
};
const cronJobs = ofKind<ICronJob>('CronJob');
/** A CronJob's Job, as the workloads' checks see it. */
const jobOf = (c: ICronJob): IJob => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: c.metadata ?? {},
  ...(c.spec?.jobTemplate.spec ? { spec: c.spec.jobTemplate.spec } : {}),
});
const workloads = [...deployments, ...jobs, ...cronJobs.map(jobOf)];
const containersOf = (d: IDeployment | IJob): IContainer[] => [
  ...(podSpec(d).initContainers ?? []),
  ...podSpec(d).containers,
];
const byComponent = (component: string): IDeployment => {
  const found = deployments.filter((d) => template(d).metadata?.labels?.['app.kubernetes.io/component'] === component);
  expect(found).toHaveLength(1);
  return found[0];
};
const worker = () => byComponent('worker');
const api = () => byComponent('api');
const onlyContainer = (d: IDeployment | IJob): IContainer => {
  expect(podSpec(d).containers).toHaveLength(1);
  return podSpec(d).containers[0];
};

/** The environment a container starts with, resolved through its ConfigMap and Secret references. */
function containerEnv(c: IContainer): Map<string, string> {
  const env = new Map<string, string>();
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = named(configMaps, from.configMapRef.name ?? '', 'ConfigMap');
      for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, v);
    }
    if (from.secretRef) {
      const secret = named(secrets, from.secretRef.name ?? '', 'Secret');
      for (const [k, v] of Object.entries(secret.stringData ?? {})) env.set(k, v);
    }
  }
  // As in Kubernetes, `env` wins over `envFrom`.
  for (const e of c.env ?? []) {
    const ref = e.valueFrom;
    if (ref?.secretKeyRef) {
      const value = named(secrets, ref.secretKeyRef.name ?? '', 'Secret').stringData?.[ref.secretKeyRef.key];
      if (value === undefined) {
        throw new Error(`${e.name}: Secret ${ref.secretKeyRef.name} has no key ${ref.secretKeyRef.key}`);
      }
      env.set(e.name, value);
    } else if (ref?.configMapKeyRef) {
      const value = named(configMaps, ref.configMapKeyRef.name ?? '', 'ConfigMap').data?.[ref.configMapKeyRef.key];
      if (value === undefined) {
        throw new Error(`${e.name}: ConfigMap ${ref.configMapKeyRef.name} has no key ${ref.configMapKeyRef.key}`);
      }
      env.set(e.name, value);
    } else {
      expect(ref).toBeUndefined();
      env.set(e.name, e.value ?? '');
    }
  }
  return env;
}

/** The container port a probe or annotation refers to, by name or number. */
function resolvePort(c: IContainer, port: number | string | undefined): number {
  const match = (c.ports ?? []).find((p) => (typeof port === 'string' ? p.name === port : p.containerPort === port));
  if (!match) throw new Error(`container ${c.name} declares no port ${String(port)}`);
  return match.containerPort;
}
const probePort = (c: IContainer, probe: IProbe | undefined, kind: string): { port: number; path?: string } => {
  if (!probe?.httpGet) throw new Error(`container ${c.name} has no HTTP ${kind} probe`);
  return { port: resolvePort(c, probe.httpGet.port), path: probe.httpGet.path };
};

/** A Kubernetes quantity in base units: bytes for memory, cores for CPU. */
function quantity(q: string | number | undefined): number {
  if (q === undefined) throw new Error('quantity missing');
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?$/.exec(String(q));
  if (!m) throw new Error(`unsupported quantity ${String(q)}`);
  const factor = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ''] ?? NaN;
  return Number(m[1]) * factor;
}
const MiB = 2 ** 20;

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The HPA metrics kept commented out in worker-hpa.yaml (they need a metrics adapter), uncommented. */
function optionalMetrics(): unknown {
  const text = readFileSync(path.join(dir, 'worker-hpa.yaml'), 'utf8');
  const block = /# BEGIN optional-metrics\n([\s\S]*?)\n\s*# END optional-metrics/.exec(text);
  if (!block) throw new Error('worker-hpa.yaml has no optional-metrics block');
  return parse(block[1].replace(/^\s*# ?/gm, ''));
}

/** Runs test/deploy/validate-k8s.mjs: the kubernetes-models validators, one result per object. */
function validateWithModels(objects: unknown[]): { ok?: true; error?: string }[] {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'validate-k8s.mjs')], {
    cwd: root,
    input: JSON.stringify(objects),
    encoding: 'utf8',
  });
  return JSON.parse(out) as { ok?: true; error?: string }[];
}

/**
 * Kubernetes' OpenAPI schemas allow unknown fields, so a misspelt `livenesProbe` passes the validators and the
 * API server would silently drop it. The models' TypeScript interfaces do not: type-check each object as a
 * literal of its kind's interface and let excess-property checking name every stray field.
 */
function unknownFieldErrors(objects: Loaded[]): string[] {
  const file = path.join(__dirname, '__k8s_fields__.ts');
  const imports = objects.map(({ object }, i) => {
    const [group, version] = object.apiVersion.includes('/')
      ? object.apiVersion.split('/')
      : [undefined, object.apiVersion];
    return `import type { I${object.kind} as T${i} } from 'kubernetes-models/${group ? `${group}/` : ''}${version}/${object.kind}';`;
  });
  const lines = [...imports];
  // The first line of each object's literal, to name the object a diagnostic is about.
  const owners: { line: number; label: string }[] = [];
  objects.forEach(({ file: f, object }, i) => {
    owners.push({ line: lines.length, label: `${f} ${object.kind} ${object.metadata.name}` });
    lines.push(...`export const o${i}: T${i} = ${JSON.stringify(object, null, 1)};`.split('\n'));
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    // kubernetes-models resolves through its package "exports" (import condition).
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists } = host;
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file)!;
  return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)].map((d) => {
    const line = d.start === undefined ? 0 : sourceFile.getLineAndCharacterOfPosition(d.start).line;
    const owner = [...owners].reverse().find((o) => o.line <= line);
    return `${owner?.label ?? '(imports)'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('kustomization.yaml applies every manifest file, except the Secret template', () => {
    expect([...kustomization.resources].sort()).toEqual(manifestFiles.filter((f) => !isTemplate(f)));
    expect(manifestFiles.filter(isTemplate)).toEqual(['secret.example.yaml']);
    // The Secret is the only object left out, so applying the kustomization never overwrites real credentials.
    const applied = loaded.filter((l) => !isTemplate(l.file)).map((l) => l.object.kind);
    expect(applied).not.toContain('Secret');
    const namespaces = ofKind<KubeObject>('Namespace');
    expect(namespaces.map((n) => n.metadata.name)).toEqual([kustomization.namespace]);
  });

  it('every object is valid against the Kubernetes schema of its kind, and unknown kinds fail', () => {
    const results = validateWithModels(loaded.map((l) => l.object));
    const failures = results.flatMap((r, i) =>
      r.ok ? [] : [`${loaded[i].file} ${loaded[i].object.kind} ${loaded[i].object.metadata?.name}: ${r.error}`],
    );
    expect(failures).toEqual([]);
    expect(results).toHaveLength(loaded.length);
    // The validator is not a rubber stamp.
    expect(
      validateWithModels([
        { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 'eighty' }] } },
      ]).map((r) => r.error),
    ).toEqual([expect.stringContaining('unknown kind'), expect.stringContaining('port must be integer')]);
  });

  it('no object carries a field its kind does not define', () => {
    expect(unknownFieldErrors(loaded)).toEqual([]);
    const typo = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selectr: {} } } as KubeObject;
    expect(unknownFieldErrors([{ file: 'typo', object: typo }])).toEqual([
      expect.stringMatching(/^typo Service s: .*"selectr".* does not exist in type 'IServiceSpec'/),
    ]);
  });

  it('the commented-out HPA metrics for Temporal latency are a valid metrics spec', () => {
    const hpa = structuredClone(named(hpas, 'activation-worker', 'HorizontalPodAutoscaler'));
    const extra = optionalMetrics();
    if (!Array.isArray(extra) || extra.length === 0) throw new Error('the optional-metrics block is not a list');
    hpa.spec!.metrics = [...(hpa.spec!.metrics ?? []), ...(extra as IMetricSpec[])];
    expect(validateWithModels([hpa])).toEqual([{ ok: true }]);
    expect(unknownFieldErrors([{ file: 'worker-hpa.yaml (optional metrics)', object: hpa as KubeObject }])).toEqual([]);
  });

  it('every container runs the one image whose tag kustomization.yaml sets', () => {
    expect(kustomization.images).toEqual([expect.objectContaining({ name: IMAGE })]);
    expect(kustomization.images[0].newTag ?? kustomization.images[0].digest).toBeTruthy();
    for (const w of workloads) {
      for (const c of containersOf(w)) expect(`${w.metadata?.name}: ${c.image}`).toBe(`${w.metadata?.name}: ${IMAGE}`);
    }
  });

  it('every container runs a production entry point with the settings it requires', () => {
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        expect(c.command?.[0]).toBe('node');
        const entry = ENTRY_POINTS[c.command?.[1] ?? ''];
        if (!entry) throw new Error(`${w.metadata?.name}: ${c.command?.join(' ')} is not a production entry point`);
        expect(existsSync(path.join(root, entry.source))).toBe(true);
        const env = containerEnv(c);
        for (const name of entry.requires) {
          expect(`${w.metadata?.name} ${name}=${env.get(name) ?? ''}`).not.toMatch(/=$/);
        }
      }
    }
  });

  it('every variable a container receives is a setting of src/config.ts with a valid value, or a standard one', () => {
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        const env = containerEnv(c);
        // loadConfig throws on a bad value and drops a name it does not know: every name must come back out
        // with the value it went in with, or be a standard runtime variable.
        const config = loadConfig(Object.fromEntries(env)) as unknown as Record<string, unknown>;
        for (const [name, value] of env) {
          const seen =
            name in config
              ? `${name}=${String(config[name])}`
              : RUNTIME_VARS.has(name) || CLI_VARS.has(name)
                ? `${name}=${value}`
                : `${name} is unknown`;
          expect(`${w.metadata?.name}: ${seen}`).toBe(`${w.metadata?.name}: ${name}=${value}`);
        }
      }
    }
    // The ConfigMap holds nothing secret: the database credentials come only from the Secret.
    for (const cm of configMaps) expect(Object.keys(cm.data ?? {})).not.toContain('DATABASE_URL');
  });

  it('every container sets CPU and memory requests and limits', () => {
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        for (const kind of ['requests', 'limits'] as const) {
          for (const resource of ['cpu', 'memory']) {
            expect(`${w.metadata?.name}/${c.name} ${kind}.${resource}: ${c.resources?.[kind]?.[resource]}`).toMatch(
              /: \d/,
            );
          }
          expect(quantity(c.resources?.requests?.memory)).toBeLessThanOrEqual(quantity(c.resources?.limits?.memory));
          expect(quantity(c.resources?.requests?.cpu)).toBeLessThanOrEqual(quantity(c.resources?.limits?.cpu));
        }
      }
    }
  });

  it("the worker's memory follows its workflow cache", () => {
    const c = onlyContainer(worker());
    const env = containerEnv(c);
    const cached = Number(env.get('WORKER_MAX_CACHED_WORKFLOWS') ?? loadConfig({}).WORKER_MAX_CACHED_WORKFLOWS);
    const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(env.get('NODE_OPTIONS') ?? '')?.[1]);
    // The SDK's own default cache size: 600 workflows per GiB of heap above 200 MiB (reuseV8Context).
    expect(heapMiB).toBeGreaterThanOrEqual(200 + (cached * 1024) / 600);
    // Temporal Core, gRPC buffers and code live outside the V8 heap.
    expect(quantity(c.resources?.limits?.memory) / MiB).toBeGreaterThanOrEqual(heapMiB + 512);
    expect(c.resources?.requests?.memory).toBe(c.resources?.limits?.memory);
    expect(Number(env.get('WORKER_MAX_CONCURRENT_WORKFLOW_TASKS'))).toBeLessThanOrEqual(cached);
  });

  it('probes and metrics annotations point at the ports the processes listen on', () => {
    const cases = [
      { d: worker(), portVar: 'WORKER_HTTP_PORT' },
      { d: api(), portVar: 'PORT' },
    ];
    for (const { d, portVar } of cases) {
      const c = onlyContainer(d);
      const listens = Number(
        containerEnv(c).get(portVar) ?? (loadConfig({}) as unknown as Record<string, number>)[portVar],
      );
      expect(listens).toBeGreaterThan(0);
      expect(probePort(c, c.livenessProbe, 'liveness')).toEqual({ port: listens, path: '/healthz' });
      expect(probePort(c, c.readinessProbe, 'readiness')).toEqual({ port: listens, path: '/readyz' });
      if (c.startupProbe) expect(probePort(c, c.startupProbe, 'startup')).toEqual({ port: listens, path: '/healthz' });
      const annotations = template(d).metadata?.annotations ?? {};
      expect(annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(listens),
        'prometheus.io/path': '/metrics',
      });
    }
  });

  it('the Kubernetes Prometheus config discovers these pods, in this namespace, as the jobs the alerts expect', () => {
    const config = parse(readFileSync(path.join(root, 'deploy/observability/prometheus-kubernetes.yml'), 'utf8')) as {
      scrape_configs: {
        kubernetes_sd_configs?: { role: string; namespaces?: { names: string[] } }[];
        relabel_configs?: { source_labels?: string[]; regex?: string; action?: string; target_label?: string }[];
      }[];
    };
    const [job] = config.scrape_configs;
    expect(config.scrape_configs).toHaveLength(1);
    expect(job!.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: [kustomization.namespace] } }]);
    const keep = (label: string) =>
      job!.relabel_configs?.find((r) => r.action === 'keep' && r.source_labels?.[0] === label)?.regex;
    const metaLabel = (k: string) => `__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9]/g, '_')}`;
    const metaAnnotation = (k: string) => `__meta_kubernetes_pod_annotation_${k.replace(/[^a-zA-Z0-9]/g, '_')}`;
    const toJob = job!.relabel_configs?.find((r) => r.target_label === 'job');
    for (const d of deployments) {
      const meta = template(d).metadata!;
      expect(
        new RegExp(`^(?:${keep(metaLabel('app.kubernetes.io/name'))})$`).test(meta.labels!['app.kubernetes.io/name']!),
      ).toBe(true);
      expect(
        new RegExp(`^(?:${keep(metaAnnotation('prometheus.io/scrape'))})$`).test(
          meta.annotations!['prometheus.io/scrape']!,
        ),
      ).toBe(true);
      expect(toJob?.source_labels).toEqual([metaLabel('app.kubernetes.io/component')]);
    }
  });

  it("the worker pod's grace period outlasts WORKER_SHUTDOWN_GRACE", () => {
    const cm = named(configMaps, 'activation-config', 'ConfigMap');
    // Set explicitly: the code's default (PT10S) is too short for activities that call the points API.
    const grace = cm.data?.WORKER_SHUTDOWN_GRACE;
    if (!grace) throw new Error('configmap.yaml must set WORKER_SHUTDOWN_GRACE');
    expect(containerEnv(onlyContainer(worker())).get('WORKER_SHUTDOWN_GRACE')).toBe(grace);
    const podGraceMs = (podSpec(worker()).terminationGracePeriodSeconds ?? 30) * 1000;
    // Some seconds beyond the drain to close the Temporal connection and the pool before any SIGKILL.
    expect(podGraceMs).toBeGreaterThanOrEqual(parseDurationMs(grace) + 10_000);
  });

  it('the API keeps serving until its endpoints are gone, then has time to finish requests', () => {
    const spec = podSpec(api());
    const sleep = onlyContainer(api()).lifecycle?.preStop?.sleep?.seconds;
    expect(sleep).toBeGreaterThanOrEqual(5);
    expect(spec.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual((sleep ?? 0) + 20);
    // Workers serve no traffic: no endpoints to wait for, and a sleep would only delay the drain.
    expect(onlyContainer(worker()).lifecycle?.preStop).toBeUndefined();
  });

  it('each autoscaler scales a Deployment of these manifests, the worker among them', () => {
    const targets = hpas.map((h) => {
      const ref = h.spec!.scaleTargetRef;
      expect(ref).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
      const d = named(deployments, ref.name, 'Deployment');
      // A replica count in the manifest would reset the autoscaler's choice on every apply.
      expect(d.spec?.replicas).toBeUndefined();
      expect(h.spec!.minReplicas).toBeGreaterThanOrEqual(2);
      // Utilization is measured against requests: every container needs a CPU request.
      expect(h.spec!.metrics).toContainEqual(
        expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) }),
      );
      for (const c of containersOf(d)) expect(c.resources?.requests?.cpu).toBeDefined();
      return d;
    });
    expect(targets).toContain(worker());
    expect(new Set(targets).size).toBe(targets.length);
  });

  it("each disruption budget selects exactly one Deployment's pods, and every Deployment has one", () => {
    const covered = pdbs.map((p) => {
      const matching = deployments.filter((d) => selects(p.spec?.selector?.matchLabels, template(d).metadata?.labels));
      expect(`${p.metadata?.name}: ${matching.map((d) => d.metadata?.name).join(',')}`).toBe(
        `${p.metadata?.name}: ${p.metadata?.name}`,
      );
      expect(p.spec?.selector?.matchExpressions).toBeUndefined();
      return matching[0];
    });
    expect(covered.map((d) => d.metadata?.name).sort()).toEqual(deployments.map((d) => d.metadata?.name).sort());
    // One pod at a time: with minReplicas 2 a drain never takes the last poller or API pod.
    for (const p of pdbs) expect(p.spec?.maxUnavailable ?? 0).toBe(1);
  });

  it('each Deployment selects its own pods and spreads them across zones and nodes', () => {
    for (const d of deployments) {
      const labels = template(d).metadata?.labels;
      expect(selects(d.spec?.selector.matchLabels, labels)).toBe(true);
      for (const other of deployments.filter((o) => o !== d)) {
        expect(selects(d.spec?.selector.matchLabels, template(other).metadata?.labels)).toBe(false);
      }
      const spread = podSpec(d).topologySpreadConstraints ?? [];
      expect(spread.map((s) => s.topologyKey).sort()).toEqual([
        'kubernetes.io/hostname',
        'topology.kubernetes.io/zone',
      ]);
      for (const s of spread) expect(selects(s.labelSelector?.matchLabels, labels)).toBe(true);
    }
  });

  it('the API Service selects the API pods only and targets the port the API listens on', () => {
    const svc = named(services, 'activation-api', 'Service');
    const matching = [...deployments, ...jobs].filter((d) => selects(svc.spec?.selector, template(d).metadata?.labels));
    expect(matching).toEqual([api()]);
    const c = onlyContainer(api());
    for (const p of svc.spec?.ports ?? []) {
      expect(resolvePort(c, p.targetPort)).toBe(Number(containerEnv(c).get('PORT')));
    }
  });

  it('every pod meets the restricted Pod Security Standard the namespace enforces', () => {
    const ns = ofKind<KubeObject>('Namespace')[0];
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const w of workloads) {
      const spec = podSpec(w);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const c of containersOf(w)) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.securityContext?.privileged).toBeUndefined();
      }
    }
  });

  it('every Deployment migrates in an init container before its app starts, and nothing else migrates', () => {
    // A Job applied together with the Deployments would race the new pods; none is left to do so.
    expect(jobs).toEqual([]);
    for (const d of deployments) {
      const spec = podSpec(d);
      const app = onlyContainer(d);
      const name = d.metadata?.name;
      expect({ name, init: (spec.initContainers ?? []).map((c) => c.command) }).toEqual({
        name,
        init: [MIGRATE_COMMAND],
      });
      expect(app.command).not.toEqual(MIGRATE_COMMAND);
      const init = spec.initContainers![0]!;
      // The same database, and the same ConfigMap: whichever pod creates the default campaign, its terms are the same.
      expect({ name, database: init.env?.find((e) => e.name === 'DATABASE_URL') }).toEqual({
        name,
        database: app.env?.find((e) => e.name === 'DATABASE_URL'),
      });
      expect({ name, envFrom: init.envFrom }).toEqual({ name, envFrom: app.envFrom });
      const env = containerEnv(init);
      for (const key of ['CAMPAIGN_ID', 'CAMPAIGN_TARGET_CENTS', 'CAMPAIGN_REWARD_POINTS', 'CAMPAIGN_WINDOW']) {
        expect(`${name} ${key}=${env.get(key) ?? ''}`).not.toMatch(/=$/);
      }
      const volumes = (spec.volumes ?? []).map((v) => v.name);
      for (const m of init.volumeMounts ?? []) expect(volumes).toContain(m.name);
    }
  });

  it('migrations started by several pods at once queue on the lock: all succeed, the first applies them', async () => {
    const db = await createTestDatabase('k8s_migrate');
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      // Held as a pod mid-migration would hold it: the three runs must wait, not fail.
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const logs: string[][] = [[], [], []];
      const runs = logs.map((log) => migrate(db.url, (m) => log.push(m)));
      const settled = Promise.allSettled(runs);
      // None may end while the lock is held (node-pg-migrate on its own fails at once: "Another migration is
      // already running").
      let ended: string | undefined;
      for (const run of runs) {
        run.then(
          () => (ended ??= 'a run finished while the lock was held'),
          (err: unknown) => (ended ??= String(err)),
        );
      }
      await eventually(
        async () =>
          ended !== undefined ||
          (
            await holder.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
            )
          ).rows[0]!.n === 3,
        30_000,
        'three migration runs waiting for the lock',
      );
      expect(ended).toBeUndefined();
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      const results = await settled;
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      const applied = results.map((r) => (r.status === 'fulfilled' ? r.value : []));
      const files = readdirSync(MIGRATIONS_DIR)
        .filter((f) => /\.(sql|js|ts)$/.test(f))
        .map((f) => f.replace(/\.(sql|js|ts)$/, ''))
        .sort();
      expect(files.length).toBeGreaterThan(0);
      expect(applied.filter((a) => a.length > 0)).toEqual([files]);
      expect(applied.filter((a) => a.length === 0)).toHaveLength(2);
      for (const log of logs) expect(log).toContain('another migration run holds the lock: waiting for it');
      const { rows } = await holder.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(files);
    } finally {
      await holder.end();
      await db.drop();
    }
  });

  it.each([
    ['activation-verify', 'the nightly verifier proves', ['verify', '$(CAMPAIGN_ID)']],
    [
      'activation-reconcile',
      'the nightly reconciliation accounts for every accepted piece of news in',
      ['reconcile', '$(CAMPAIGN_ID)', '--repair'],
    ],
  ] as const)(
    '%s: %s the configured campaign through the API Service, and a finding fails its Job',
    (name, _what, args) => {
      expect(cronJobs.map((c) => c.metadata?.name).sort()).toEqual(['activation-reconcile', 'activation-verify']);
      const cron = cronJobs.find((c) => c.metadata?.name === name)!;
      const job = jobOf(cron);
      const c = onlyContainer(job);
      expect(c.command).toEqual(['node', 'dist/src/cli/main.js', ...args]);
      expect(c.env?.find((e) => e.name === 'CAMPAIGN_ID')?.valueFrom?.configMapKeyRef).toEqual({
        name: configMaps[0].metadata?.name,
        key: 'CAMPAIGN_ID',
      });
      // The Service's name and port: http://activation-api is port 80, which the Service maps to the API.
      const api = services.find((s) => s.metadata?.name === new URL(containerEnv(c).get('API_URL')!).hostname);
      expect(api?.spec?.ports?.[0]?.port).toBe(80);
      expect(cron.spec?.concurrencyPolicy).toBe('Forbid');
      expect(podSpec(job).restartPolicy).toBe('Never');
      // Exit 1 is a finding (src/cli/args.ts EXIT_CODES): no retry hides it.
      expect(job.spec?.podFailurePolicy?.rules).toContainEqual(
        expect.objectContaining({
          action: 'FailJob',
          onExitCodes: expect.objectContaining({ values: expect.arrayContaining([1]) }),
        }),
      );
    },
  );

  it('the documented first deploy creates the namespace, then the Secret, then applies; every namespaced command says -n', () => {
    const ns = kustomization.namespace;
    // namespace.yaml alone creates the namespace the Secret goes into.
    const nsFile = loaded.filter((l) => l.file === 'namespace.yaml').map((l) => l.object);
    expect(nsFile.map((o) => [o.kind, o.metadata.name])).toEqual([['Namespace', ns]]);

    const doc = readFileSync(path.join(root, 'docs/kubernetes.md'), 'utf8');
    const deploying = /## Deploying\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    const lines = deploying.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const steps = [
      at(/^kubectl apply -f deploy\/k8s\/namespace\.yaml\b/),
      at(new RegExp(`^kubectl -n ${ns} create secret generic activation-secrets\\b`)),
      at(/^kubectl apply -k deploy\/k8s\b/),
    ];
    expect(steps.every((i) => i >= 0)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(lines.some((l) => /activeDeadlineSeconds|job\/activation-migrate/.test(l))).toBe(false);

    // kubectl commands in the guide and in the manifests' comments, apart from `apply` (kustomize or cluster-scoped), name the namespace.
    const sources = [
      { where: 'docs/kubernetes.md', text: doc },
      ...yamlFiles.map((f) => ({ where: f, text: readFileSync(path.join(dir, f), 'utf8') })),
    ];
    const commands = sources.flatMap(({ where, text }) =>
      [...text.matchAll(/(?:^[#\s]*|`)(kubectl (?!apply\b)[^`\n]*)/gm)].map((m) => `${where}: ${m[1]}`),
    );
    expect(commands.length).toBeGreaterThan(5);
    for (const c of commands) expect(c).toMatch(new RegExp(`: kubectl -n ${ns} `));
  });
});
