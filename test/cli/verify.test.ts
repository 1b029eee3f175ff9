/**
 * `verify` as the operator sees it, against a scripted API (the pages are the API's shape; the real API and stack are
 * in test/e2e/proof.test.ts): it walks every page by `next`, counts and names what failed, exits 1 on any failure, and
 * a Ctrl-C mid-walk says how far it got.
 */
import type { ApiClient } from '../../src/cli/client';
import { runCommand, type Io } from '../../src/cli/commands';
import { InterruptedError } from '../../src/cli/errors';
import type { ProofPage } from '../../src/cli/format';

const item = (memberId: string, verified = true, chainIntact = true): ProofPage['items'][number] => ({
  memberId,
  verified,
  state: 'COMPLETED',
  chainIntact,
  ...(verified ? {} : { problem: chainIntact ? 'diverges at line 5 (TRANSITION): x' : 'chain broken at line 2' }),
});

function scripted(pages: ProofPage[], hangOn?: number) {
  const asked: string[] = [];
  const interrupt = new AbortController();
  const client: ApiClient = {
    baseUrl: 'http://api.test',
    async get<T>(path: string): Promise<T> {
      asked.push(path);
      if (asked.length === hangOn) {
        interrupt.abort(); // the operator's Ctrl-C while this request is out
        throw new InterruptedError('interrupted');
      }
      return pages[asked.length - 1] as T;
    },
    postJson: () => Promise.reject(new Error('not used')),
    postCsv: () => Promise.reject(new Error('not used')),
    postJsonLines: () => Promise.reject(new Error('not used')),
    events: () => Promise.reject(new Error('not used')),
  };
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => (out += t),
    err: { write: (t) => (err += t), isTTY: false, now: () => Date.now() },
    signal: interrupt.signal,
  };
  const run = (json = false) =>
    runCommand({ command: { name: 'verify', campaignId: 'c1', pageSize: 2 }, api: client.baseUrl, json }, client, io);
  return { run, asked, out: () => out, err: () => err };
}

it('walks every page, counts the failures by kind and names them; exit 1', async () => {
  const s = scripted([
    { total: 5, items: [item('A'), item('B', false)], next: 'B' },
    { items: [item('C'), item('D', false, false)], next: 'D' },
    { items: [item('E')] },
  ]);
  expect(await s.run()).toBe(1);
  expect(s.asked).toEqual([
    '/v1/campaigns/c1/proofs?limit=2',
    '/v1/campaigns/c1/proofs?limit=2&after=B',
    '/v1/campaigns/c1/proofs?limit=2&after=D',
  ]);
  expect(s.out()).toMatch(/verified\s+3\n\s+divergent\s+1\n\s+broken chains\s+1/);
  expect(s.out()).toMatch(/B\s+COMPLETED\s+diverges at line 5/);
  expect(s.out()).toMatch(/D\s+COMPLETED\s+chain broken at line 2/);
  expect(s.err()).toContain('verifying: 100% 5/5 enrollments');
});

it('exits 0 when every verdict follows, and --json gives the counts', async () => {
  const s = scripted([{ total: 2, items: [item('A'), item('B')] }]);
  expect(await s.run(true)).toBe(0);
  expect(JSON.parse(s.out())).toMatchObject({ checked: 2, verified: 2, divergent: 0, brokenChains: 0, failures: [] });
});

it('a Ctrl-C mid-walk stops with how far it got', async () => {
  const s = scripted([{ total: 6, items: [item('A'), item('B', false)], next: 'B' }], 2);
  await expect(s.run()).rejects.toThrow(
    new InterruptedError('stopped verifying c1 after 2 of 6 enrollments (1 failed so far)'),
  );
});
