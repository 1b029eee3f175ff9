/**
 * `npm start`: runs the whole product on embedded defaults and prints where to find it.
 *
 * Stopping: SIGINT, SIGTERM or SIGHUP, any number of them, to us alone or to the whole process group, stops
 * everything and exits 0. A terminal's Ctrl-C reaches npm and us together and npm passes it on again, so signals
 * within a second of the first are the same request; one later than that (a second Ctrl-C) cuts the worker's drain
 * short, never the servers' shutdown. A signal during start-up stops what is up by then.
 */
import { defaultCampaignTerms, loadConfig } from '../config';
import { startStack, type Stack } from './stack';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Signals closer together than this are one request to stop (the terminal's and npm's copy of one Ctrl-C). */
const SAME_REQUEST_MS = 1_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const starting = new AbortController();
  const hurry = new AbortController();
  const running: { stack?: Stack } = {};
  let stopping: { signal: string; at: number } | undefined;

  const finish = async (code: number, stack: Stack | undefined) => {
    try {
      await stack?.stop({ hurry: hurry.signal });
      say(code === 0 ? 'stopped.' : 'stopped after a failure.');
    } catch (err) {
      say(err instanceof Error ? err.message : String(err));
      code = 1;
    }
    process.exit(code);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      stopping = { signal, at: Date.now() };
      say(`\n${signal}: stopping (the worker drains in-flight tasks first; Ctrl-C again to skip the drain)…`);
      starting.abort(new Error(`${signal} during start-up`));
      // Still starting: startStack stops what it has started and rejects; main() finishes then.
      if (running.stack) void finish(0, running.stack);
      return;
    }
    if (Date.now() - stopping.at < SAME_REQUEST_MS || hurry.signal.aborted) return;
    say(`${signal} again: not waiting for the worker's drain; stopping the servers…`);
    hurry.abort();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  let stack: Stack;
  try {
    stack = running.stack = await startStack(config, { say, signal: starting.signal });
  } catch (err) {
    if (stopping) {
      say('stopped.');
      process.exit(0);
    }
    throw err;
  }
  if (stopping) return; // a signal came in the last step of start-up: finish() runs

  const campaign = defaultCampaignTerms(config);
  say('');
  say('cold member activation is running');
  say(`  API               ${stack.apiUrl}  (OpenAPI: ${stack.apiUrl}/openapi.json)`);
  say(`  Temporal Web UI   ${stack.uiUrl ?? `(external Temporal at ${stack.temporalAddress}: use its own UI)`}`);
  say(`  points ledger     ${stack.pointsApiUrl}/v1/credits`);
  say(
    `  default campaign  ${campaign.campaignId}: target A$${(campaign.targetCents / 100).toFixed(2)}, ` +
      `${campaign.rewardPoints} points, window ${campaign.window}, grace ${campaign.grace}`,
  );
  say(`  data              ${stack.dataDir}`);
  say('Ctrl-C stops everything.');

  const trouble = await Promise.race([
    stack.workerDone.then(() => 'the worker stopped unexpectedly'),
    stack.failed.then((err) => err.message),
  ]);
  if (stopping) return;
  stopping = { signal: 'failure', at: Date.now() };
  process.stderr.write(`${trouble}; stopping everything\n`);
  await finish(1, stack);
}

main().catch((err: unknown) => {
  // The message says what to do (a port in use, another run on DATA_DIR, a bad setting); a trace would bury it.
  process.stderr.write(`could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
