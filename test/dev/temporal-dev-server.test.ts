/**
 * The embedded Temporal dev server: starts on a SQLite file with our search attributes, keeps workflows across a
 * restart on the same file, and registers the attributes in a namespace that the restart creates (the CLI's
 * --search-attribute flags only act on a fresh file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { delay, findFreePort, spawnManaged, temporalCliPath } from '../../src/dev/tools';
import { CampaignIdKey, SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';

async function customAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.keys(customAttributes ?? {});
  } finally {
    await connection.close();
  }
}

async function waitFor(check: () => Promise<void>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await delay(200);
    }
  }
}

describe('Temporal dev server', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-dev-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts with the search attributes and keeps workflows across a restart', async () => {
    const dbFile = path.join(dir, 'temporal.db');
    const logFile = path.join(dir, 'temporal.log');
    const ports = { port: await findFreePort(), uiPort: await findFreePort() };
    const workflowId = `restart-check-${Date.now()}`;

    const first = await startTemporalDevServer({ ...ports, dbFile, logFile, namespace: 'default' });
    try {
      expect(first.address).toBe(`127.0.0.1:${ports.port}`);
      expect(first.uiUrl).toBe(`http://127.0.0.1:${ports.uiPort}`);
      expect(await customAttributes(first.address, 'default')).toEqual(
        expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)),
      );
      const ui = await fetch(first.uiUrl);
      expect(ui.status).toBe(200);

      // No worker: the workflow just stays open, which is what the restart must preserve.
      const connection = await Connection.connect({ address: first.address });
      try {
        await new Client({ connection }).workflow.start('neverRuns', {
          workflowId,
          taskQueue: 'nobody-polls',
          typedSearchAttributes: [{ key: CampaignIdKey, value: 'restart-check' }],
        });
      } finally {
        await connection.close();
      }
    } finally {
      await first.stop();
    }

    const second = await startTemporalDevServer({ ...ports, dbFile, logFile, namespace: 'second' });
    try {
      expect(await customAttributes(second.address, 'second')).toEqual(
        expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)),
      );
      const connection = await Connection.connect({ address: second.address });
      try {
        const client = new Client({ connection });
        const handle = client.workflow.getHandle(workflowId);
        expect((await handle.describe()).status.name).toBe('RUNNING');
        const found: string[] = [];
        for await (const wf of client.workflow.list({ query: `CampaignId = 'restart-check'` })) {
          found.push(wf.workflowId);
        }
        expect(found).toEqual([workflowId]);
        await handle.terminate('test done');
      } finally {
        await connection.close();
      }
    } finally {
      await second.stop();
    }
  });

  it('adds search attributes that an existing database lacks, usable at once', async () => {
    // A database made by a plain CLI start without our attributes, like one from before an attribute was added.
    const dbFile = path.join(dir, 'without-attributes.db');
    const ports = { port: await findFreePort(), uiPort: await findFreePort() };
    const plain = spawnManaged({
      command: temporalCliPath()!,
      args: [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(ports.port),
        '--db-filename',
        dbFile,
      ],
    });
    try {
      await waitFor(async () => {
        const connection = await Connection.connect({ address: `127.0.0.1:${ports.port}`, connectTimeout: 1_000 });
        await connection.close();
      });
      expect(await customAttributes(`127.0.0.1:${ports.port}`, 'default')).not.toContain('CampaignId');
    } finally {
      await plain.stop([['SIGTERM', 15_000]]);
    }

    const server = await startTemporalDevServer({ ...ports, dbFile });
    try {
      expect(await customAttributes(server.address, 'default')).toEqual(
        expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)),
      );
      const connection = await Connection.connect({ address: server.address });
      try {
        const client = new Client({ connection });
        const handle = await client.workflow.start('neverRuns', {
          workflowId: `attributes-check-${Date.now()}`,
          taskQueue: 'nobody-polls',
          typedSearchAttributes: [{ key: CampaignIdKey, value: 'attributes-check' }],
        });
        await handle.terminate('test done');
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('names the port when it is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(
        startTemporalDevServer({ port, uiPort: await findFreePort(), dbFile: path.join(dir, 'blocked.db') }),
      ).rejects.toThrow(`port ${port}`);
    } finally {
      blocker.close();
    }
  });
});
