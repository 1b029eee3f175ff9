/**
 * A whole stack (API and worker, Temporal, PostgreSQL) with one campaign on the default terms, a small pool for the
 * test's own reads and writes behind the product's back, and the compiled CLI: what the end-to-end tests of the
 * operator's campaign-wide commands (reconcile, repair-ledgers) share. Call at the top of a test file.
 */
import { createPool, type Db } from '../../src/db/pool';
import { buildCli } from './cli';
import { startTestStack, type TestStack } from './stack';

export interface CampaignStack {
  readonly stack: TestStack;
  readonly db: Db;
}

export function campaignStack(campaignId: string): CampaignStack {
  let stack: TestStack | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    stack = await startTestStack();
    db = createPool(stack.databaseUrl, 3);
    buildCli();
    const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };
    expect((await stack.api('PUT', `/v1/campaigns/${campaignId}`, terms)).status).toBe(201);
  });
  afterAll(async () => {
    await db?.end();
    await stack?.destroy();
  });
  return {
    get stack() {
      if (!stack) throw new Error('the stack is not up yet (use it inside a test)');
      return stack;
    },
    get db() {
      if (!db) throw new Error('the stack is not up yet (use it inside a test)');
      return db;
    },
  };
}
