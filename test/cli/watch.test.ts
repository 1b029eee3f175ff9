/**
 * `watch` as the operator sees it, against a scripted API (the real stream is in test/e2e/live.test.ts): a line per
 * version; a stream that breaks (the API restarting) is opened again with the last version seen as Last-Event-ID, as
 * an EventSource would, so no version is printed twice; --until-final ends with exit 0 at a final state.
 */
import type { ApiClient, ServerSentEvent } from '../../src/cli/client';
import { runCommand, type Io } from '../../src/cli/commands';
import { UnreachableError } from '../../src/cli/errors';

const view = (state: string, countedCents: number) => ({
  campaignId: 'c1',
  memberId: 'M-1',
  group: 'TREATMENT',
  state,
  enrolledAt: '2026-12-01T00:00:00Z',
  windowEndsAt: '2026-12-31T00:00:00Z',
  evaluatesAt: '2027-01-02T00:00:00Z',
  targetCents: 50_000,
  countedCents,
  instantCents: countedCents,
  settledCents: 0,
  pendingCents: 0,
  remainingCents: Math.max(0, 50_000 - countedCents),
  updatedAt: '2026-12-01T00:00:00Z',
});
const event = (id: number, state: string, counted: number): ServerSentEvent => ({
  id: String(id),
  event: 'member',
  data: JSON.stringify(view(state, counted)),
});

it('opens a broken stream again from the last version seen, and stops at a final state', async () => {
  const asked: (string | undefined)[] = [];
  const streams: ((emit: (e: ServerSentEvent) => void) => void)[] = [
    (emit) => {
      emit(event(0, 'ENROLLED', 0));
      emit(event(2, 'ACTIVE', 30_000));
      throw new UnreachableError('http://api.test', 'ECONNRESET: connection reset');
    },
    (emit) => {
      emit(event(4, 'GOAL_ACHIEVED', 60_000));
      emit(event(9, 'COMPLETED', 60_000));
      emit(event(10, 'COMPLETED', 60_000));
    },
  ];
  const client: ApiClient = {
    baseUrl: 'http://api.test',
    get: () => Promise.reject(new Error('not used')),
    postJson: () => Promise.reject(new Error('not used')),
    postCsv: () => Promise.reject(new Error('not used')),
    postJsonLines: () => Promise.reject(new Error('not used')),
    async events(path, opts, onEvent) {
      expect(path).toBe('/v1/campaigns/c1/members/M-1/events');
      asked.push(opts.lastEventId);
      streams[asked.length - 1](onEvent);
    },
  };
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => (out += t),
    err: { write: (t) => (err += t), isTTY: false, now: () => Date.now() },
    signal: new AbortController().signal,
  };
  const code = await runCommand(
    {
      command: { name: 'watch', campaignId: 'c1', memberId: 'M-1', untilFinal: true },
      api: client.baseUrl,
      json: false,
    },
    client,
    io,
  );
  expect(code).toBe(0);
  expect(asked).toEqual([undefined, '2']);
  expect(err).toBe('the stream of M-1 broke; opening it again in 2 s…\n');
  const lines = out.trim().split('\n');
  expect(lines.map((l) => l.split(/\s+/).slice(1, 4).join(' '))).toEqual([
    'M-1 v0 ENROLLED',
    'M-1 v2 ACTIVE',
    'M-1 v4 GOAL_ACHIEVED',
    'M-1 v9 COMPLETED',
  ]);
  expect(lines[1]).toMatch(/counted A\$300\.00 of A\$500\.00/);
});
