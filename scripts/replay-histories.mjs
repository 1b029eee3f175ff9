#!/usr/bin/env node
/**
 * `npm run replay`: the pre-deploy check. Downloads the histories of recent workflow executions from a running
 * Temporal cluster (the open ones first: those are what a deploy can break) and replays them against the workflow
 * code of the working tree. Any nondeterminism means the new code would fail the workflow tasks of those runs once
 * deployed: the script prints which and exits 1. See docs/versioning.md.
 *
 *   npm run replay -- [--query 'TaskQueue="member-activation"'] [--limit 200] [--save DIR] [--bundle FILE]
 *
 * Exit codes: 0 every history replayed; 1 at least one did not; 2 usage error; 3 Temporal cannot be reached.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// `npm run replay` compiles the working tree first (scripts/ensure.sh): dist/src is this tree's code.
const dist = path.join(root, 'dist', 'src');
const require = createRequire(import.meta.url);

const HELP = `usage: npm run replay -- [options]

Replays the histories of recent workflow executions against this working tree's workflow code.

options:
  --address HOST:PORT  Temporal frontend (default: TEMPORAL_ADDRESS, else localhost:7233)
  --namespace NS       (default: TEMPORAL_NAMESPACE, else default)
  --query Q            visibility query choosing the executions
                       (default: TaskQueue="<TEMPORAL_TASK_QUEUE, else member-activation>")
  --limit N            at most N executions, open ones first, then the most recently closed (default 200)
  --bundle FILE        replay this prebuilt workflow bundle (default: WORKFLOW_BUNDLE, else bundle this tree's code)
  --save DIR           also save the downloaded histories there, in the replay fixtures' format
  --verbose            the replay worker's own log
  -h, --help
`;

/** Usage errors exit 2, like the operator CLI's. */
class UsageError extends Error {}

function options(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        address: { type: 'string' },
        namespace: { type: 'string' },
        query: { type: 'string' },
        limit: { type: 'string' },
        bundle: { type: 'string' },
        save: { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(err.message);
  }
  const limit = Number(values.limit ?? 200);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UsageError(`--limit must be a positive integer, got ${values.limit}`);
  return {
    help: values.help ?? false,
    address: values.address ?? process.env.TEMPORAL_ADDRESS ?? 'localhost:7233',
    namespace: values.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default',
    query: values.query ?? `TaskQueue="${process.env.TEMPORAL_TASK_QUEUE || 'member-activation'}"`,
    limit,
    bundle: values.bundle ?? (process.env.WORKFLOW_BUNDLE || undefined),
    save: values.save,
    verbose: values.verbose ?? false,
  };
}

/** Open executions first (a deploy can break only those), then the most recently closed, up to `limit`. */
async function listExecutions(client, query, limit) {
  const picked = [];
  for (const status of ['ExecutionStatus = "Running"', 'ExecutionStatus != "Running"']) {
    if (picked.length >= limit) break;
    for await (const info of client.workflow.list({ query: `(${query}) AND ${status}`, pageSize: 100 })) {
      picked.push(info);
      if (picked.length >= limit) break;
    }
  }
  return picked;
}

const fileSafe = (s) => s.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80);

async function main() {
  const opts = options(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  Runtime.install({ logger: new DefaultLogger(opts.verbose ? 'INFO' : 'ERROR') });

  let connection;
  try {
    // TLS, mTLS or an API key from the same variables as the worker and the API (TEMPORAL_TLS_*, TEMPORAL_API_KEY).
    const { loadConfig } = require(path.join(dist, 'config.js'));
    const { temporalConnectionOptions } = require(path.join(dist, 'temporal-connection.js'));
    const options = temporalConnectionOptions(opts.address, loadConfig());
    connection = await Connection.connect({ ...options, connectTimeout: '10s' });
  } catch (err) {
    process.stderr.write(`cannot reach Temporal at ${opts.address}: ${err.message}\n`);
    return 3;
  }
  try {
    const client = new Client({ connection, namespace: opts.namespace });
    let executions;
    try {
      executions = await listExecutions(client, opts.query, opts.limit);
    } catch (err) {
      // A malformed query is the caller's mistake; anything else, the cluster's.
      if ((err.cause?.code ?? err.code) === 3)
        throw new UsageError(`--query ${JSON.stringify(opts.query)}: ${err.details ?? err.message}`);
      process.stderr.write(`cannot list workflows in ${opts.namespace} at ${opts.address}: ${err.message}\n`);
      return 3;
    }
    const open = executions.filter((e) => e.status.name === 'RUNNING').length;
    process.stderr.write(
      `${executions.length} executions (${open} open) match ${opts.query} in ${opts.namespace} at ${opts.address}\n`,
    );
    if (executions.length === 0) {
      process.stdout.write('nothing to replay\n');
      return 0;
    }

    const histories = [];
    for (const info of executions) {
      const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
      histories.push({ info, history });
    }
    if (opts.save) {
      mkdirSync(opts.save, { recursive: true });
      for (const { info, history } of histories) {
        const saved = {
          workflowId: info.workflowId,
          runId: info.runId,
          capturedFrom: `${opts.address}/${opts.namespace}`,
          history: JSON.parse(historyToJSON(history)),
        };
        const name = `${fileSafe(info.workflowId)}.${info.runId.slice(0, 8)}.json`;
        writeFileSync(path.join(opts.save, name), `${JSON.stringify(saved, null, 1)}\n`);
      }
      process.stderr.write(`saved ${histories.length} histories in ${opts.save}\n`);
    }

    // The bundle a worker of this tree runs: the workflows plus the workflow interceptors (OpenTelemetry), whose
    // presence changes how traced runs replay (src/telemetry/workflow-interceptors.ts).
    const { WORKFLOW_INTERCEPTOR_MODULES, workflowSinks } = require(path.join(dist, 'telemetry', 'temporal.js'));
    let workflowBundle;
    if (opts.bundle) {
      workflowBundle = { codePath: path.resolve(opts.bundle) };
      process.stderr.write(`replaying against the bundle ${opts.bundle}\n`);
    } else {
      process.stderr.write('bundling the workflows of this working tree…\n');
      const { code } = await bundleWorkflowCode({
        workflowsPath: path.join(dist, 'workflows', 'index.js'),
        workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
        logger: new DefaultLogger('WARN'),
      });
      workflowBundle = { code };
    }

    const byRun = new Map(histories.map(({ info }) => [info.runId, info]));
    const failures = [];
    let replayed = 0;
    const results = Worker.runReplayHistories(
      { workflowBundle, replayName: 'pre-deploy-replay', sinks: workflowSinks() },
      histories.map(({ info, history }) => ({ workflowId: info.workflowId, history })),
    );
    for await (const result of results) {
      replayed += 1;
      if (!result.error) continue;
      const info = byRun.get(result.runId);
      failures.push({ result, info });
      const firstLine = String(result.error.message).split('\n')[0];
      process.stdout.write(
        `✕ ${result.workflowId} (${info?.type ?? 'unknown type'}, ${info?.status.name ?? '?'}, run ${result.runId}): ` +
          `${result.error.name}: ${firstLine}\n`,
      );
    }

    const openBroken = failures.filter((f) => f.info?.status.name === 'RUNNING').length;
    process.stdout.write(
      `\nreplayed ${replayed} histories: ${replayed - failures.length} ok, ${failures.length} failed` +
        (failures.length ? ` (${openBroken} of them open: the deploy would break them)` : '') +
        '\n',
    );
    return failures.length || replayed !== histories.length ? 1 : 0;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${HELP}`);
      process.exit(2);
    }
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  },
);
