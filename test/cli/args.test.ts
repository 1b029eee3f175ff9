/** The CLI's command line: every usage rule, without a server. */
import { DEFAULT_API_URL, parseCommandLine, type ParseResult } from '../../src/cli/args';

const run = (argv: string[], env: Record<string, string> = {}) => {
  const result = parseCommandLine(argv, env);
  if (result.kind !== 'run') throw new Error(`expected a command, got ${JSON.stringify(result)}`);
  return result.invocation;
};

const usageError = (argv: string[]): Extract<ParseResult, { kind: 'usage-error' }> => {
  const result = parseCommandLine(argv, {});
  if (result.kind !== 'usage-error') throw new Error(`expected a usage error, got ${JSON.stringify(result)}`);
  return result;
};

describe('parseCommandLine', () => {
  it('reads each command with its arguments and options', () => {
    expect(run(['settle', 'f.csv']).command).toEqual({ name: 'settle', file: 'f.csv', wait: true });
    expect(run(['settle', 'f.csv', '--idempotency-key', 'nightly-1', '--no-wait']).command).toEqual({
      name: 'settle',
      file: 'f.csv',
      idempotencyKey: 'nightly-1',
      wait: false,
    });
    expect(run(['batch', 'b-1', '--wait']).command).toEqual({ name: 'batch', batchId: 'b-1', wait: true });
    expect(run(['status', 'demo', 'M-1']).command).toEqual({ name: 'status', campaignId: 'demo', memberId: 'M-1' });
    expect(run(['reviews']).command).toEqual({ name: 'reviews' });
    expect(run(['reviews', '--state', 'open']).command).toEqual({ name: 'reviews', state: 'OPEN' });
    expect(run(['resolve', 'rv-1', 'dismiss', '--note', 'checked by hand']).command).toEqual({
      name: 'resolve',
      reviewId: 'rv-1',
      action: 'DISMISS',
      note: 'checked by hand',
    });
    expect(run(['report', 'demo']).command).toEqual({ name: 'report', campaignId: 'demo' });
  });

  it('takes global options before or after the command', () => {
    expect(run(['--api', 'http://api:8080/', '--json', 'report', 'demo'])).toEqual({
      command: { name: 'report', campaignId: 'demo' },
      api: 'http://api:8080',
      json: true,
    });
    expect(run(['report', 'demo', '--api=https://x.example/base', '--json'])).toMatchObject({
      api: 'https://x.example/base',
      json: true,
    });
  });

  it('finds the API in --api, else API_URL, else localhost:3000', () => {
    expect(run(['report', 'demo']).api).toBe(DEFAULT_API_URL);
    expect(run(['report', 'demo'], { API_URL: 'http://env:1234' }).api).toBe('http://env:1234');
    expect(run(['report', 'demo', '--api', 'http://flag:1'], { API_URL: 'http://env:1234' }).api).toBe('http://flag:1');
    expect(run(['report', 'demo'], { API_URL: '' }).api).toBe(DEFAULT_API_URL);
  });

  it('answers help globally, per command, and through `help <command>`', () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const result = parseCommandLine(argv, {});
      expect(result.kind).toBe('help');
      if (result.kind === 'help') {
        for (const command of ['settle', 'batch', 'status', 'reviews', 'resolve', 'report']) {
          expect(result.text).toContain(`  ${command} `);
        }
        expect(result.text).toContain('--api URL');
        expect(result.text).toContain('3  cannot reach the API');
      }
    }
    for (const argv of [
      ['settle', '--help'],
      ['settle', '-h'],
      ['help', 'settle'],
      ['-h', 'settle'],
    ]) {
      const result = parseCommandLine(argv, {});
      expect(result).toMatchObject({ kind: 'help', text: expect.stringContaining('--idempotency-key K') });
    }
    // Help wins over missing arguments: `status --help` must not complain about <campaignId>.
    expect(parseCommandLine(['status', '--help'], {})).toMatchObject({
      kind: 'help',
      text: expect.stringContaining('status <campaignId> <memberId>'),
    });
  });

  it('calls a missing or unknown command a usage error, with the global usage', () => {
    expect(usageError([])).toMatchObject({ message: 'missing command', usage: expect.stringContaining('Commands:') });
    expect(usageError(['settel', 'f.csv'])).toMatchObject({ message: 'unknown command "settel"' });
    expect(usageError(['help', 'nope']).message).toBe('unknown command "nope"');
  });

  it('calls unknown options, options of another command and misplaced values usage errors', () => {
    expect(usageError(['report', 'demo', '--verbose']).message).toMatch(/Unknown option '--verbose'/);
    expect(usageError(['reviews', '--note', 'x'])).toMatchObject({
      message: 'option --note does not apply to "reviews"',
      usage: expect.stringContaining('reviews [--state OPEN|RESOLVED]'),
    });
    expect(usageError(['report', 'demo', '--api']).message).toMatch(/--api <value>' argument missing/);
    expect(usageError(['report', 'demo', '--api', '--json']).message).toMatch(/ambiguous/);
  });

  it('calls missing and extra arguments usage errors, with the command usage', () => {
    expect(usageError(['status', 'demo'])).toMatchObject({
      message: 'missing <memberId>',
      usage: expect.stringContaining('Usage: npm run cli -- status <campaignId> <memberId>'),
    });
    expect(usageError(['settle']).message).toBe('missing <file.csv>');
    expect(usageError(['report', 'demo', 'extra']).message).toBe('unexpected argument "extra"');
  });

  it('checks enums and the required note before calling the API', () => {
    expect(usageError(['reviews', '--state', 'CLOSED']).message).toBe('--state must be OPEN or RESOLVED, not "CLOSED"');
    expect(usageError(['resolve', 'rv-1', 'APPROVE', '--note', 'x']).message).toBe(
      'the action must be RETRY_REWARD or DISMISS, not "APPROVE"',
    );
    expect(usageError(['resolve', 'rv-1', 'DISMISS']).message).toBe('missing --note "...": say why');
    expect(usageError(['resolve', 'rv-1', 'DISMISS', '--note', '  ']).message).toBe('missing --note "...": say why');
  });

  it('reads a deadline change, with the caller from --caller, else $USER', () => {
    expect(
      run(['schedule', 'demo', 'M-1', '--extend-window', 'P7D', '--reason', 'outage', '--caller', 'ops-a'], {
        USER: 'root',
      }).command,
    ).toEqual({
      name: 'schedule',
      campaignId: 'demo',
      memberId: 'M-1',
      extendWindowBy: 'P7D',
      reason: 'outage',
      callerId: 'ops-a',
    });
    expect(
      run(['schedule', 'demo', 'M-1', '--extend-grace', 'PT12H', '--reason', 'late file'], { USER: 'bob' }).command,
    ).toMatchObject({ extendGraceBy: 'PT12H', callerId: 'bob' });
    expect(
      run(['schedule', 'demo', 'M-1', '--extend-grace', 'P1D', '--reason', 'r', '--key', 'k-1'], {}).command,
    ).toMatchObject({ idempotencyKey: 'k-1' });
    expect(usageError(['schedule', 'demo', 'M-1', '--reason', 'x']).message).toBe(
      'give --extend-window D, --extend-grace D or both',
    );
    expect(usageError(['schedule', 'demo', 'M-1', '--extend-grace', 'P1D']).message).toBe(
      'missing --reason "...": say why',
    );
  });

  it('reads a bulk operation with its selection, and checks it before calling the API', () => {
    expect(
      run(
        [
          'operate',
          'demo',
          'extend_schedule',
          '--state',
          'active,enrolled',
          '--counted-below',
          '50000',
          '--evaluates-before',
          '2027-01-01T00:00:00Z',
          '--extend-window',
          'P2D',
          '--reason',
          'outage',
          '--dry-run',
        ],
        { USER: 'ops' },
      ).command,
    ).toEqual({
      name: 'operate',
      request: {
        campaignId: 'demo',
        select: { states: ['ACTIVE', 'ENROLLED'], countedBelow: 50_000, evaluatesBefore: '2027-01-01T00:00:00Z' },
        action: 'EXTEND_SCHEDULE',
        args: { extendWindowBy: 'P2D' },
        reason: 'outage',
        dryRun: true,
      },
      wait: true,
      callerId: 'ops',
    });
    expect(run(['operate', 'demo', 'CANCEL', '--member', 'M-1,M-2', '--reason', 'fraud', '--no-wait']).command).toEqual(
      {
        name: 'operate',
        request: {
          campaignId: 'demo',
          select: { memberIds: ['M-1', 'M-2'] },
          action: 'CANCEL',
          args: {},
          reason: 'fraud',
        },
        wait: false,
      },
    );
    expect(usageError(['operate', 'demo', 'PAUSE', '--reason', 'x']).message).toMatch(/must be EXTEND_SCHEDULE/);
    expect(usageError(['operate', 'demo', 'CANCEL', '--extend-grace', 'P1D', '--reason', 'x']).message).toBe(
      'CANCEL takes no --extend-window or --extend-grace',
    );
    expect(usageError(['operate', 'demo', 'CANCEL', '--counted-below', 'A$5', '--reason', 'x']).message).toBe(
      '--counted-below must be a whole number of cents, not "A$5"',
    );
    expect(run(['operation', 'op-1', '--wait']).command).toEqual({
      name: 'operation',
      operationId: 'op-1',
      wait: true,
    });
  });

  it('refuses an API URL that is not http(s)', () => {
    expect(usageError(['report', 'demo', '--api', 'localhost:3000']).message).toMatch(/must be an http/);
    expect(usageError(['report', 'demo', '--api', 'ftp://host']).message).toMatch(/must be an http/);
  });
});
