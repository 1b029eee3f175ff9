/**
 * The member workflow's durable deadlines: a named timer per deadline (the Web UI shows "Window ends at …", "Grace
 * period ends, verdict at …"), which moves when an operator moves the deadline (the timer is cancelled and a new one
 * started), and which gives way to a verdict or a continue-as-new.
 */
import { CancellationScope, condition, sleep } from '@temporalio/workflow';
import { deadlineSummary } from '../domain/describe';

export interface DeadlineWaiterOptions {
  /** The enrollment has its verdict: stop waiting. */
  decided(): boolean;
  continueAsNewDue(): boolean;
  continueAsNewNow(): Promise<never>;
}

export type WaitOutcome = 'DEADLINE' | 'DECIDED';

export function deadlineWaiter(o: DeadlineWaiterOptions) {
  /** Sleeps durably until `deadline()` (read again whenever it may have moved); `name` names the timer. */
  return async (deadline: () => string, name: string): Promise<WaitOutcome> => {
    for (;;) {
      const at = deadline();
      let due = false;
      const timer = new CancellationScope();
      const ms = Date.parse(at) - Date.now();
      if (ms > 0) {
        timer
          .run(() => sleep(ms, { summary: deadlineSummary(name, at) }))
          .then(
            () => (due = true),
            () => undefined,
          );
      } else {
        due = true;
      }
      for (;;) {
        await condition(() => due || o.decided() || deadline() !== at || o.continueAsNewDue());
        if (o.decided()) return 'DECIDED';
        if (deadline() !== at) break;
        if (due) return 'DEADLINE';
        await o.continueAsNewNow();
      }
      // The deadline moved (later: the rules allow nothing else): a new timer for the new time.
      timer.cancel();
    }
  };
}
