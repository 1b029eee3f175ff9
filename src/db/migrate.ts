/** Versioned schema migrations (node-pg-migrate, plain SQL files under `migrations/`). */
import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { Client } from 'pg';
import { repoRoot } from '../platform';

export const MIGRATIONS_DIR = path.join(repoRoot(), 'migrations');

/** node-pg-migrate's own advisory lock key: its CLI, run by hand, and this function exclude each other. */
export const MIGRATION_LOCK_KEY = '7241865325823964';

/**
 * Applies every pending migration. Several processes may run it at once (each Kubernetes pod migrates in its init
 * container): they queue on the advisory lock, and those after the first find nothing left to do. node-pg-migrate
 * alone only tries its lock and fails when someone holds it.
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'cold-member-activation-migrate' });
  await client.connect();
  try {
    // Session-level: released when the connection closes, even if this process dies mid-migration.
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      MIGRATION_LOCK_KEY,
    ]);
    if (!rows[0]?.locked) {
      log('another migration run holds the lock: waiting for it');
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    const applied = await runner({
      dbClient: client,
      noLock: true,
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
  } finally {
    await client.end();
  }
}
