/**
 * A continue-as-new storm through the real product: the API, the settlement batch, a bulk operation and a worker whose
 * PostgreSQL is slowed for part of the time, with every member's run continuing as new every few events. Real-time
 * loads (some posted twice), two settlement files (settlements, delayed loads, returns), deadline changes one by one
 * and in bulk, and at the end every member opts out. Then, for every member: the counted amount is the sum of what
 * counts, each piece of news is in the audit trail once, the explanation's counted items add up to the counted amount,
 * and the verdict proves itself; every settlement line was answered once and the reconciliation finds nothing missing.
 * The shapes of history the storm went through are printed (STORM_SHAPES_FILE writes them as JSON). The storm itself
 * is test/support/storm.ts.
 *
 * STORM_MEMBERS / STORM_LOADS scale it (the bench's soak: bench/storm.ts, `npm run bench -- storm`).
 */
import { writeFileSync } from 'node:fs';
import { runStorm, startStormStack, STORM_TEST_SIZE, type StormStack } from '../support/storm';

jest.setTimeout(600_000);

const MEMBERS = Number(process.env.STORM_MEMBERS ?? STORM_TEST_SIZE.members);
const LOADS = Number(process.env.STORM_LOADS ?? STORM_TEST_SIZE.loadsPerMember);
/** Continue-as-new once a run's history passes this many events (the server would suggest it at 4,096). */
const HISTORY_LIMIT = 16;

let storm: StormStack;

beforeAll(async () => {
  storm = await startStormStack({
    historyEventLimit: HISTORY_LIMIT,
    workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE!,
  });
});
afterAll(async () => {
  await storm?.stop();
});

it('thousands of messages around continue-as-new: every load once, every answer once, every line once', async () => {
  const report = await runStorm(storm, { ...STORM_TEST_SIZE, members: MEMBERS, loadsPerMember: LOADS });
  console.log(JSON.stringify(report));
  if (process.env.STORM_SHAPES_FILE) writeFileSync(process.env.STORM_SHAPES_FILE, JSON.stringify(report, null, 2));
  expect(report.failures).toEqual([]);
  expect(report.checks).toMatchObject({
    countedAsSent: MEMBERS,
    explanationAddsUp: MEMBERS,
    auditLinesOnce: MEMBERS,
    continuedAsNew: MEMBERS,
    proofsVerified: MEMBERS,
    reconcile: { missing: 0 },
  });
  expect(report.checks.settlementLines.records).toBe(
    report.checks.settlementLines.applied + report.checks.settlementLines.duplicates,
  );
  // Every member continued as new at least once (checked above); some hand-overs were retried after UnhandledCommand.
  expect(report.shapes.continuedAsNew).toBeGreaterThan(MEMBERS);
});
