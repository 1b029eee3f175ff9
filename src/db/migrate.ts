/** Versioned schema migrations (node-pg-migrate, plain SQL files under `migrations/`). */
import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { repoRoot } from '../dev/tools';

export const MIGRATIONS_DIR = path.join(repoRoot(), 'migrations');

/** Applies every pending migration; safe to run from several processes at once (advisory lock). */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: 'pgmigrations',
    direction: 'up',
    count: Infinity,
    checkOrder: true,
    singleTransaction: true,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
    verbose: false,
  });
  return applied.map((m) => m.name);
}
