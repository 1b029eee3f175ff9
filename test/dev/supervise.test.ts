/** Supervision of the local stack's servers, with stand-in servers whose life the test controls. */
import {
  MAX_CRASHES,
  RESTART_ATTEMPTS,
  supervise,
  type Server,
  type SupervisionContext,
} from '../../src/dev/supervise';
import type { ExitInfo } from '../../src/dev/tools';

interface FakeServer extends Server {
  id: number;
  crash(): void;
  stopped: boolean;
}

function fakes() {
  const made: FakeServer[] = [];
  let failNext = 0;
  const start = async (): Promise<FakeServer> => {
    if (failNext > 0) {
      failNext -= 1;
      throw new Error('port still in use');
    }
    let end: (info: ExitInfo) => void = () => undefined;
    const server: FakeServer = {
      id: made.length + 1,
      stopped: false,
      exit: new Promise<ExitInfo>((resolve) => (end = resolve)),
      crash: () => end({ code: null, signal: 'SIGKILL' }),
      stop: async () => {
        server.stopped = true;
        end({ code: 0, signal: null });
      },
    };
    made.push(server);
    return server;
  };
  return { made, start, failNextStarts: (n: number) => (failNext = n) };
}

function context() {
  const lines: string[] = [];
  const fatal: Error[] = [];
  const ctx: SupervisionContext = {
    say: (line) => lines.push(line),
    logger: { error: () => undefined, warn: () => undefined, info: () => undefined } as never,
    onFatal: (err) => fatal.push(err),
    backoffMs: 1,
  };
  return { ctx, lines, fatal };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(check()).toBe(true);
};

it('restarts a server that dies, says so, and stops the new one', async () => {
  const { made, start } = fakes();
  const { ctx, lines, fatal } = context();
  const supervised = await supervise('the server', start, ctx);
  made[0].crash();
  await until(() => made.length === 2 && lines.includes('the server is running again'));
  expect(lines[0]).toBe('the server was killed by SIGKILL unexpectedly; restarting it on the same data…');
  expect(supervised.current()).toBe(made[1]);
  await supervised.stop();
  expect(made[1].stopped).toBe(true);
  expect(fatal).toEqual([]);
});

it('keeps trying while the restart fails, then gives up and reports it', async () => {
  const { made, start, failNextStarts } = fakes();
  const { ctx, fatal } = context();
  await supervise('the server', start, ctx);
  failNextStarts(RESTART_ATTEMPTS - 1);
  made[0].crash();
  await until(() => made.length === 2);
  expect(fatal).toEqual([]);

  failNextStarts(RESTART_ATTEMPTS);
  made[1].crash();
  await until(() => fatal.length === 1);
  expect(fatal[0].message).toBe('the server died and could not be restarted: port still in use');
  expect(made).toHaveLength(2);
});

it('gives up on a server that keeps dying', async () => {
  const { made, start } = fakes();
  const { ctx, fatal } = context();
  await supervise('the server', start, ctx);
  for (let i = 0; i <= MAX_CRASHES; i++) {
    made[i].crash();
    await until(() => made.length === i + 2 || fatal.length > 0);
  }
  expect(fatal[0].message).toMatch(/keeps dying/);
});

it('does not restart a server it stops', async () => {
  const { made, start } = fakes();
  const { ctx, lines } = context();
  const supervised = await supervise('the server', start, ctx);
  await supervised.stop();
  await new Promise((r) => setTimeout(r, 20));
  expect(made).toHaveLength(1);
  expect(lines).toEqual([]);
});
