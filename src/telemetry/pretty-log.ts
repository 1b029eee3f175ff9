/**
 * Log lines for a person at a terminal: `21:50:04.892 INFO  worker · Worker state changed  state=RUNNING`. JSON stays
 * the format for everything else (files, pipes, containers, log collectors); LOG_FORMAT picks one explicitly.
 */
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, { name: string; colour: string }> = {
  10: { name: 'TRACE', colour: '90' },
  20: { name: 'DEBUG', colour: '90' },
  30: { name: 'INFO ', colour: '36' },
  40: { name: 'WARN ', colour: '33' },
  50: { name: 'ERROR', colour: '31' },
  60: { name: 'FATAL', colour: '41;97' },
};

/** Fields every line has, or that the line's head shows already. */
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'sdkComponent', 'err', 'error']);

export function formatLogLine(json: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const paint = (code: string, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const level = LEVELS[Number(entry.level)] ?? { name: String(entry.level), colour: '0' };
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const component = typeof entry.sdkComponent === 'string' ? `${entry.sdkComponent} · ` : '';
  // pino-http's lines: the request in a few words, not both whole objects.
  const req = entry.req as { method?: string; url?: string } | undefined;
  const res = entry.res as { statusCode?: number } | undefined;
  if (req?.method && res?.statusCode !== undefined) {
    entry.msg = `${req.method} ${req.url ?? ''} → ${res.statusCode}${typeof entry.responseTime === 'number' ? ` (${entry.responseTime} ms)` : ''}`;
    for (const key of ['req', 'res', 'responseTime']) delete entry[key];
  }
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  let line = `${paint('90', time)} ${paint(level.colour, level.name)} ${component}${String(entry.msg ?? '')}`;
  if (fields) line += `  ${paint('90', fields)}`;
  const err = (entry.err ?? entry.error) as { message?: string; stack?: string } | string | undefined;
  if (typeof err === 'string') line += `\n    ${err}`;
  else if (err && (err.stack || err.message)) {
    line += `\n${String(err.stack ?? err.message)
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n')}`;
  }
  return `${line}\n`;
}

/** A pino destination writing readable lines to `out` (synchronously, so nothing is lost at exit). */
export function prettyDestination(out: NodeJS.WriteStream = process.stdout): DestinationStream {
  const colour = out.isTTY === true && !process.env.NO_COLOR;
  return { write: (chunk: string) => void out.write(formatLogLine(chunk.trimEnd(), colour)) };
}
