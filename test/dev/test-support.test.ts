/** The shared test helpers: Temporal environments with our search attributes, and isolated databases. */
import { Client } from 'pg';
import { createTestDatabase, testDatabaseUrl } from '../support/db';
import { createLocalEnv, createTimeSkippingEnv, workflowBundle } from '../support/temporal';
import { existsSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CampaignIdKey, SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';

async function expectSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  // Starting a workflow with one of them fails unless the server knows it.
  const handle = await env.client.workflow.start('neverRuns', {
    workflowId: `sa-check-${Date.now()}`,
    taskQueue: 'nobody-polls',
    typedSearchAttributes: [{ key: CampaignIdKey, value: 'sa-check' }],
  });
  await handle.terminate('test done');
}

describe('Temporal test environments', () => {
  it('registers the search attributes on the time-skipping server', async () => {
    const env = await createTimeSkippingEnv();
    try {
      await expectSearchAttributes(env);
    } finally {
      await env.teardown();
    }
  });

  it('registers the search attributes on a local dev server', async () => {
    const env = await createLocalEnv();
    try {
      const { customAttributes } = await env.connection.operatorService.listSearchAttributes({
        namespace: env.namespace ?? 'default',
      });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));
      await expectSearchAttributes(env);
    } finally {
      await env.teardown();
    }
  });

  it('points at the prebuilt workflow bundle', () => {
    expect(existsSync(workflowBundle().codePath)).toBe(true);
  });
});

describe('test databases', () => {
  it('gives each caller its own empty database and drops it', async () => {
    const a = await createTestDatabase('isolation');
    const b = await createTestDatabase('isolation');
    expect(a.name).not.toBe(b.name);
    const run = async (url: string, sql: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    };
    await run(a.url, 'CREATE TABLE only_in_a (id int)');
    expect(await run(b.url, "SELECT to_regclass('only_in_a') AS t")).toEqual([{ t: null }]);

    await Promise.all([a.drop(), b.drop()]);
    const left = await run(
      testDatabaseUrl(),
      `SELECT datname FROM pg_database WHERE datname IN ('${a.name}', '${b.name}')`,
    );
    expect(left).toEqual([]);
  });
});
