#!/usr/bin/env node
/**
 * The operator CLI: `npm run cli -- <command>`. The only module that touches the process: it reads argv and the
 * environment, wires stdout, stderr and Ctrl-C, and turns every outcome into an exit code (see `errors.ts`).
 */
import { parseCommandLine } from './args';
import { createClient } from './client';
import { runCommand, type Io } from './commands';
import { describeFailure, EXIT } from './errors';

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  const parsed = parseCommandLine(argv, env);
  if (parsed.kind === 'help') {
    io.out(parsed.text);
    return EXIT.OK;
  }
  if (parsed.kind === 'usage-error') {
    io.err.write(`error: ${parsed.message}\n\n${parsed.usage}`);
    return EXIT.USAGE;
  }
  const { invocation } = parsed;
  try {
    return await runCommand(invocation, createClient(invocation.api, io.signal), io);
  } catch (err) {
    const failure = describeFailure(err);
    if (invocation.json && failure.json !== undefined) io.out(`${JSON.stringify(failure.json, null, 2)}\n`);
    io.err.write(`${failure.message}\n`);
    return failure.exitCode;
  }
}

function processIo(signal: AbortSignal): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: {
      write: (text) => process.stderr.write(text),
      isTTY: process.stderr.isTTY === true,
      get columns() {
        return process.stderr.columns;
      },
      now: () => performance.now(),
    },
    signal,
  };
}

if (require.main === module) {
  // The first Ctrl-C cancels politely (a followed batch keeps running on the server, and we say how to pick it up
  // again); a second one exits at once.
  const interrupt = new AbortController();
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) process.exit(EXIT.INTERRUPTED);
    interrupt.abort();
  });
  void main(process.argv.slice(2), process.env, processIo(interrupt.signal)).then((code) => {
    // exitCode rather than exit(): stdout may still be flushing into a pipe.
    process.exitCode = code;
  });
}
