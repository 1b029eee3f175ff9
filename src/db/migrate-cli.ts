/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL, then creates the default campaign (CAMPAIGN_*) when
 * it is absent, as `npm start` does at boot, and exits. Terms are immutable: an existing campaign with other terms is
 * kept and reported, never changed.
 */
import { defaultCampaignTerms, loadConfig } from '../config';
import { putCampaign } from './campaigns';
import { migrate } from './migrate';
import { createPool } from './pool';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL must be set to run migrations');
  const applied = await migrate(config.DATABASE_URL, (m) => console.log(m));
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');

  const db = createPool(config.DATABASE_URL, 1);
  try {
    const { outcome, campaign } = await putCampaign(db, defaultCampaignTerms(config));
    console.log(
      outcome === 'CONFLICT'
        ? `campaign ${campaign.campaignId} exists with other terms (immutable), kept: ${JSON.stringify(campaign)}`
        : `campaign ${campaign.campaignId}: ${outcome === 'CREATED' ? 'created' : 'already present'}`,
    );
  } finally {
    await db.end();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
