/**
 * Databases for tests. All test files share the one PostgreSQL server of the run (see global-setup.ts); each file
 * creates its own database on it, so files running in parallel never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The run's PostgreSQL server, as a URL to its administrative database. */
export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url)
    throw new Error('TEST_DATABASE_URL is not set: run tests through Jest, whose global setup starts PostgreSQL');
  return url;
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, disconnecting whoever is still connected. */
  drop(): Promise<void>;
}

/** A fresh, empty database; `name` (default `test`) only makes it recognisable, a random suffix makes it unique. */
export async function createTestDatabase(name = 'test'): Promise<TestDatabase> {
  const base = testDatabaseUrl();
  // PostgreSQL truncates identifiers at 63 bytes; keep the random part intact.
  const prefix = name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, 40);
  const dbName = `t_${prefix}_${randomBytes(6).toString('hex')}`;
  await admin(base, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(dbName)}`));
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  let dropped: Promise<void> | undefined;
  return {
    name: dbName,
    url: url.toString(),
    drop: () =>
      (dropped ??= admin(base, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(dbName)} WITH (FORCE)`);
      })),
  };
}

async function admin(url: string, fn: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Runs `sql` as a superuser can, past every trigger (`session_replication_role = replica`): the append-only guard and
 * the hash chain's. How the tests tamper with an audit trail the way only an intruder with the keys could.
 */
export async function behindTheTriggers(
  db: { connect(): Promise<{ query(sql: string, params?: unknown[]): Promise<unknown>; release(): void }> },
  sql: string,
  params: unknown[],
): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query(sql, params);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}
