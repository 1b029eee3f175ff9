/**
 * Workflow bundles derived from the real member workflow with its patch decided one way, to play a deploy through:
 * `before-patch` is the code as it was before the patch (the old branch, always), `unguarded` is the same change
 * shipped without `patched()` (the new branch, always). Both register `memberActivation`, the production type name.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { repoRoot } from '../../src/dev/tools';
import { workflowBundle } from '../support/temporal';

export type Variant = 'before-patch' | 'unguarded';

const PATCH_CALL = 'patched(PATCHES.coalesceSearchAttributeUpserts)';

/** Bundles the variant and returns the bundle's path. */
export async function bundleMemberWorkflow(variant: Variant): Promise<string> {
  const root = repoRoot();
  const source = readFileSync(path.join(root, 'src', 'workflows', 'member-activation.ts'), 'utf8');
  if (!source.includes(PATCH_CALL)) {
    throw new Error(
      `src/workflows/member-activation.ts no longer calls ${PATCH_CALL}: update this test with the patch`,
    );
  }
  const derived = source
    .replaceAll(PATCH_CALL, variant === 'unguarded' ? 'true' : 'false')
    // The copy lives elsewhere; its imports must still reach the real modules.
    .replace(/from '\.\.\//g, `from '${path.join(root, 'src')}/`)
    .replace(/from '\.\//g, `from '${path.join(root, 'src', 'workflows')}/`);
  // Inside the repository (the test run's directory under .test-data), so that webpack finds node_modules.
  const dir = path.join(path.dirname(workflowBundle().codePath), `member-workflow-${variant}`);
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
