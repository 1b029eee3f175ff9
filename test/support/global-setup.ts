/**
 * Runs once, in Jest's parent process, before any test file: starts one embedded PostgreSQL for the whole run
 * (unless DATABASE_URL points at a server) and bundles the workflow code once, so each test file neither waits for
 * a database nor for webpack. Both are handed to the test workers through environment variables, which the workers
 * inherit because they are forked after this runs.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { startEmbeddedPostgres } from '../../src/dev/postgres';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/telemetry/temporal';
import { isProcessAlive, readPidFile } from '../../src/dev/processes';
import { delay, findFreePort, repoRoot } from '../../src/dev/tools';
import { setTestRun, type TestRun } from './test-run';

export default async function globalSetup(): Promise<void> {
  const base = path.join(repoRoot(), '.test-data');
  mkdirSync(base, { recursive: true });
  await removeAbandonedRuns(base);
  // Named after our pid so a later run can tell whether this one is still alive.
  const dir = mkdtempSync(path.join(base, `run-${process.pid}-`));
  // mkdtemp makes it 0700; as root, PostgreSQL runs as the OS user postgres and must be able to enter it.
  chmodSync(dir, 0o755);
  const run: TestRun = { dir };
  setTestRun(run);

  const startDatabase = async () => {
    if (process.env.DATABASE_URL) {
      process.env.TEST_DATABASE_URL = process.env.DATABASE_URL;
      return;
    }
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'postgres'),
      port: await findFreePort(),
      database: 'test_admin',
    });
    run.stopPostgres = pg.stop;
    process.env.TEST_DATABASE_URL = pg.url;
  };

  const bundle = async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(repoRoot(), 'src', 'workflows'),
      // As in production (scripts/build-bundle.mjs): traced runs in saved histories replay only with them.
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: new DefaultLogger('WARN'),
    });
    const codePath = path.join(dir, 'workflow-bundle.js');
    writeFileSync(codePath, code);
    process.env.TEST_WORKFLOW_BUNDLE = codePath;
  };

  const results = await Promise.allSettled([startDatabase(), bundle()]);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await run.stopPostgres?.().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw failure.reason;
  }
}

/**
 * A run killed before its teardown (Ctrl-C, SIGKILL) leaves its directory and possibly its PostgreSQL behind: the
 * server runs in its own process group, so it does not die with Jest. Stop such servers and delete their data.
 */
async function removeAbandonedRuns(base: string): Promise<void> {
  for (const name of readdirSync(base)) {
    const match = /^run-(\d+)-/.exec(name);
    if (!match || isProcessAlive(Number(match[1]))) continue;
    const dir = path.join(base, name);
    const postmaster = readPidFile(path.join(dir, 'postgres', 'postmaster.pid'));
    if (postmaster !== undefined && isProcessAlive(postmaster)) {
      process.kill(postmaster, 'SIGINT');
      for (let i = 0; i < 100 && isProcessAlive(postmaster); i++) await delay(100);
      if (isProcessAlive(postmaster)) process.kill(postmaster, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
