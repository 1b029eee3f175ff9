/** `npm run migrate`: applies pending migrations to DATABASE_URL and exits. */
import { loadConfig } from '../config';
import { migrate } from './migrate';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL must be set to run migrations');
  const applied = await migrate(config.DATABASE_URL, (m) => console.log(m));
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
