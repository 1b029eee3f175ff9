#!/usr/bin/env node
/**
 * `npm test`: runs Jest with its usual terminal output, then prints the failing tests and one plain summary line
 * (`42 passed, 0 failed[, 3 skipped]`) that CI logs and people can grep. Exits non-zero when Jest failed, a test
 * failed, a test file could not run, or no test ran at all. Extra arguments go to Jest.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const jest = path.join(root, 'node_modules', '.bin', 'jest');
const outDir = mkdtempSync(path.join(tmpdir(), 'jest-results-'));
const outputFile = path.join(outDir, 'results.json');

const child = spawn(jest, ['--runInBand=false', '--json', `--outputFile=${outputFile}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
// Ctrl-C reaches Jest through the terminal's process group; a SIGTERM sent only to us must be passed on.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));

const { code, signal } = await new Promise((resolve) =>
  child.on('exit', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal })),
);

let results;
try {
  results = JSON.parse(readFileSync(outputFile, 'utf8'));
} catch {
  results = undefined;
} finally {
  rmSync(outDir, { recursive: true, force: true });
}

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of results?.testResults ?? []) {
  const rel = path.relative(root, file.name);
  const tests = file.assertionResults ?? [];
  for (const test of tests) {
    if (test.status === 'passed') passed += 1;
    else if (test.status === 'failed') {
      failed += 1;
      failures.push(`${rel} › ${test.fullName}`);
    } else skipped += 1; // pending, skipped, todo, disabled
  }
  // A file that failed to load or whose hooks threw reports no failed test; count it so it cannot go unnoticed.
  if (file.status === 'failed' && !tests.some((t) => t.status === 'failed')) {
    failed += 1;
    failures.push(`${rel} (test file failed: ${firstLine(file.message)})`);
  }
}

if (failures.length > 0) {
  process.stdout.write('\nFailed:\n');
  for (const failure of failures) process.stdout.write(`  ✕ ${failure}\n`);
}
if (!results) {
  process.stdout.write(`\njest ${signal ? `was killed by ${signal}` : `exited with code ${code}`} without results\n`);
}
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);

const ok = code === 0 && results !== undefined && failed === 0 && passed > 0;
process.exit(ok ? 0 : code || 1);

function firstLine(message) {
  // Strip the terminal colours Jest puts into messages.
  const plain = (message ?? '').replace(/\x1b\[[0-9;]*m/g, '');
  const line = plain.split('\n').find((l) => l.trim() && !l.includes('●'));
  return (line ?? 'no message').trim().slice(0, 200);
}
