/**
 * `npm start`: runs the whole product on embedded defaults and prints where to find it. Ctrl-C or SIGTERM
 * stops everything (the worker drains first) and exits 0.
 */
import { ConfigError, defaultCampaignTerms, loadConfig } from '../config';
import { startStack, type Stack } from './stack';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const config = loadConfig();
  // Signals may arrive while the stack is still starting; the handler stops whatever is up by then.
  const running: { stack?: Stack } = {};
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping (the worker drains in-flight tasks first)…`);
    try {
      await running.stack?.stop();
      say('stopped.');
      process.exit(0);
    } catch (err) {
      say(err instanceof Error ? err.message : String(err));
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  const stack = (running.stack = await startStack(config, { say }));
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
  await stack.workerDone;
  if (!stopping) {
    say('the worker stopped unexpectedly; shutting down');
    await stack.stop().catch(() => undefined);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `could not start: ${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
