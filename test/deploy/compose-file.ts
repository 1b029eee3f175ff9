/**
 * Reading docker-compose.yml, the Dockerfile and .dockerignore the way Docker does, closely enough to test them
 * without a Docker engine: compose's `${VAR:-default}` interpolation and YAML merge keys, and the Dockerfile's
 * instructions per stage.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export const root = path.resolve(__dirname, '..', '..');

export interface Healthcheck {
  test?: string[] | string;
  disable?: boolean;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}

export interface Service {
  image?: string;
  /** Started only when one of these profiles is (`--profile`, COMPOSE_PROFILES); none: always. */
  profiles?: string[];
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition?: string }> | string[];
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  configs?: { source: string; target: string }[];
  healthcheck?: Healthcheck;
  restart?: string;
  stop_grace_period?: string;
  init?: boolean;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
}

/**
 * Compose's interpolation: `$$` is a literal `$`; `${VAR}`, `$VAR`, `${VAR:-default}` (unset or empty) and
 * `${VAR-default}` (unset) take the value from `env`.
 */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced?: string, op?: string, fallback?: string, bare?: string) => {
      if (match === '$$') return '$';
      const value = env[(braced ?? bare)!];
      if (op === ':-') return value ? value : (fallback ?? '');
      if (op === '-') return value ?? fallback ?? '';
      return value ?? '';
    },
  );
}

const interpolateAll = (value: unknown, env: Record<string, string | undefined>): unknown => {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env)]));
  }
  return value;
};

/** docker-compose.yml as Compose sees it, with the variables of `env` (none by default: every default applies). */
export function loadCompose(env: Record<string, string | undefined> = {}): ComposeFile {
  const raw = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as unknown;
  return interpolateAll(raw, env) as ComposeFile;
}

/** The services `docker compose up` starts with these profiles enabled (none: the plain `docker compose up`). */
export function enabledServices(compose: ComposeFile, profiles: string[] = []): Record<string, Service> {
  return Object.fromEntries(
    Object.entries(compose.services).filter(
      ([, s]) => !s.profiles?.length || s.profiles.some((p) => profiles.includes(p)),
    ),
  );
}

/** A service's `volumes` entry `source:target[:mode]`; a source starting with `.` or `/` is a bind mount. */
export function volumeMount(spec: string): { source: string; target: string; mode?: string; bind: boolean } {
  const [source, target, mode, ...rest] = spec.split(':');
  if (!source || !target || rest.length > 0) throw new Error(`cannot parse volume ${spec}`);
  return { source, target, ...(mode ? { mode } : {}), bind: /^[./]/.test(source) };
}

/** A service's environment with every value a string, as the process sees it. */
export function serviceEnv(service: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]),
  );
}

export const asList = (v: string[] | string | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

export function dependsOn(service: Service): Record<string, string | undefined> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, undefined]));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition]));
}

/** Compose durations such as `30s`, `1m30s`, `500ms`, in milliseconds. */
export function composeDurationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ENV, ... */
  keyword: string;
  /** The rest of the line, continuation lines joined. */
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages in order, each with its instructions (comments and blank lines dropped). */
export function loadDockerfile(file = path.join(root, 'Dockerfile')): Stage[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const stages: Stage[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i]!;
    if (/^\s*(#|$)/.test(text)) continue;
    while (/\\\s*$/.test(text) && i + 1 < lines.length) {
      i += 1;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped, as Docker does
      text = text.replace(/\\\s*$/, ' ') + next.trim();
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(text);
    if (!match) throw new Error(`Dockerfile line ${start + 1}: cannot parse ${JSON.stringify(text)}`);
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile line ${start + 1}: cannot parse FROM ${args}`);
      stages.push({ name: from[2] ?? String(stages.length), image: from[1]!, instructions: [] });
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile line ${start + 1}: ${keyword} before FROM`);
    stage.instructions.push({ keyword, args, line: start + 1 });
  }
  return stages;
}

/** The JSON array of an exec-form instruction (`CMD ["node", "x.js"]`), or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  return JSON.parse(args) as string[];
}

/** `ENV A=1 B=2` (and the legacy `ENV A 1`) as a record. */
export function envOf(args: string): Record<string, string> {
  const pairs = [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)];
  if (pairs.length > 0) {
    return Object.fromEntries(pairs.map(([, k, v]) => [k!, v!.startsWith('"') ? (JSON.parse(v!) as string) : v!]));
  }
  const [key, ...rest] = args.split(/\s+/);
  return { [key!]: rest.join(' ') };
}

/** The `.dockerignore` patterns, without comments and blank lines. */
export function dockerignore(): string[] {
  return readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * Whether `.dockerignore` keeps `relPath` out of the build context. Enough of Docker's matching for plain names,
 * `*` wildcards and `!` exceptions: a pattern matches the path or any of its parent directories.
 */
export function isIgnored(relPath: string, patterns = dockerignore()): boolean {
  const toRegExp = (p: string) =>
    new RegExp(
      `^${p
        .replace(/^\/+|\/+$/g, '')
        .split('**')
        .map((part) =>
          part
            .split('*')
            .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('[^/]*'),
        )
        .join('.*')}$`,
    );
  const segments = relPath.split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRegExp(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) ignored = !negate;
  }
  return ignored;
}
