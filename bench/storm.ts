/**
 * The continue-as-new storm, longer (`npm run bench -- storm`): the storm of test/e2e/storm.test.ts (test/support/
 * storm.ts) at a soak's size, through the whole product in this process (the stack of `npm start` without its worker,
 * and a worker whose PostgreSQL is behind a delay proxy), every member's run continuing as new every few events. What
 * was sent, by kind; the shapes of history the storm went through (continue-as-new transitions: after an
 * UnhandledCommand, right after a marker-only task; heartbeats, failed tasks by cause, timeouts, the longest task);
 * every correctness check (counted = sent, explanation = counted, audit lines once, proofs verified, settlement lines
 * answered once, nothing missing for the reconciliation), and the duration. The point is the shapes with zero losses.
 */
import { runStorm, startStormStack, STORM_TEST_SIZE, type StormReport, type StormSize } from '../test/support/storm';
import { say } from './lib/common';

export interface StormOptions extends StormSize {
  /** Continue-as-new once a run's history passes this many events. */
  historyEventLimit: number;
}

export const STORM_DEFAULTS: StormOptions = {
  members: 150,
  loadsPerMember: 100,
  width: 16,
  troubleAfterMs: 20_000,
  slowDbMs: 300,
  slowForMs: 60_000,
  oneByOne: 30,
  bulk: 60,
  patienceMs: 900_000,
  catchUpMs: 900_000,
  historyEventLimit: 16,
};

export const STORM_QUICK: StormOptions = {
  ...STORM_TEST_SIZE,
  members: 6,
  loadsPerMember: 8,
  width: 6,
  troubleAfterMs: 500,
  slowForMs: 1_000,
  oneByOne: 2,
  bulk: 2,
  patienceMs: 120_000,
  catchUpMs: 120_000,
  historyEventLimit: 16,
};

export type StormResult = StormReport;

export async function measureStorm(o: StormOptions): Promise<StormResult> {
  say(`storm: starting the stack (continue-as-new past ${o.historyEventLimit} events) and a worker behind a proxy…`);
  const storm = await startStormStack({ historyEventLimit: o.historyEventLimit });
  try {
    say(`storm: ${o.members} members × ${o.loadsPerMember} loads, ${o.width} members at a time…`);
    const report = await runStorm(storm, o, 'bench-storm');
    const m = report.messages;
    say(
      `storm: ${m.total} messages in ${report.seconds} s; ${report.shapes.continuedAsNew} continue-as-new ` +
        `(${report.shapes.continuedAfterUnhandledCommand} after UnhandledCommand), ${report.failures.length} failures`,
    );
    for (const f of report.failures.slice(0, 20)) say(`storm: FAILED ${f}`);
    return report;
  } finally {
    await storm.stop();
  }
}
