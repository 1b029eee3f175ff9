/**
 * Stored ledgers made whole again (POST /v1/campaigns/{c}/ledgers/repair, `npm run cli -- repair-ledgers`): what the
 * code before the patch safe-seams could leave behind, made here behind the product's back. A decided enrollment's
 * ledger short of a load and carrying an entry it never had; an open enrollment's short of a load its view counts.
 * The repair finds exactly those, makes each explanation add up to its balance again, changes nothing else, and a
 * second run finds nothing.
 */
import { runCli } from '../support/cli';
import { campaignStack } from '../support/campaign-stack';
import { loadBody } from '../support/requests';
import { eventually } from '../support/stack';

jest.setTimeout(240_000);

const C = 'ledgers-e2e';
const up = campaignStack(C);

const member = (m: string) => `/v1/campaigns/${C}/members/${m}`;
const view = async (m: string) => (await up.stack.api<{ state: string; countedCents: number }>('GET', member(m))).body;
const explained = async (m: string) =>
  (await up.stack.api<{ counted: { amountCents: number }[] }>('GET', `${member(m)}/explanation`)).body.counted.reduce(
    (a, c) => a + c.amountCents,
    0,
  );
const workflowId = (m: string) => `activation:${C}:${m}`;

it('finds the short and the padded ledgers, makes each explanation add up to its balance, and then finds nothing', async () => {
  for (const m of ['L-1', 'L-2', 'L-3']) {
    expect((await up.stack.api('POST', `/v1/campaigns/${C}/enrollments`, { memberId: m })).status).toBe(201);
  }
  for (const [m, id, cents] of [
    ['L-1', 'LG-1a', 10_000],
    ['L-1', 'LG-1b', 20_000],
    ['L-2', 'LG-2a', 30_000],
    ['L-2', 'LG-2b', 5_000],
    ['L-3', 'LG-3a', 7_000],
  ] as const) {
    expect((await up.stack.api('POST', '/v1/transactions', loadBody(m, id, cents))).status).toBe(202);
  }
  await eventually(async () => (await view('L-2')).countedCents === 35_000, 30_000, 'the loads counted');
  await eventually(async () => (await view('L-1')).countedCents === 30_000, 30_000, 'the loads counted');
  // L-1 is decided (it opts out); L-2 and L-3 stay open.
  expect((await up.stack.api('POST', `${member('L-1')}/cancel`, {})).status).toBe(200);
  await eventually(async () => (await view('L-1')).state === 'CANCELLED', 30_000, 'L-1 decided');
  await eventually(async () => (await explained('L-2')) === 35_000, 30_000, 'L-2 stored');

  // What a stale record once did: rows lost, and a row the enrollment never had.
  await up.db.query('DELETE FROM ledger_entries WHERE workflow_id = $1 AND transaction_id = $2', [
    workflowId('L-1'),
    'LG-1b',
  ]);
  await up.db.query('DELETE FROM ledger_entries WHERE workflow_id = $1 AND transaction_id = $2', [
    workflowId('L-2'),
    'LG-2a',
  ]);
  await up.db.query(
    `INSERT INTO ledger_entries (workflow_id, transaction_id, entry)
     SELECT workflow_id, 'LG-phantom', jsonb_set(entry, '{transactionId}', '"LG-phantom"')
     FROM ledger_entries WHERE workflow_id = $1 AND transaction_id = $2`,
    [workflowId('L-1'), 'LG-1a'],
  );
  expect(await explained('L-1')).toBe(20_000);
  expect(await explained('L-2')).toBe(5_000);

  const repaired = await runCli(() => up.stack.apiUrl, ['repair-ledgers', C]);
  expect(repaired.code).toBe(0);
  expect(repaired.stdout).toMatch(/repaired\s+2/);
  expect(repaired.stdout).toMatch(/L-1\s+CANCELLED\s+1\s+1/);
  expect(repaired.stdout).toMatch(/L-2\s+ACTIVE\s+1\s+0/);
  expect(await explained('L-1')).toBe(30_000);
  expect(await explained('L-2')).toBe(35_000);
  expect(await explained('L-3')).toBe(7_000);
  // The views were right all along, and still are.
  expect((await view('L-1')).countedCents).toBe(30_000);
  expect((await view('L-2')).countedCents).toBe(35_000);

  const again = await up.stack.api<{ checked: number; repaired: number }>(
    'POST',
    `/v1/campaigns/${C}/ledgers/repair`,
    {},
  );
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ checked: 3, repaired: 0 });
  expect((await up.stack.api('POST', '/v1/campaigns/nope/ledgers/repair', {})).status).toBe(404);
});
