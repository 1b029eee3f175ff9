/**
 * A slow or stalled database never wedges the worker. Members keep hearing loads while PostgreSQL (behind a proxy)
 * first stalls three times for 9.5 s, then answers everything 2.5 s late for 30 s: what was seen from outside, where
 * every workflow task slot stayed busy with records retrying inside their tasks, tasks timed out and were replayed, and
 * nothing moved for minutes after the database was fine again. Here the worker must keep its tasks inside their
 * timeouts and catch up by itself within a minute of the database's recovery, with every load counted once.
 *
 * The worker has 8 workflow task slots for 80 members (production: 40 for thousands), so the slots are what runs out.
 * On the code before the patch safe-seams (WEDGE_BEFORE=1) the records retried inside their tasks, which the worker held
 * until the task's heartbeat (8 s, 80 % of the timeout): the longest task took 8.1 s there, 4.3 s with the patch.
 * The scenario itself is test/support/wedge.ts; the bench plays it larger (`npm run bench -- wedge`).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { putCampaign } from '../../src/db/campaigns';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { bundleMemberWorkflow } from '../replay/derived-workflows';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startDelayProxy, type DelayProxy } from '../support/delay-proxy';
import { createLocalEnv, workflowBundle } from '../support/temporal';
import { slowDatabaseScenario, WEDGE_TEST_SIZE } from '../support/wedge';
import { TERMS } from './harness';

jest.setTimeout(400_000);

const MEMBERS = Number(process.env.WEDGE_MEMBERS ?? WEDGE_TEST_SIZE.members);
const SLOTS = Number(process.env.WEDGE_SLOTS ?? WEDGE_TEST_SIZE.slots);

let database: TestDatabase;
let direct: Db;
let slow: Db;
let proxy: DelayProxy;
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  database = await createTestDatabase('slow-database');
  await migrate(database.url);
  direct = createPool(database.url, 4);
  await putCampaign(direct, TERMS);
  const url = new URL(database.url);
  proxy = await startDelayProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(proxy.port);
  // The worker's pool, as the production worker's (src/workers/main.ts).
  slow = createPool(url.toString());
  env = await createLocalEnv({ log: { format: 'pretty', level: 'never' as never } });
});
afterAll(async () => {
  await env?.teardown();
  await slow?.end();
  await proxy?.close();
  await direct?.end();
  await database?.drop();
});

it('a stalled, then slow, database: tasks stay inside their timeouts and every view catches up within a minute', async () => {
  // WEDGE_BEFORE=1 plays it on the code before the patch safe-seams (the wedge as it was seen).
  const codePath = process.env.WEDGE_BEFORE
    ? await bundleMemberWorkflow('before-safe-seams')
    : workflowBundle().codePath;
  const { caught, recoverySeconds, shapes } = await slowDatabaseScenario(
    { client: env.client, connection: env.nativeConnection, direct, slow, proxy, campaign: TERMS },
    codePath,
    'now',
    {
      ...WEDGE_TEST_SIZE,
      members: MEMBERS,
      slots: SLOTS,
      ...(process.env.WEDGE_LIMIT ? { historyEventLimit: Number(process.env.WEDGE_LIMIT) } : {}),
    },
  );
  console.log(JSON.stringify({ caught, recoverySeconds, shapes }));
  expect(caught).toBe(MEMBERS);
  expect(recoverySeconds).toBeLessThan(60);
  // No workflow task waited for the database until it timed out, or near it: a fast record gives up within 4 s.
  expect(shapes.timedOutTasks).toBe(0);
  expect(shapes.longestTaskMs).toBeLessThan(7_000);
});
