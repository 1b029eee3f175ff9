import { Pool, types } from 'pg';

// bigint columns hold cents: well inside Number's safe range, so read them as numbers, not strings.
types.setTypeParser(types.builtins.INT8, (v) => Number(v));

export type Db = Pool;

export function createPool(databaseUrl: string, max = 10): Pool {
  return new Pool({
    connectionString: databaseUrl,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: 'cold-member-activation',
  });
}
