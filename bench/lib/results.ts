/**
 * Where a benchmark's figures go: one JSON file per run (machine, load average, commits, parameters, every figure)
 * and one row per measured tree in the benchmark's table in bench/results/README.md, under its own heading.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mb } from './common';

export interface Section {
  /** The heading's text, e.g. "Transactions (`npm run bench -- transactions`)". */
  heading: string;
  /** What the columns mean; written once, when the section is created. */
  intro: string;
  /** The last one is the notes, which end with the JSON file's name. */
  columns: string[];
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryMb: mb(os.totalmem()),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export const stampOf = (d: Date) =>
  d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '-');

/** Writes `<dir>/<name>-<stamp>.json` and adds `rows` to the section's table in `<dir>/README.md`. */
export function record(
  dir: string,
  name: string,
  at: Date,
  result: unknown,
  section: Section,
  rows: (string | number)[][],
): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${stampOf(at)}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const readme = path.join(dir, 'README.md');
  let text = existsSync(readme) ? readFileSync(readme, 'utf8') : '# Benchmark results\n';
  // The last column is the notes; the JSON file's name ends them.
  const lines = rows.map((r) => {
    const cells = r.map(String);
    const notes = cells.pop() ?? '';
    return `| ${[...cells, [notes, `\`${path.basename(file)}\``].filter(Boolean).join('; ')].join(' | ')} |`;
  });
  const heading = `## ${section.heading}`;
  const start = text.indexOf(`${heading}\n`);
  if (start < 0) {
    const header = section.columns;
    text =
      `${text.trimEnd()}\n\n${heading}\n\n${section.intro.trim()}\n\n` +
      `| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |\n${lines.join('\n')}\n`;
  } else {
    // After the last table row of this section (the next heading ends it).
    const next = text.indexOf('\n## ', start + heading.length);
    const end = next < 0 ? text.length : next;
    const body = text.slice(start, end);
    const lastRow = body.lastIndexOf('\n|');
    const rowEnd = lastRow < 0 ? -1 : body.indexOf('\n', lastRow + 1);
    const insertAt = rowEnd < 0 ? end : start + rowEnd;
    text = `${text.slice(0, insertAt)}\n${lines.join('\n')}${text.slice(insertAt)}`;
  }
  writeFileSync(readme, text.endsWith('\n') ? text : `${text}\n`);
  return file;
}
