/**
 * What every benchmark under bench/ shares: progress lines, bounded concurrency, CPU and memory of the processes it
 * started (Linux /proc), phases timed with both, and where the code measured came from.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const started = Date.now();
export const say = (line: string): void => {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(7);
  process.stderr.write(`[bench ${t}s] ${line}\n`);
};
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const seconds = (ms: number): number => Math.round(ms) / 1000;
export const perSecond = (n: number, ms: number): number => (ms > 0 ? Math.round((n * 10_000) / ms) / 10 : 0);
export const mb = (bytes: number): number => Math.round(bytes / 104_857.6) / 10;

/**
 * Node flags for the processes a benchmark measures (the product, the CLI), not for itself or the compiler:
 * BENCH_HEAP_MB caps their old-space heap, to show what memory they need rather than what V8 takes when it may.
 */
export const measuredNodeArgs = (): string[] =>
  process.env.BENCH_HEAP_MB ? [`--max-old-space-size=${Number(process.env.BENCH_HEAP_MB)}`] : [];

/** Deterministic pseudo-random numbers (mulberry32), so that a run with the same options makes the same file. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Aborted by SIGINT or SIGTERM: pools start nothing new. */
export const interruption = new AbortController();

/**
 * Runs `task` over `count` indexes with at most `concurrency` in flight; the first failure, or an interruption, stops
 * the rest.
 */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < count) {
      if (interruption.signal.aborted) throw new Error('interrupted');
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

/** CPU time (ms) and resident memory (bytes) of the processes this one started, by name; Linux only (/proc). */
export interface ChildUsage {
  cpuMs: Record<string, number>;
  rss: number;
  /** Resident memory by process name (bytes). */
  rssByName: Record<string, number>;
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux this runs on
const PAGE_BYTES = 4096;

export function childUsage(): ChildUsage | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const procs: { pid: number; ppid: number; name: string; cpuTicks: number; rssPages: number }[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' '); // f[0] is field 3 (state)
      procs.push({
        pid: Number(entry),
        ppid: Number(f[1]),
        name,
        cpuTicks: Number(f[11]) + Number(f[12]),
        rssPages: Number(f[21]),
      });
    }
    const children = new Map<number, typeof procs>();
    for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    const usage: ChildUsage = { cpuMs: {}, rss: 0, rssByName: {} };
    const todo = [...(children.get(process.pid) ?? [])];
    for (let p = todo.pop(); p; p = todo.pop()) {
      usage.cpuMs[p.name] = (usage.cpuMs[p.name] ?? 0) + (p.cpuTicks * 1000) / CLOCK_TICKS_PER_S;
      usage.rss += p.rssPages * PAGE_BYTES;
      usage.rssByName[p.name] = (usage.rssByName[p.name] ?? 0) + p.rssPages * PAGE_BYTES;
      todo.push(...(children.get(p.pid) ?? []));
    }
    return usage;
  } catch {
    return undefined;
  }
}

/**
 * Peak resident set size of this process (the benchmark, the API and the worker), sampled every 100 ms; and of the
 * processes it started (PostgreSQL, the Temporal dev server), every second.
 */
export class RssSampler {
  peak = 0;
  childPeak = 0;
  private phasePeak = 0;
  private phaseChildPeak = 0;
  private readonly timers: NodeJS.Timeout[];
  constructor() {
    this.timers = [setInterval(() => this.sample(), 100), setInterval(() => this.sampleChildren(), 1_000)];
    for (const t of this.timers) t.unref();
    this.sample();
  }
  sample(): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.peak) this.peak = rss;
    if (rss > this.phasePeak) this.phasePeak = rss;
  }
  sampleChildren(): void {
    const rss = childUsage()?.rss ?? 0;
    if (rss > this.childPeak) this.childPeak = rss;
    if (rss > this.phaseChildPeak) this.phaseChildPeak = rss;
  }
  /** The peaks since the previous call. */
  phase(): { self: number; children: number } {
    this.sample();
    this.sampleChildren();
    const p = { self: this.phasePeak, children: this.phaseChildPeak };
    this.phasePeak = 0;
    this.phaseChildPeak = 0;
    this.sample();
    this.sampleChildren();
    return p;
  }
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.sample();
  }
}

export interface Phase {
  ms: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  peakRssMb: number;
  /** CPU time of the processes this one started, by process name (postgres, temporal); Linux only. */
  childCpuMs?: Record<string, number>;
  childPeakRssMb?: number;
}

/** Times a phase: wall clock, CPU of this process and of its children, and peak RSS. */
export async function phase<T>(rss: RssSampler, fn: () => Promise<T>): Promise<{ value: T; phase: Phase }> {
  rss.phase();
  const children = childUsage();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  const childrenAfter = childUsage();
  const peaks = rss.phase();
  let childCpuMs: Record<string, number> | undefined;
  if (children && childrenAfter) {
    childCpuMs = {};
    for (const [name, after] of Object.entries(childrenAfter.cpuMs)) {
      childCpuMs[name] = Math.round(after - (children.cpuMs[name] ?? 0));
    }
  }
  return {
    value,
    phase: {
      ms: Math.round(ms),
      cpuUserMs: Math.round(used.user / 1000),
      cpuSystemMs: Math.round(used.system / 1000),
      peakRssMb: mb(peaks.self),
      ...(childCpuMs ? { childCpuMs, childPeakRssMb: mb(peaks.children) } : {}),
    },
  };
}

/** CPU time (ms) used so far by this process and the processes it started. */
export function totalCpuMs(): number {
  const self = process.cpuUsage();
  const children = childUsage();
  return (self.user + self.system) / 1000 + Object.values(children?.cpuMs ?? {}).reduce((a, b) => a + b, 0);
}

/**
 * Waits until this process (the worker and its activities: read-model writes, notifications), PostgreSQL and the
 * Temporal server have used under a tenth of a CPU for two seconds in a row, so that one phase's after-effects do not
 * slow the next. At most `maxMs`.
 */
export async function settle(maxMs = 60_000): Promise<number> {
  const t0 = Date.now();
  let quiet = 0;
  while (Date.now() - t0 < maxMs && quiet < 2) {
    const before = totalCpuMs();
    await delay(1_000);
    quiet = totalCpuMs() - before < 100 ? quiet + 1 : 0;
  }
  return Date.now() - t0;
}

/** "CPU over 100 s wall: this process 30 s, temporal 80 s, postgres 20 s" */
export function cpuSummary(p: Phase): string {
  const parts = [`this process ${seconds(p.cpuUserMs + p.cpuSystemMs)} s`];
  for (const [name, ms] of Object.entries(p.childCpuMs ?? {}).sort((a, b) => b[1] - a[1])) {
    if (ms >= 100) parts.push(`${name} ${seconds(ms)} s`);
  }
  return `CPU over ${seconds(p.ms)} s wall: ${parts.join(', ')}`;
}

export function gitInfo(root: string): { commit?: string; changedFiles?: string[] } {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    // Uncommitted changes to what is measured (read-only: git diff writes nothing).
    const changed = git('diff', '--name-only', 'HEAD', '--', 'src', 'migrations', 'package-lock.json');
    return { commit, changedFiles: changed ? changed.split('\n') : [] };
  } catch {
    return {};
  }
}
