/**
 * Every saved history under test/fixtures/histories (recursively) replays against the current workflow code without
 * nondeterminism: what a deploy must guarantee to the runs asleep in production (docs/versioning.md). The fixtures
 * come from the workflow tests (the files at the top; CAPTURE_HISTORIES=1 npx jest test/workflows/...) and from every
 * end-to-end test (one folder per test file; CAPTURE_HISTORIES=1 npx jest test/e2e/<file>), and several were recorded
 * by older versions of the code. The coverage checks below keep the suite from quietly shrinking.
 */
import { Worker } from '@temporalio/worker';
import { PATCHES } from '../../src/workflows/member-activation';
import { SETTLEMENT_PATCHES } from '../../src/workflows/settlement-batch';
import { loadFixtures, type Fixture } from '../support/histories';
import { workflowSinks } from '../../src/telemetry/temporal';
import { TRACING_PATCH } from '../../src/telemetry/workflow-interceptors';
import { workflowBundle } from '../support/temporal';

const fixtures = loadFixtures();
const outcomes = new Map<string, Error | undefined>();

beforeAll(async () => {
  // One replay worker for all histories; results come back in order, one per history.
  const results = Worker.runReplayHistories(
    { workflowBundle: workflowBundle(), replayName: 'fixtures', sinks: workflowSinks() },
    fixtures.map((f) => ({ workflowId: f.workflowId, history: f.history })),
  );
  let i = 0;
  for await (const result of results) outcomes.set(fixtures[i++].file, result.error);
}, 300_000);

describe('replaying saved histories', () => {
  it.each(fixtures.map((f) => [f.file, f]))('%s replays without nondeterminism', (_file, fixture: Fixture) => {
    expect(outcomes.has(fixture.file)).toBe(true);
    const error = outcomes.get(fixture.file);
    if (error) throw error;
  });
});

describe('the fixtures cover', () => {
  const paths = (type: string) => new Set(fixtures.filter((f) => f.workflowType === type).map((f) => f.path));

  it('every way a member workflow run ends, and runs still open', () => {
    expect([...paths('memberActivation')].sort()).toEqual(
      expect.arrayContaining([
        'BUDGET_EXHAUSTED',
        'CANCELLED',
        'COMPLETED',
        'CONTINUED_AS_NEW',
        'DISQUALIFIED',
        'HOLDOUT_QUALIFIED',
        'MANUAL_REVIEW',
        'NOT_ELIGIBLE',
        'RUNNING',
      ]),
    );
  });

  it('the settlement batch, including one whose worker was killed mid-batch', () => {
    const batches = fixtures.filter((f) => f.workflowType === 'settlementBatch');
    expect(batches.map((f) => f.path)).toContain('COMPLETED');
    expect(batches.some((f) => f.eventTypes.includes('WORKFLOW_TASK_TIMED_OUT'))).toBe(true);
  });

  it.each(Object.values(SETTLEMENT_PATCHES))('both sides of the settlement batch patch %s', (patchId) => {
    const batches = fixtures.filter((f) => f.workflowType === 'settlementBatch');
    expect(batches.filter((f) => f.patches.includes(patchId)).map((f) => f.path)).toContain('FAILED');
    expect(batches.filter((f) => !f.patches.includes(patchId)).length).toBeGreaterThan(0);
  });

  it('the reward retry of a review, issued and failed', () => {
    expect([...paths('rewardRetry')].sort()).toEqual(expect.arrayContaining(['FAILED', 'ISSUED']));
  });

  it('retried activities, signals and updates', () => {
    expect(fixtures.some((f) => f.retried)).toBe(true);
    expect(fixtures.some((f) => f.eventTypes.includes('WORKFLOW_EXECUTION_SIGNALED'))).toBe(true);
    expect(fixtures.some((f) => f.eventTypes.includes('WORKFLOW_EXECUTION_UPDATE_COMPLETED'))).toBe(true);
  });

  it('every end-to-end test file', () => {
    const groups = new Set(fixtures.map((f) => f.file.split('/')[0]));
    expect([...groups]).toEqual(expect.arrayContaining(['e2e-settlement', 'e2e-settlement-crash', 'e2e-stack']));
  });

  // Runs whose start carried a trace (spans exported) run the OpenTelemetry interceptors; the others pass by them.
  it(`traced runs (the ${TRACING_PATCH} patch) of the member and batch workflows, and untraced ones`, () => {
    for (const type of ['memberActivation', 'settlementBatch']) {
      const ofType = fixtures.filter((f) => f.workflowType === type);
      expect(ofType.filter((f) => f.patches.includes(TRACING_PATCH)).length).toBeGreaterThan(0);
      expect(ofType.filter((f) => !f.patches.includes(TRACING_PATCH)).length).toBeGreaterThan(0);
    }
  });

  // Until a patch is removed, both branches must replay: runs recorded before it and runs recorded with it.
  it.each(Object.values(PATCHES))('both sides of the patch %s', (patchId) => {
    const members = fixtures.filter((f) => f.workflowType === 'memberActivation');
    expect(members.filter((f) => f.patches.includes(patchId)).length).toBeGreaterThan(0);
    expect(members.filter((f) => !f.patches.includes(patchId)).length).toBeGreaterThan(0);
  });
});
