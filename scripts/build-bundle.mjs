// Prebuilds the workflow bundle (dist/workflow-bundle.js): workers given WORKFLOW_BUNDLE start in a second
// instead of running webpack at every start, and production images ship exactly the code that was replayed.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(root, 'dist', 'src', 'workflows', 'index.js'),
  logger: new DefaultLogger('WARN'),
});
mkdirSync(path.join(root, 'dist'), { recursive: true });
const out = path.join(root, 'dist', 'workflow-bundle.js');
writeFileSync(out, code);
console.error(`workflow bundle: ${path.relative(root, out)} (${(code.length / 1024).toFixed(0)} KiB)`);
