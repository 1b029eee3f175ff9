/**
 * Every accepted piece of news accounted for, through the real stack and the operator CLI. Members hear loads in real
 * time and a settlement file; every piece is on record as accepted. Then faults drop news the product had accepted:
 * a load whose signal never reached its open run, a settlement line that never reached it, and a load for an
 * enrollment already decided. `reconcile` finds exactly those (exit 1), `--repair` delivers them again, each counts
 * once (the counted amount moves by the load, not twice), and the next runs find nothing (exit 0), repair or not.
 */
import { recordAccepted } from '../../src/db/accepted-news';
import { SETTLEMENT_HEADER } from '../../src/domain/settlement';
import type { TransactionEvent } from '../../src/domain/model';
import { runCli } from '../support/cli';
import { campaignStack } from '../support/campaign-stack';
import { loadBody } from '../support/requests';
import { eventually } from '../support/stack';

jest.setTimeout(240_000);

const C = 'reconcile-e2e';
const up = campaignStack(C);

interface Reconciliation {
  checked: number;
  missing: number;
  repaired: number;
  missingNews: { memberId: string; transactionId: string; source: string; status?: string; repaired?: boolean }[];
}

const member = (m: string) => `/v1/campaigns/${C}/members/${m}`;
const view = async (m: string) =>
  (await up.stack.api<{ state: string; countedCents: number; settledCents: number }>('GET', member(m))).body;
const reconcile = async (body: Record<string, unknown>) =>
  up.stack.api<Reconciliation>('POST', `/v1/campaigns/${C}/reconcile`, body);

/** News the product accepted and then lost: on record as accepted five minutes ago, never delivered. */
async function acceptedAndLost(memberId: string, ev: Partial<TransactionEvent>) {
  const heard = new Date(Date.now() - 5 * 60_000).toISOString();
  const event: TransactionEvent = {
    source: 'REALTIME',
    memberId,
    kind: 'LOAD',
    channel: 'DEBIT_CARD',
    currency: 'AUD',
    amountCents: 5_000,
    transactionId: 'unset',
    // In the window (the member enrolled moments ago); heard, as the record says, before the settle window.
    occurredAt: new Date().toISOString(),
    receivedAt: heard,
    ...ev,
  };
  await recordAccepted(up.db, [{ campaignId: C, memberId, workflowId: `activation:${C}:${memberId}` }], [event]);
}

it('finds what was accepted and lost, repairs it once, and then finds nothing', async () => {
  for (const m of ['R-1', 'R-2', 'R-3']) {
    expect((await up.stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId: m })).status).toBe(201);
  }
  const t = new Date().toISOString();
  for (const [m, id, cents] of [
    ['R-1', 'RC-1', 10_000],
    ['R-2', 'RC-2', 20_000],
    ['R-3', 'RC-3', 30_000],
  ] as const) {
    expect((await up.stack.api('POST', '/v1/transactions', loadBody(m, id, cents, t))).status).toBe(202);
  }
  const file = `${SETTLEMENT_HEADER}\nRC-1,R-1,LOAD,10000,AUD,DEBIT_CARD,${t},${t},SETTLED\n`;
  const settle = await fetch(`${up.stack.apiUrl}/v1/settlements`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv' },
    body: file,
  });
  expect(settle.status).toBe(202);
  await eventually(async () => (await view('R-1')).settledCents === 10_000, 60_000, 'the settlement applied');
  // R-3 opts out: its run ends, and news for it is late news from now on.
  expect((await up.stack.api('POST', `${member('R-3')}/cancel`, { reason: 'test' })).status).toBe(200);
  await eventually(async () => (await view('R-3')).state === 'CANCELLED', 30_000, 'R-3 cancelled');

  // Everything delivered is accounted for (news from the last second included).
  const clean = await reconcile({ settleSeconds: 0 });
  expect(clean.status).toBe(200);
  expect(clean.body).toMatchObject({ checked: 4, missing: 0, missingNews: [] });

  // The faults: a load lost on its way to R-1's run, a settlement line lost on its way to R-2's, a load for R-3.
  await acceptedAndLost('R-1', { transactionId: 'RC-LOST-1', amountCents: 7_000 });
  const r2 = { transactionId: 'RC-2', amountCents: 20_000, occurredAt: t };
  await acceptedAndLost('R-2', { ...r2, source: 'SETTLEMENT', status: 'SETTLED', settledAt: t, batchId: 'lost-file' });
  await acceptedAndLost('R-3', { transactionId: 'RC-LOST-3', amountCents: 40_000 });

  const found = await runCli(() => up.stack.apiUrl, ['reconcile', C]);
  expect(found.code).toBe(1);
  expect(found.stdout).toMatch(/missing\s+3/);
  expect(found.stdout).toMatch(/R-1\s+RC-LOST-1\s+REALTIME LOAD\s+A\$70\.00/);
  expect(found.stdout).toMatch(/R-2\s+RC-2\s+SETTLEMENT SETTLED/);
  expect(found.stdout).toMatch(/R-3\s+RC-LOST-3/);
  expect(found.stdout).toMatch(/--repair/);
  // Only looked: nothing changed.
  expect((await view('R-1')).countedCents).toBe(10_000);

  const repaired = await runCli(() => up.stack.apiUrl, ['reconcile', C, '--repair']);
  expect(repaired.code).toBe(1);
  expect(repaired.stdout).toMatch(/repaired\s+3/);
  await eventually(async () => (await view('R-1')).countedCents === 17_000, 30_000, 'the lost load counted');
  await eventually(async () => (await view('R-2')).settledCents === 20_000, 30_000, 'the lost settlement applied');
  // R-3 had its verdict: the load is late news on its trail, and the verdict stands.
  expect((await view('R-3')).state).toBe('CANCELLED');

  // Nothing missing now, and a repair again delivers nothing: the load still counts once.
  await eventually(async () => (await reconcile({})).body.missing === 0, 30_000, 'nothing missing');
  const again = await runCli(() => up.stack.apiUrl, ['reconcile', C, '--repair']);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/Every piece of news accepted is in its enrollment/);
  await new Promise((r) => setTimeout(r, 1_000));
  expect((await view('R-1')).countedCents).toBe(17_000);

  // The latest run per campaign is on /metrics.
  const metrics = await (await fetch(`${up.stack.apiUrl}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`activation_reconcile_missing_events\\{campaign="${C}"\\} 0`));
  // That run checked the three older than a minute (the CLI's default settle): the ones lost.
  expect(metrics).toMatch(new RegExp(`activation_reconcile_checked_events\\{campaign="${C}"\\} 3`));
});

it('answers 404 for an unknown campaign and 400 for a bad body; streams progress as NDJSON', async () => {
  expect((await up.stack.api('POST', '/v1/campaigns/nope/reconcile', {})).status).toBe(404);
  expect((await reconcile({ repair: 'yes' })).status).toBe(400);
  expect((await reconcile({ settleSeconds: -1 })).status).toBe(400);
  const res = await fetch(`${up.stack.apiUrl}/v1/campaigns/${C}/reconcile`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
    body: '{}',
  });
  expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
  const lines = (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines[0]).toHaveProperty('progress');
  expect(lines.at(-1)).toHaveProperty('result');
});
