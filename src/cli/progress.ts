/**
 * The progress bar of `settle`: rate, ETA and the line itself are pure functions; `ProgressDisplay` decides when
 * and how to write (redraw one line on a terminal, a plain line at most every 2 s in a log), with the clock and the
 * writer injected so tests need neither a terminal nor real time.
 */

export interface Sample {
  /** Milliseconds (any monotonic origin). */
  at: number;
  done: number;
}

/** Rate over recent samples only, so a stall or a speed-up shows within seconds instead of being averaged away. */
export const RATE_WINDOW_MS = 10_000;
/** Without a terminal, progress goes to a log: one line every 2 s at most keeps it readable. */
export const PLAIN_INTERVAL_MS = 2_000;
/** On a terminal, redrawing more often than this only costs output (an upload reports every 64 KiB chunk). */
export const TTY_INTERVAL_MS = 100;

export interface Unit {
  /** How `done/total` reads, e.g. `1,234/10,000 records`. */
  ratio(done: number, total: number): string;
  /** How a rate per second reads, e.g. `1,234 records/s`; `– records/s` while unknown. */
  rate(perSecond: number | undefined): string;
}

const grouped = (n: number): string => Math.round(n).toLocaleString('en-AU');

export const RECORDS: Unit = {
  ratio: (done, total) => `${grouped(done)}/${grouped(total)} records`,
  rate: (perSecond) => `${perSecond === undefined ? '–' : grouped(perSecond)} records/s`,
};

export const NEWS: Unit = {
  ratio: (done, total) => `${grouped(done)}/${grouped(total)} pieces of news`,
  rate: (perSecond) => `${perSecond === undefined ? '–' : grouped(perSecond)} pieces/s`,
};

export const MEMBERS: Unit = {
  ratio: (done, total) => `${grouped(done)}/${grouped(total)} members`,
  rate: (perSecond) => `${perSecond === undefined ? '–' : grouped(perSecond)} members/s`,
};

export const ENROLLMENTS: Unit = {
  ratio: (done, total) => `${grouped(done)}/${grouped(total)} enrollments`,
  rate: (perSecond) => `${perSecond === undefined ? '–' : grouped(perSecond)} enrollments/s`,
};

const MB = 1024 * 1024;
const megabytes = (n: number): string => (n / MB).toFixed(1);
export const BYTES: Unit = {
  ratio: (done, total) => `${megabytes(done)}/${megabytes(total)} MB`,
  rate: (perSecond) => `${perSecond === undefined ? '–' : megabytes(perSecond)} MB/s`,
};

/**
 * Units per second over the samples (oldest to newest); undefined until two samples span some time. A window
 * with no progress answers 0, which the ETA reads as "unknown".
 */
export function ratePerSecond(samples: readonly Sample[]): number | undefined {
  if (samples.length < 2) return undefined;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const ms = last.at - first.at;
  if (ms <= 0) return undefined;
  return Math.max(0, ((last.done - first.done) / ms) * 1000);
}

/** Seconds left at `rate`, or undefined when that cannot be known (no rate yet, or a stall). */
export function etaSeconds(done: number, total: number, rate: number | undefined): number | undefined {
  if (done >= total) return 0;
  if (rate === undefined || rate <= 0) return undefined;
  return (total - done) / rate;
}

/** `0:07`, `4:05`, `1:02:03`: the shape terminals and tools like curl and rsync use. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.floor((done / total) * 100));
}

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  unit: Unit;
  rate?: number;
  eta?: number;
}

export const BAR_WIDTH = 24;

export function formatBar(done: number, total: number, width = BAR_WIDTH): string {
  const filled = total <= 0 ? width : Math.min(width, Math.floor((done / total) * width));
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/**
 * One progress line. With `bar` (a terminal): `label [████░░░░]  45% 4,500/10,000 records · 1,234 records/s ·
 * ETA 0:05`; without (a log): the same figures, no bar.
 */
export function formatProgress(p: ProgressState, opts: { bar: boolean }): string {
  const pct = `${String(percent(p.done, p.total)).padStart(3)}%`;
  const parts = [
    `${p.label}${opts.bar ? ` ${formatBar(p.done, p.total)}` : ':'} ${pct} ${p.unit.ratio(p.done, p.total)}`,
    p.unit.rate(p.rate),
    `ETA ${p.eta === undefined ? '–:––' : formatDuration(p.eta)}`,
  ];
  return parts.join(' · ');
}

/** Keeps the samples of the last `RATE_WINDOW_MS` and turns them into a rate and an ETA. */
export class ProgressMeter {
  private samples: Sample[] = [];

  constructor(private readonly windowMs = RATE_WINDOW_MS) {}

  record(done: number, at: number): void {
    this.samples.push({ done, at });
    // Keep one sample older than the window, so the rate always spans the whole window once it has run that long.
    while (this.samples.length > 2 && at - this.samples[1].at >= this.windowMs) this.samples.shift();
  }

  rate(): number | undefined {
    return ratePerSecond(this.samples);
  }

  eta(total: number): number | undefined {
    const last = this.samples[this.samples.length - 1];
    return last ? etaSeconds(last.done, total, this.rate()) : undefined;
  }
}

export interface DisplayTarget {
  write(text: string): void;
  isTTY: boolean;
  /** Terminal width; lines are cut to fit so a redraw never wraps. */
  columns?: number;
  now(): number;
}

/** Writes progress lines: redraws in place on a terminal, throttled plain lines otherwise. */
export class ProgressDisplay {
  private drawnWidth = 0;
  private lastAt: number | undefined;
  private lastDone: number | undefined;

  constructor(private readonly target: DisplayTarget) {}

  update(state: ProgressState): void {
    const { target } = this;
    const now = target.now();
    const interval = target.isTTY ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS;
    // The final state is always drawn (once), so neither the bar nor a log stops short of 100%.
    const final = state.done >= state.total && state.done !== this.lastDone;
    if (!final && this.lastAt !== undefined && now - this.lastAt < interval) return;
    this.lastAt = now;
    this.lastDone = state.done;
    if (target.isTTY) {
      // A terminal without a size (a pseudo-terminal under `script`) reports 0 columns.
      const max = Math.max(20, (target.columns || 80) - 1);
      const line = [...formatProgress(state, { bar: true })].slice(0, max).join('');
      // Pad over what the previous, longer line left behind instead of relying on terminal escape codes.
      target.write(`\r${line}${' '.repeat(Math.max(0, this.drawnWidth - line.length))}`);
      this.drawnWidth = line.length;
    } else {
      target.write(`${formatProgress(state, { bar: false })}\n`);
    }
  }

  /** Ends the redrawn line, so what follows starts on a line of its own. */
  finish(): void {
    if (this.target.isTTY && this.drawnWidth > 0) this.target.write('\n');
    this.drawnWidth = 0;
  }
}
