/** The notification relay against real PostgreSQL and a real push receiver (HTTP on a free port). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationMessage } from '../../src/domain/records';
import { migrate } from '../../src/db/migrate';
import { insertNotifications, MAX_PUSH_ATTEMPTS } from '../../src/db/notifications';
import { createPool, type Db } from '../../src/db/pool';
import { logger } from '../../src/logger';
import { startNotificationRelay, type Relay } from '../../src/workers/notification-relay';
import { createTestDatabase, type TestDatabase } from '../support/db';

let database: TestDatabase;
let db: Db;
let receiver: { server: Server; url: string; received: string[]; status: number };
const relays: Relay[] = [];

beforeAll(async () => {
  database = await createTestDatabase('relay');
  await migrate(database.url);
  db = createPool(database.url, 10);
  const received: string[] = [];
  const state = { status: 202 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (state.status < 300) received.push((JSON.parse(body) as { id: string }).id);
      res.writeHead(state.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiver = {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    received,
    get status() {
      return state.status;
    },
    set status(s: number) {
      state.status = s;
    },
  };
});
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
  await db.query('DELETE FROM notifications');
  receiver.received.length = 0;
  receiver.status = 202;
});
afterAll(async () => {
  receiver?.server.close();
  await db?.end();
  await database?.drop();
});

const messages = (prefix: string, n: number): NotificationMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `activation:relay:${prefix}-${i}:ENROLLED`,
    type: 'ENROLLED',
    workflowId: `activation:relay:${prefix}-${i}`,
    memberId: `${prefix}-${i}`,
    campaignId: 'relay',
    occurredAt: new Date().toISOString(),
    data: { i },
  }));

const relay = (extra: Partial<Parameters<typeof startNotificationRelay>[0]> = {}) => {
  const r = startNotificationRelay({
    db,
    notifyUrl: receiver.url,
    logger: logger.child({}, { level: 'silent' }),
    pollMs: 20,
    backoffSeconds: () => 0.05,
    ...extra,
  });
  relays.push(r);
  return r;
};

const statuses = async () =>
  (await db.query<{ status: string; attempts: number }>('SELECT status, attempts FROM notifications ORDER BY id')).rows;

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
  expect(await check()).toBe(true);
};

it('pushes what the outbox holds, once each, and marks it delivered', async () => {
  await insertNotifications(db, messages('a', 30));
  relay();
  await until(async () => (await statuses()).every((s) => s.status === 'DELIVERED'));
  expect(receiver.received.sort()).toEqual(
    messages('a', 30)
      .map((m) => m.id)
      .sort(),
  );
});

it('never pushes a row twice at once when several relays run (SKIP LOCKED)', async () => {
  await insertNotifications(db, messages('b', 200));
  relay({ batch: 7 });
  relay({ batch: 7 });
  relay({ batch: 7 });
  await until(async () => (await statuses()).every((s) => s.status === 'DELIVERED'));
  expect(receiver.received).toHaveLength(200);
  expect(new Set(receiver.received).size).toBe(200);
});

it('retries a failing channel with backoff, then gives up after the last attempt (FAILED)', async () => {
  receiver.status = 503;
  await insertNotifications(db, messages('c', 3));
  relay();
  await until(async () => (await statuses()).every((s) => s.status === 'FAILED'));
  expect((await statuses()).map((s) => s.attempts)).toEqual([MAX_PUSH_ATTEMPTS, MAX_PUSH_ATTEMPTS, MAX_PUSH_ATTEMPTS]);
  expect(receiver.received).toEqual([]);
});

it('delivers once the channel is back, and leaves notifications older than its horizon alone', async () => {
  await insertNotifications(db, messages('d', 2));
  await db.query(`UPDATE notifications SET created_at = now() - interval '2 days' WHERE member_id = 'd-1'`);
  receiver.status = 500;
  relay({ backoffSeconds: () => 0.3 });
  await until(async () => (await statuses()).some((s) => s.attempts >= 1));
  receiver.status = 202;
  await until(async () => (await statuses())[0].status === 'DELIVERED');
  expect(receiver.received).toEqual([messages('d', 2)[0].id]);
  expect((await statuses())[1]).toEqual({ status: 'RECORDED', attempts: 0 });
});
