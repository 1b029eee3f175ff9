/**
 * What global setup started, for global teardown. Jest runs both in its parent process and documents that globals set
 * in one are visible in the other; a test worker never sees this.
 */
export interface TestRun {
  /** `.test-data/run-<pid>-*`: PostgreSQL's data directory and the workflow bundle. */
  dir: string;
  stopPostgres?: () => Promise<void>;
}

const KEY = '__coldMemberActivationTestRun';

export function setTestRun(run: TestRun): void {
  (globalThis as Record<string, unknown>)[KEY] = run;
}

export function takeTestRun(): TestRun | undefined {
  const g = globalThis as Record<string, unknown>;
  const run = g[KEY] as TestRun | undefined;
  delete g[KEY];
  return run;
}
