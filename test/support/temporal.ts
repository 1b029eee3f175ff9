/**
 * Temporal servers for tests, from the pinned binaries in .tools (see scripts/ensure.sh); when those are missing the
 * SDK downloads its own, which needs internet.
 */
import { isGrpcServiceError } from '@temporalio/client';
import { defineSearchAttributeKey, type SearchAttributeType } from '@temporalio/common';
import { TestWorkflowEnvironment, type LocalTestWorkflowEnvironmentOptions } from '@temporalio/testing';
import { INDEXED_VALUE_TYPES } from '../../src/dev/temporal-dev-server';
import { temporalCliPath, temporalTestServerPath } from '../../src/dev/tools';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';

/** gRPC status code ALREADY_EXISTS. */
const ALREADY_EXISTS = 6;

/** The SDK's names for the CLI's search attribute types. */
const SDK_TYPES: Record<keyof typeof INDEXED_VALUE_TYPES, SearchAttributeType> = {
  Keyword: 'KEYWORD',
  Datetime: 'DATETIME',
  Int: 'INT',
};

/** SEARCH_ATTRIBUTES as the keys `createLocal({ server: { searchAttributes } })` wants. */
export const SEARCH_ATTRIBUTE_KEYS = Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) =>
  defineSearchAttributeKey(name, SDK_TYPES[type]),
);

/**
 * The time-skipping test server, with our custom search attributes registered: it knows none by itself, and
 * workflows upserting an unknown attribute fail their task.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const path = temporalTestServerPath();
  const env = await TestWorkflowEnvironment.createTimeSkipping(
    path ? { server: { executable: { type: 'existing-path', path } } } : {},
  );
  try {
    const namespace = env.namespace ?? 'default';
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      try {
        await env.connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: { [name]: INDEXED_VALUE_TYPES[type] },
        });
      } catch (err) {
        if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw err;
      }
    }
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return env;
}

/**
 * A real Temporal dev server (no time skipping), in memory unless `server.dbFilename` is given, with our search
 * attributes registered at start.
 */
export async function createLocalEnv(
  server: NonNullable<LocalTestWorkflowEnvironmentOptions['server']> = {},
): Promise<TestWorkflowEnvironment> {
  const path = temporalCliPath();
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(path ? { executable: { type: 'existing-path', path } } : {}),
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      // Its output goes to our stderr; warnings such as the generated cluster id are noise in test logs.
      log: { format: 'pretty', level: 'error' },
      ...server,
    },
  });
}

/** The workflow bundle global setup built once for the run; pass as `Worker.create({ workflowBundle })`. */
export function workflowBundle(): { codePath: string } {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (!codePath) {
    throw new Error('TEST_WORKFLOW_BUNDLE is not set: run tests through Jest, whose global setup builds the bundle');
  }
  return { codePath };
}
