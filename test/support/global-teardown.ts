/** Stops what global setup started and deletes the run's data; KEEP_TEST_DATA=1 keeps the directory to inspect. */
import { rmSync } from 'node:fs';
import { takeTestRun } from './test-run';

export default async function globalTeardown(): Promise<void> {
  const run = takeTestRun();
  if (!run) return;
  await run.stopPostgres?.();
  if (process.env.KEEP_TEST_DATA) {
    process.stderr.write(`test data kept in ${run.dir}\n`);
    return;
  }
  rmSync(run.dir, { recursive: true, force: true });
}
