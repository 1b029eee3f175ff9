/**
 * The settlement batch workflow's own ending: a batch that fails for good says FAILED in PostgreSQL, with why (it
 * used to stay RUNNING forever). On the time-skipping test server with the real settlement activities.
 */
import { Readable } from 'node:stream';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createSettlementActivities } from '../../src/activities/settlement';
import { migrate } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import { batchReport, stageSettlementFile } from '../../src/db/settlements';
import { settlementWorkflowId } from '../../src/domain/ids';
import { SETTLEMENT_HEADER } from '../../src/domain/settlement';
import type { settlementBatch } from '../../src/workflows/settlement-batch';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { saveHistory } from '../support/histories';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal';

let database: TestDatabase;
let db: Db;
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  database = await createTestDatabase('settlement_batch');
  await migrate(database.url);
  db = createPool(database.url, 3);
  env = await createTimeSkippingEnv();
}, 120_000);

afterAll(async () => {
  await env?.teardown();
  await db?.end();
  await database?.drop();
});

it('a batch that cannot be applied ends FAILED with the reason, not RUNNING forever', async () => {
  const staged = await stageSettlementFile(db, Readable.from([`${SETTLEMENT_HEADER}\n`]), { idempotencyKey: 'fails' });
  if (staged.outcome !== 'STAGED') throw new Error('not staged');
  const { batchId } = staged;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'settlement-test',
    workflowBundle: workflowBundle(),
    activities: createSettlementActivities({ db, temporal: env.client }),
  });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof settlementBatch>('settlementBatch', {
      workflowId: settlementWorkflowId(batchId),
      taskQueue: 'settlement-test',
      args: [{ batchId, chunkSize: 0 }],
    });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    // The patch settlement-batch-records-failure, new side (the old side: every other settlement fixture).
    await saveHistory('settlement-failed', 'chunk-size-0', handle);
  });
  expect(await batchReport(db, batchId)).toMatchObject({
    state: 'FAILED',
    failure: 'chunkSize must be a positive integer, got 0',
  });
});
