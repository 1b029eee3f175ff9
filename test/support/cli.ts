/** The built CLI (`node dist/src/cli/main.js`) run as an operator runs it: a child process with API_URL set. */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';

export const root = path.resolve(__dirname, '..', '..');
const cliPath = path.join(root, 'dist', 'src', 'cli', 'main.js');
/** A CLI run that takes longer than this is hung: kill it and say so, rather than wait for Jest's timeout. */
const CLI_TIMEOUT_MS = 60_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Compiles what operators run. */
export function buildCli(): void {
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'pipe',
  });
}

/** Runs the CLI with API_URL pointing at `apiUrl()` (so the environment default is exercised too). */
export function runCli(apiUrl: () => string, args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: root,
      env: { ...process.env, API_URL: apiUrl() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} did not finish within ${CLI_TIMEOUT_MS} ms\n${stdout}\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
