/**
 * Every saved history under test/fixtures/histories replays against the current workflow code without
 * nondeterminism. The fixtures come from the workflow tests (CAPTURE_HISTORIES=1 npm run jest -- test/workflows)
 * and cover every path: reward, disqualification, not eligible, cancel, continue-as-new, manual review.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from './harness';
import { workflowBundle } from '../support/temporal';

const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

describe('replaying saved histories', () => {
  it('has fixtures to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const saved = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as {
      workflowId: string;
      history: unknown;
    };
    await Worker.runReplayHistory(
      { workflowBundle: workflowBundle(), replayName: file },
      historyFromJSON(saved.history),
      saved.workflowId,
    );
  });
});
