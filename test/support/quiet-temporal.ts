/**
 * Runs in every test worker before its test files: keeps the Temporal SDK's logs to warnings and errors, so a
 * failing test's output is readable. The worker logs every state change at INFO otherwise.
 */
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';

try {
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } },
  });
} catch {
  // Already installed in this worker process by an earlier test file.
}
