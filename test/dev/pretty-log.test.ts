/** Log lines for a terminal, JSON for everything else. */
import { logFormat } from '../../src/logger';
import { formatLogLine } from '../../src/telemetry/pretty-log';

it('is readable on a terminal and JSON elsewhere, unless LOG_FORMAT says', () => {
  expect(logFormat({}, true)).toBe('pretty');
  expect(logFormat({}, false)).toBe('json');
  expect(logFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
  expect(logFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
});

it('writes a line as time, level, component, message and the other fields', () => {
  const line = formatLogLine(
    JSON.stringify({
      level: 30,
      time: '2026-12-01T21:50:04.892Z',
      service: 'cold-member-activation',
      sdkComponent: 'worker',
      taskQueue: 'member-activation',
      state: 'RUNNING',
      msg: 'Worker state changed',
    }),
    false,
  );
  expect(line).toBe('21:50:04.892 INFO  worker · Worker state changed  taskQueue=member-activation state=RUNNING\n');
});

it('shortens request lines and shows an error with its stack', () => {
  const request = formatLogLine(
    JSON.stringify({
      level: 30,
      time: '2026-12-01T21:50:04.892Z',
      msg: 'request completed',
      req: { method: 'GET', url: '/readyz', headers: {} },
      res: { statusCode: 200, headers: {} },
      responseTime: 3,
    }),
    false,
  );
  expect(request).toBe('21:50:04.892 INFO  GET /readyz → 200 (3 ms)\n');
  const failure = formatLogLine(
    JSON.stringify({
      level: 50,
      time: '2026-12-01T21:50:04.892Z',
      msg: 'request failed',
      err: { message: 'boom', stack: 'Error: boom\n    at x' },
    }),
    true,
  );
  expect(failure).toContain('\x1b[31mERROR\x1b[0m request failed\n    Error: boom\n        at x\n');
});

it('passes a line that is not JSON through', () => {
  expect(formatLogLine('plain text', false)).toBe('plain text\n');
});
