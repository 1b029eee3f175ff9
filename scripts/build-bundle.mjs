// Prebuilds the workflow bundle (dist/workflow-bundle.js): workers given WORKFLOW_BUNDLE start in a second
// instead of running webpack at every start, and production images ship exactly the code that was replayed.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The same workflow interceptors (OpenTelemetry) as a worker that bundles at start: see src/telemetry/temporal.ts.
const { WORKFLOW_INTERCEPTOR_MODULES } = createRequire(import.meta.url)(
  path.join(root, 'dist', 'src', 'telemetry', 'temporal.js'),
);
const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(root, 'dist', 'src', 'workflows', 'index.js'),
  workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
  logger: new DefaultLogger('WARN'),
});
mkdirSync(path.join(root, 'dist'), { recursive: true });
const out = path.join(root, 'dist', 'workflow-bundle.js');
writeFileSync(out, code);
console.error(`workflow bundle: ${path.relative(root, out)} (${(code.length / 1024).toFixed(0)} KiB)`);
