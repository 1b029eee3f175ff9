/** Embedded PostgreSQL: data survives a restart on the same directory; clear errors for a taken port or directory. */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/dev/postgres';
import { findFreePort } from '../../src/dev/tools';

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'embedded-pg-'));
    // As root the server runs as the OS user postgres, which must be able to enter the directory.
    chmodSync(dir, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps data across a restart on the same data directory', async () => {
    const dataDir = path.join(dir, 'pg');
    const port = await findFreePort();
    const first = await startEmbeddedPostgres({ dataDir, port, database: 'kept' });
    try {
      expect(first.url).toBe(`postgres://postgres:postgres@127.0.0.1:${port}/kept`);
      await query(first.url, 'CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
      await query(first.url, 'INSERT INTO notes VALUES (1, $1)', ['survives']);

      // A second server on the same directory must refuse, naming the running one.
      await expect(startEmbeddedPostgres({ dataDir, port: await findFreePort() })).rejects.toThrow(
        /already running on/,
      );
    } finally {
      await first.stop();
    }

    const second = await startEmbeddedPostgres({ dataDir, port, database: 'kept' });
    try {
      expect(await query(second.url, 'SELECT body FROM notes WHERE id = 1')).toEqual([{ body: 'survives' }]);
    } finally {
      await second.stop();
    }
  });

  it("runs from inside a 0700 folder, as root from a clone in root's home folder does", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-0700-'));
    chmodSync(home, 0o700);
    try {
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(home, 'clone', '.data', 'postgres'),
        port: await findFreePort(),
      });
      try {
        expect(await query(pg.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      } finally {
        await pg.stop();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('stops a server left running on its data directory when told it is a leftover', async () => {
    const dataDir = path.join(dir, 'leftover');
    const leftover = await startEmbeddedPostgres({ dataDir, port: await findFreePort(), database: 'kept' });
    await query(leftover.url, 'CREATE TABLE t (v int)');
    const lines: string[] = [];
    const next = await startEmbeddedPostgres({
      dataDir,
      port: await findFreePort(),
      database: 'kept',
      leftover: 'stop',
      say: (l) => lines.push(l),
    });
    try {
      expect(await leftover.exit).toMatchObject({ code: 0 });
      expect(lines.join('\n')).toMatch(/stopping PostgreSQL \(pid \d+\) left running/);
      expect(await query(next.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 0 }]);
    } finally {
      await next.stop();
    }
  });

  it('names the port when it is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(startEmbeddedPostgres({ dataDir: path.join(dir, 'blocked'), port })).rejects.toThrow(`port ${port}`);
    } finally {
      blocker.close();
    }
  });
});
