/**
 * End to end through HTTP, on the stack `npm start` runs (embedded PostgreSQL, the Temporal dev server,
 * the local points API, the worker, the API), with a campaign of a few seconds.
 */
import { createServer, type Server } from 'node:http';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { startStack, type Stack } from '../../src/dev/stack';
import { logger } from '../../src/logger';
import { captureHistories } from '../support/histories';
import { freeStackPorts } from '../../src/dev/tools';
import { eventually } from '../support/stack';

/** A push channel that records what it receives. */
async function startPushReceiver(): Promise<{ url: string; received: { id: string; type: string }[]; server: Server }> {
  const received: { id: string; type: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as { id: string; type: string });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`, received, server };
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'activation-e2e-'));
// Embedded PostgreSQL runs as the unprivileged "postgres" user, who must be able to enter the directory.
chmodSync(dataDir, 0o755);
let stack: Stack | undefined;
let push: Awaited<ReturnType<typeof startPushReceiver>>;
let env: NodeJS.ProcessEnv;

const start = async () => {
  stack = await startStack(loadConfig(env), { logger: logger.child({}, { level: 'warn' }) });
  return stack;
};

beforeAll(async () => {
  push = await startPushReceiver();
  env = {
    DATA_DIR: dataDir,
    ...(await freeStackPorts()),
    POINTS_API_TIMEOUT_MS: '1500',
    NOTIFY_URL: push.url,
    CAMPAIGN_ID: 'e2e-demo',
    CAMPAIGN_TARGET_CENTS: '50000',
    CAMPAIGN_REWARD_POINTS: '2000',
    CAMPAIGN_WINDOW: 'PT6S',
    CAMPAIGN_GRACE: 'PT3S',
    REWARD_RETRY_FOR: 'PT2M',
  };
  await start();
}, 180_000);

afterAll(async () => {
  // With CAPTURE_HISTORIES=1: the members' histories (flaky points API, a stack restart mid-window) become fixtures.
  if (stack)
    await captureHistories(
      { address: stack.temporalAddress },
      { group: 'e2e-stack', capturedFrom: 'test/e2e/stack.test.ts' },
    );
  await stack?.stop();
  push?.server.close();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

const api = (p: string, init?: RequestInit) =>
  fetch(`${stack!.apiUrl}${p}`, { ...init, headers: { 'Content-Type': 'application/json', ...init?.headers } });
const post = (p: string, body: unknown) => api(p, { method: 'POST', body: JSON.stringify(body) });

describe('the product, end to end', () => {
  it('credits exactly once through a points API that first answers 503 and then times out once', async () => {
    stack!.points!.faults.push(503, 'timeout-after-credit');

    const enrolled = await post('/v1/campaigns/e2e-demo/enrollments', { memberId: 'M-e2e' });
    expect(enrolled.status).toBe(201);
    const enrollment = (await enrolled.json()) as { workflowId: string; evaluatesAt: string };
    expect(enrollment.workflowId).toBe('activation:e2e-demo:M-e2e');

    const load = (id: string, amountCents: number, channel = 'DEBIT_CARD') => ({
      transactionId: id,
      memberId: 'M-e2e',
      kind: 'LOAD',
      amountCents,
      currency: 'AUD',
      channel,
      occurredAt: new Date().toISOString(),
    });
    const first = await post('/v1/transactions', load('E2E-1', 30_000));
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ enrollments: [{ campaignId: 'e2e-demo' }], late: [] });
    await post('/v1/transactions', load('E2E-1', 30_000)); // a webhook retry
    await post('/v1/transactions', load('E2E-2', 20_000, 'APPLE_PAY'));

    const goal = await eventually(
      async () => {
        const body = (await (await api('/v1/campaigns/e2e-demo/members/M-e2e')).json()) as {
          state: string;
          countedCents: number;
        };
        return body.countedCents === 50_000 && body;
      },
      5_000,
      'the read model to show both loads',
    );
    expect(goal.state).toBe('GOAL_ACHIEVED');

    const done = await eventually(
      async () => {
        const body = (await (await api('/v1/campaigns/e2e-demo/members/M-e2e')).json()) as {
          state: string;
          reward?: { status: string; creditId?: string };
        };
        return body.state === 'COMPLETED' && body;
      },
      60_000,
      'the reward',
    );
    expect(done.reward).toMatchObject({ status: 'ISSUED', creditId: expect.any(String) });

    const credits = stack!.points!.credits().filter((c) => c.memberId === 'M-e2e');
    expect(credits).toHaveLength(1);
    expect(credits[0]).toMatchObject({ points: 2000, campaignId: 'e2e-demo', creditId: done.reward!.creditId });
    const ledger = (await (await fetch(`${stack!.pointsApiUrl}/v1/credits`)).json()) as { credits: unknown[] };
    expect(ledger.credits).toHaveLength(1);

    await eventually(
      async () => push.received.filter((n) => n.type === 'REWARD_ISSUED').length === 1,
      15_000,
      'the REWARD_ISSUED push',
    );
    const types = push.received.filter((n) => n.id.startsWith(enrollment.workflowId)).map((n) => n.type);
    expect([...new Set(types)].sort()).toEqual(['ENROLLED', 'GOAL_ACHIEVED', 'REWARD_ISSUED']);

    const explanation = (await (await api('/v1/campaigns/e2e-demo/members/M-e2e/explanation')).json()) as {
      verdict: { outcome: string };
      counted: unknown[];
      excluded: { reason: string }[];
    };
    expect(explanation.verdict.outcome).toBe('ELIGIBLE');
    expect(explanation.counted).toHaveLength(2);
    expect(explanation.excluded.map((e) => e.reason)).toEqual(['DUPLICATE']);
  }, 120_000);

  it('loses nothing when the whole stack restarts in the middle of the window', async () => {
    const enrolled = await post('/v1/campaigns/e2e-demo/enrollments', { memberId: 'M-restart' });
    expect(enrolled.status).toBe(201);
    await post('/v1/transactions', {
      transactionId: 'RESTART-1',
      memberId: 'M-restart',
      kind: 'LOAD',
      amountCents: 50_000,
      currency: 'AUD',
      channel: 'GOOGLE_PAY',
      occurredAt: new Date().toISOString(),
    });
    await eventually(
      async () =>
        ((await (await api('/v1/campaigns/e2e-demo/members/M-restart')).json()) as { countedCents: number })
          .countedCents === 50_000,
      5_000,
      'the load',
    );
    await stack!.stop();
    stack = undefined;
    await start();
    const done = await eventually(
      async () => {
        const body = (await (await api('/v1/campaigns/e2e-demo/members/M-restart')).json()) as { state: string };
        return body.state === 'COMPLETED' && body;
      },
      60_000,
      'the reward after the restart',
    );
    expect(done).toMatchObject({ state: 'COMPLETED', countedCents: 50_000 });
    expect(stack!.points!.credits().filter((c) => c.memberId === 'M-restart')).toHaveLength(1);
    // The first member's credit survived the restart in the points ledger too.
    expect(stack!.points!.credits().filter((c) => c.memberId === 'M-e2e')).toHaveLength(1);
  }, 180_000);
});
