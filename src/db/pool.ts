import { Pool, types, type PoolClient } from 'pg';

// bigint columns hold cents: well inside Number's safe range, so read them as numbers, not strings.
types.setTypeParser(types.builtins.INT8, (v) => Number(v));

export type Db = Pool;

/**
 * How long one statement, or getting a connection, may take before the caller hears that PostgreSQL is away (a 503
 * at the API, a retried activity in the worker) instead of waiting with it: a paused or unreachable server must not
 * hold requests for half a minute.
 */
export const DEFAULT_DB_TIMEOUT_MS = 5_000;

export function createPool(databaseUrl: string, max = 10, timeoutMs = DEFAULT_DB_TIMEOUT_MS): Pool {
  const pool = new Pool({
    connectionString: databaseUrl,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: timeoutMs,
    // The server cancels a slow statement itself (a clean error, the connection stays usable); the client-side
    // timeout, a moment later, covers a server that cannot answer at all (paused, partitioned).
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1_000,
    application_name: 'cold-member-activation',
  });
  // An idle connection that the server drops (a restart) is reported here; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Runs `fn` in a transaction on one connection. On any failure the connection is destroyed rather than returned to
 * the pool: after a timed-out statement its ROLLBACK may never have reached the server, and a later user of the
 * connection would otherwise find itself inside this half-done transaction.
 */
export async function inTransaction<T>(pool: Db, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}
