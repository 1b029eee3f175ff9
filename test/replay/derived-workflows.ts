/**
 * Workflow bundles derived from the real member workflow with its patches decided one way, to play a deploy through:
 * `before-patch` is the code as it was before every patch (the old branches, always), `unguarded` is the first patch's
 * change (`coalesce-search-attribute-upserts`) shipped without `patched()` (its new branch, always; the later patches'
 * old branches). Both register `memberActivation`, the production type name.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { repoRoot } from '../../src/dev/tools';
import { workflowBundle } from '../support/temporal';

/**
 * - `before-patch`: the code before every patch (all old branches);
 * - `unguarded`: the coalesce change shipped without `patched()` (its new branch always, later patches' old ones);
 * - `before-lean-recording`: the code between the two deploys (coalesce guarded as shipped, lean recording off);
 * - `before-moving-deadlines`: the code before operators could move deadlines (it refuses the change);
 * - `before-safe-seams`: the code before the safe seams (records versioned by the audit sequence, fast records retried
 *   for a minute inside their workflow task, continue-as-new without its timer);
 * - `current`: the code as it is, bundled the same way (to compare with a variant on equal terms).
 */
export type Variant =
  'before-patch' | 'unguarded' | 'before-lean-recording' | 'before-moving-deadlines' | 'before-safe-seams' | 'current';

const PATCH_CALL = 'patched(PATCHES.coalesceSearchAttributeUpserts)';
const LEAN_CALL = 'patched(PATCHES.leanRecording)';
const MOVING_CALL = 'patched(PATCHES.movingDeadlines)';
const SAFE_CALL = 'patched(PATCHES.safeSeams)';

/**
 * Bundles the variant and returns the bundle's path. `under`: the directory to bundle in (by default the test run's,
 * under .test-data); it must be inside the repository, so that webpack finds node_modules.
 */
export async function bundleMemberWorkflow(
  variant: Variant,
  under = path.dirname(workflowBundle().codePath),
): Promise<string> {
  const root = repoRoot();
  const source = readFileSync(path.join(root, 'src', 'workflows', 'member-activation.ts'), 'utf8');
  if (![PATCH_CALL, LEAN_CALL, MOVING_CALL, SAFE_CALL].every((call) => source.includes(call))) {
    throw new Error(
      `src/workflows/member-activation.ts no longer calls ${PATCH_CALL}, ${LEAN_CALL}, ${MOVING_CALL} and ${SAFE_CALL}: update this test`,
    );
  }
  const decided =
    variant === 'current'
      ? source
      : variant === 'before-lean-recording'
        ? source.replaceAll(LEAN_CALL, 'false')
        : variant === 'before-moving-deadlines'
          ? source.replaceAll(MOVING_CALL, 'false')
          : variant === 'before-safe-seams'
            ? source.replaceAll(SAFE_CALL, 'false')
            : source
                .replaceAll(PATCH_CALL, variant === 'unguarded' ? 'true' : 'false')
                .replace(/patched\(PATCHES\.[A-Za-z]+\)/g, 'false');
  const derived = decided
    // The copy lives elsewhere; its imports must still reach the real modules.
    .replace(/from '\.\.\//g, `from '${path.join(root, 'src')}/`)
    .replace(/from '\.\//g, `from '${path.join(root, 'src', 'workflows')}/`);
  const dir = path.join(under, `member-workflow-${variant}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'member-activation.ts'), derived);
  writeFileSync(path.join(dir, 'index.ts'), "export { memberActivation } from './member-activation';\n");
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(dir, 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const codePath = path.join(dir, 'bundle.js');
  writeFileSync(codePath, code);
  return codePath;
}
