/**
 * The audit trail's hash chain (real PostgreSQL): the database places and chains each line as it is written, whoever
 * writes it and however many write at once; the TypeScript check computes the very same hashes; an edit or a deletion
 * made behind the append-only triggers' back (a superuser skipping them) is found at its line.
 */
import fc from 'fast-check';
import { readdir } from 'node:fs/promises';
import { runner } from 'node-pg-migrate';
import { Client } from 'pg';
import { appendAudit, trailsOf } from '../../src/db/audit';
import { checkChain, GENESIS_HASH } from '../../src/db/audit-chain';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate';
import { createPool, type Db } from '../../src/db/pool';
import type { AuditEntry } from '../../src/domain/records';
import { behindTheTriggers, createTestDatabase, type TestDatabase } from '../support/db';

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase('db_audit_chain');
  await migrate(database.url);
  db = createPool(database.url, 6);
});
afterAll(async () => {
  await db?.end();
  await database?.drop();
});

let trails = 0;
const subject = () => {
  trails += 1;
  return { workflowId: `chain-${trails}`, campaignId: 'c-chain', memberId: `M-${trails}` };
};
const line = (key: string, payload: Record<string, unknown> = { n: key }): AuditEntry => ({
  key,
  type: 'TRANSITION',
  source: 'WORKFLOW',
  occurredAt: '2026-11-02T03:04:05.678Z',
  payload,
});
const trailOf = async (workflowId: string) => (await trailsOf(db, [workflowId])).get(workflowId)!;

it('places and chains every line, a repeated line changes nothing, and the TypeScript check agrees', async () => {
  const s = subject();
  await appendAudit(db, s, [line('a'), line('b')]);
  await appendAudit(db, s, [line('b'), line('c')]); // a retried write, with one new line
  const trail = await trailOf(s.workflowId);
  expect(trail.map((l) => [l.position, l.key])).toEqual([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ]);
  expect(trail[0].prevHash).toBe(GENESIS_HASH);
  expect(trail[1].prevHash).toBe(trail[0].hash);
  expect(checkChain(trail)).toEqual({ intact: true, head: trail[2].hash });
  expect(trail[0].occurredAt).toBe('2026-11-02T03:04:05.678Z');
});

it('hashes any payload the same in PostgreSQL and TypeScript (jsonb renders it once, the check reads that)', async () => {
  const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('\\u0000'));
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.string(), json, { maxKeys: 6 }), async (payload) => {
      const s = subject();
      await appendAudit(db, s, [line('x', payload as Record<string, unknown>), line('y')]);
      expect(checkChain(await trailOf(s.workflowId)).intact).toBe(true);
    }),
    { numRuns: 60 },
  );
});

it('writers of one trail take turns: concurrent appends make one unbroken chain', async () => {
  const s = subject();
  await Promise.all(
    Array.from({ length: 12 }, (_, w) => appendAudit(db, s, [line(`w${w}-1`), line(`w${w}-2`), line(`w${w}-3`)])),
  );
  const trail = await trailOf(s.workflowId);
  expect(trail.map((l) => l.position)).toEqual(Array.from({ length: 36 }, (_, i) => i + 1));
  expect(checkChain(trail).intact).toBe(true);
});

it('still refuses an edit or a deletion outright', async () => {
  const s = subject();
  await appendAudit(db, s, [line('a')]);
  await expect(
    db.query(`UPDATE audit_events SET payload = '{}' WHERE workflow_id = $1`, [s.workflowId]),
  ).rejects.toThrow(/append-only/);
  await expect(db.query('DELETE FROM audit_events WHERE workflow_id = $1', [s.workflowId])).rejects.toThrow(
    /append-only/,
  );
});

it('finds an edit made behind the triggers at its line, and a deletion at the gap it leaves', async () => {
  const edited = subject();
  await appendAudit(db, edited, [line('a'), line('b', { to: 'NOT_ELIGIBLE' }), line('c')]);
  await behindTheTriggers(
    db,
    `UPDATE audit_events SET payload = '{"to": "ELIGIBLE"}' WHERE workflow_id = $1 AND position = 2`,
    [edited.workflowId],
  );
  expect(checkChain(await trailOf(edited.workflowId)).brokenAt).toMatchObject({
    position: 2,
    key: 'b',
    problem: 'the line was changed after it was written',
  });

  const deleted = subject();
  await appendAudit(db, deleted, [line('a'), line('b'), line('c'), line('d')]);
  await behindTheTriggers(db, 'DELETE FROM audit_events WHERE workflow_id = $1 AND position = 2', [deleted.workflowId]);
  expect(checkChain(await trailOf(deleted.workflowId)).brokenAt).toMatchObject({
    position: 3,
    problem: 'line 2 is missing',
  });

  // Renumbered to hide the gap: the link to the line before no longer holds.
  await behindTheTriggers(
    db,
    'UPDATE audit_events SET position = position - 1 WHERE workflow_id = $1 AND position > 2',
    [deleted.workflowId],
  );
  expect(checkChain(await trailOf(deleted.workflowId)).brokenAt).toMatchObject({ position: 2, key: 'c' });
});

it('the migration chains the trails written before it, in the order they were written', async () => {
  const older = await createTestDatabase('db_audit_chain_backfill');
  const client = new Client({ connectionString: older.url });
  await client.connect();
  try {
    const before = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    const chainIndex = before.findIndex((f) => f.includes('audit-hash-chain'));
    await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      count: chainIndex,
      checkOrder: true,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    for (const [workflowId, key] of [
      ['old-1', 'a'],
      ['old-2', 'a'],
      ['old-1', 'b'],
      ['old-1', 'c'],
    ]) {
      await client.query(
        `INSERT INTO audit_events (workflow_id, campaign_id, member_id, event_key, type, source, payload, occurred_at)
         VALUES ($1, 'c', 'M', $2, 'TRANSITION', 'WORKFLOW', '{"from": "ENROLLED"}', now())`,
        [workflowId, key],
      );
    }
    await migrate(older.url);
    const oldDb = createPool(older.url, 1);
    try {
      await appendAudit(oldDb, { workflowId: 'old-1', campaignId: 'c', memberId: 'M' }, [line('d')]);
      const trails = await trailsOf(oldDb, ['old-1', 'old-2']);
      expect(trails.get('old-1')!.map((l) => l.key)).toEqual(['a', 'b', 'c', 'd']);
      expect(checkChain(trails.get('old-1')!).intact).toBe(true);
      expect(checkChain(trails.get('old-2')!).intact).toBe(true);
    } finally {
      await oldDb.end();
    }
  } finally {
    await client.end();
    await older.drop();
  }
});
