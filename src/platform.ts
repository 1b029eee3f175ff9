/**
 * Where the product lives and a free port: the two facts about the machine that production code needs (the
 * migrations' folder; the port of the Temporal SDK's metrics exporter). The dev stack uses them too (src/dev/tools.ts);
 * production code never imports the dev stack.
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

let cachedRoot: string | undefined;

/**
 * The repository root: the nearest ancestor of this file that holds a package.json. Walking up (rather than a fixed
 * `../..`) keeps it right both for `src/platform.ts` run through ts/swc and for the compiled `dist/src/platform.js`.
 */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return (cachedRoot = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json found above ${__dirname}`);
    dir = parent;
  }
}

/**
 * The kernel's ephemeral range (outgoing connections and `listen(0)` take their local ports from it), so a port picked
 * below it cannot be taken by a client connection or another server's random port between the pick and the bind.
 */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high && low > 11_000) return [low, high];
  } catch {
    // not Linux: the IANA default
  }
  return [49152, 65535];
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * A TCP port that was free a moment ago, for tests and throwaway servers: a random one from 10000 up to the start of
 * the ephemeral range (see above), or, if none of 50 tries is free, one the OS picks.
 */
export async function findFreePort(host = '127.0.0.1', avoid: ReadonlySet<number> = new Set()): Promise<number> {
  const [low] = ephemeralRange();
  for (let i = 0; i < 50; i++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (!avoid.has(port) && (await canListen(port, host))) return port;
  }
  return new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
