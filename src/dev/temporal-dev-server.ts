/**
 * The embedded Temporal dev server for `npm start` and tests: `temporal server start-dev` with a SQLite file, the
 * Web UI, our namespace and our custom search attributes.
 *
 * Search attributes: the CLI applies `--search-attribute` only to the namespaces it creates in that run (on a fresh
 * SQLite file: `default` and ours). On an existing file (every restart of `npm start`) it silently skips attributes
 * that are new since, e.g. one added to SEARCH_ATTRIBUTES after the file was created. So after start we list the
 * namespace's attributes through the operator service and add whatever is missing; the flags just make a fresh start
 * cheaper.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { commandLine, readPidFile, stopProcess } from './processes';
import { assertPortFree, delay, describeExit, type ExitInfo, spawnManaged, temporalCliPath } from './tools';

export interface TemporalDevServerOptions {
  /** Frontend gRPC port. */
  port: number;
  uiPort: number;
  /** SQLite file holding all state; created when absent, reused (workflows resume) when present. */
  dbFile: string;
  /** Created at start when absent. Default `default`. */
  namespace?: string;
  /** The server's stdout and stderr are appended here; discarded when unset. */
  logFile?: string;
  /** Interface to bind the frontend and the UI to. Default 127.0.0.1 (not reachable from other machines). */
  ip?: string;
  /**
   * A dev server already running on this SQLite file (its pid is in `<dbFile>.pid`): `refuse` (default) fails
   * naming it; `stop` shuts it down first, for a caller that knows it was left behind by a killed run.
   */
  leftover?: 'refuse' | 'stop';
  /** Told when a leftover server is stopped. */
  say?: (line: string) => void;
  /** Aborts a start in progress: the server is stopped and the start rejects. */
  signal?: AbortSignal;
}

export interface TemporalDevServer {
  /** `host:port` for `Connection.connect` / `NativeConnection.connect`. */
  address: string;
  uiUrl: string;
  /** Settles when the server process exits, for whatever reason (a supervisor watches it). */
  exit: Promise<ExitInfo>;
  /**
   * SIGTERM, up to 15 s to exit, then SIGKILL. Settles once the process is gone: rejects when it did not exit
   * cleanly (had to be killed, or had crashed before).
   */
  stop(): Promise<void>;
}

type SearchAttributeTypeName = (typeof SEARCH_ATTRIBUTES)[keyof typeof SEARCH_ATTRIBUTES];

const { IndexedValueType } = temporal.api.enums.v1;

/** The CLI's `--search-attribute` type names, as the operator API's enum. */
export const INDEXED_VALUE_TYPES: Record<SearchAttributeTypeName, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const namespace = opts.namespace ?? 'default';
  const cli = temporalCliPath();
  if (!cli) {
    throw new Error(
      'Temporal CLI not found: run `bash scripts/ensure.sh` (installs it into .tools/) or set TEMPORAL_CLI_PATH',
    );
  }
  mkdirSync(path.dirname(path.resolve(opts.dbFile)), { recursive: true });
  const pidFile = `${path.resolve(opts.dbFile)}.pid`;
  await handleLeftover(pidFile, path.resolve(opts.dbFile), opts.leftover ?? 'refuse', opts.say);
  await assertPortFree(opts.port, ip, 'Temporal dev server (gRPC)');
  await assertPortFree(opts.uiPort, ip, 'Temporal Web UI');
  opts.signal?.throwIfAborted();

  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    path.resolve(opts.dbFile),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    // Write-ahead logging: one sequential append per commit instead of the rollback journal's several syncs, and
    // readers that do not block the writer. Under load the default mode left the server waiting on I/O, and its
    // latency grew with the size of the file. synchronous stays FULL: a power cut loses nothing acknowledged.
    '--sqlite-pragma',
    'journal_mode=wal',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  const cliPath = cli;
  // The CLI picks its HTTP API and metrics ports itself, free when picked; with many servers starting at once (test
  // runs, benchmarks) another process can take one first. That is worth another try; our own ports are not.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (err) {
      const clash = err instanceof Error && /(HTTP API|metrics)[^\n]*address already in use/.test(err.message);
      if (!clash || attempt >= 3) throw err;
    }
  }

  async function startOnce(): Promise<TemporalDevServer> {
    const proc = spawnManaged({ command: cliPath, args, logFile: opts.logFile });
    // Like PostgreSQL's postmaster.pid: the next start can tell a server left behind by a killed run.
    if (proc.pid !== undefined) writeFileSync(pidFile, `${proc.pid}\n`);
    void proc.exit.then(() => {
      if (readPidFile(pidFile) === proc.pid) rmSync(pidFile, { force: true });
    });
    const host = ip.includes(':') ? `[${ip}]` : ip; // IPv6 literals need brackets in addresses and URLs
    const address = `${host}:${opts.port}`;
    const stop = async () => {
      const exit = await proc.stop([
        ['SIGTERM', STOP_GRACE_MS],
        ['SIGKILL', 5_000],
      ]);
      // Gone either way; but a server that had to be killed, or had crashed, is worth an error to the caller.
      if (exit.code !== 0) throw new Error(`Temporal dev server ${describeExit(exit)}${logHint(opts.logFile)}`);
    };

    try {
      const connection = await waitUntilServing(address, namespace, () => {
        opts.signal?.throwIfAborted();
        const exited = proc.exited();
        if (!exited) return;
        const tail = proc.logTail().trim();
        throw new Error(
          `Temporal dev server ${describeExit(exited)} before it was ready` +
            (tail ? `; last output:\n${tail}` : opts.logFile ? ` (no output in ${opts.logFile})` : ''),
        );
      });
      try {
        await ensureSearchAttributes(connection, namespace);
      } finally {
        await connection.close();
      }
    } catch (err) {
      await stop().catch(() => undefined); // the start-up error is the one to report
      throw err;
    }

    return { address, uiUrl: `http://${host}:${opts.uiPort}`, exit: proc.exit, stop };
  }
}

/** Whether `pid` is a dev server on `dbFile` (its command line names the file); false without /proc. */
function isDevServerOn(pid: number, dbFile: string): boolean {
  const args = commandLine(pid);
  return args.includes('start-dev') && args.includes(dbFile);
}

/** A dev server left running on our SQLite file by a killed run: refuse, or stop it (SIGTERM, then SIGKILL). */
async function handleLeftover(
  pidFile: string,
  dbFile: string,
  mode: 'refuse' | 'stop',
  say?: (line: string) => void,
): Promise<void> {
  const pid = readPidFile(pidFile);
  if (pid === undefined) return;
  if (!isDevServerOn(pid, dbFile)) {
    rmSync(pidFile, { force: true }); // stale: that process is gone, or the pid belongs to another program now
    return;
  }
  if (mode === 'refuse') {
    throw new Error(
      `a Temporal dev server (pid ${pid}) is already running on ${dbFile}: another instance uses it, or it ` +
        `outlived a crashed run. Stop it (kill ${pid}) and start again.`,
    );
  }
  say?.(`stopping the Temporal dev server (pid ${pid}) left running on ${dbFile} by an earlier run…`);
  const steps = [
    ['SIGTERM', STOP_GRACE_MS],
    ['SIGKILL', 5_000],
  ] as const;
  if (!(await stopProcess(pid, steps, () => isDevServerOn(pid, dbFile)))) {
    throw new Error(`the Temporal dev server (pid ${pid}) does not stop; stop it first`);
  }
  rmSync(pidFile, { force: true });
}

const logHint = (logFile: string | undefined) => (logFile ? ` (log: ${logFile})` : '');

/**
 * Polls until the frontend answers for our namespace. A fresh connection per attempt: a reused gRPC channel backs
 * off exponentially after refused connections, which would stretch a 2 s start into 20 s.
 */
async function waitUntilServing(address: string, namespace: string, checkAlive: () => void): Promise<Connection> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  for (;;) {
    checkAlive();
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`Temporal dev server at ${address} not ready within ${READY_TIMEOUT_MS / 1000} s: ${reason}`);
    }
    const connection = Connection.lazy({ address, connectTimeout: 2_000 });
    try {
      await connection.ensureConnected();
      await connection.withDeadline(Date.now() + 2_000, () =>
        connection.workflowService.describeNamespace({ namespace }),
      );
      return connection;
    } catch (err) {
      lastError = err;
      await connection.close().catch(() => undefined);
      await delay(200);
    }
  }
}

/**
 * Registers every attribute of SEARCH_ATTRIBUTES that the namespace lacks and returns the names it added. Fails when
 * an attribute exists with another type: workflows would fail to upsert it, and Temporal cannot change a type.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  const conflicts: string[] = [];
  for (const [name, typeName] of Object.entries(SEARCH_ATTRIBUTES)) {
    const wanted = INDEXED_VALUE_TYPES[typeName];
    const existing = customAttributes?.[name];
    if (existing === undefined || existing === null) missing[name] = wanted;
    else if (existing !== wanted) conflicts.push(`${name} is ${IndexedValueType[existing]}, expected ${typeName}`);
  }
  if (conflicts.length > 0) {
    throw new Error(`search attributes in namespace ${namespace} have the wrong type: ${conflicts.join('; ')}`);
  }
  const names = Object.keys(missing);
  if (names.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    // Someone else (another process on the same server) added them in between: that is the state we want.
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw err;
  }
  await waitUntilQueryable(connection, namespace, names);
  return names;
}

/** gRPC status code ALREADY_EXISTS. */
const ALREADY_EXISTS = 6;

/**
 * New attributes reach the server's caches a moment after the add call returns. A visibility query naming them only
 * validates once the frontend knows them, so poll with one before workflows start upserting them.
 */
async function waitUntilQueryable(connection: Connection, namespace: string, names: string[]): Promise<void> {
  const query = names.map((name) => `${name} IS NULL`).join(' AND ');
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await connection.workflowService.countWorkflowExecutions({ namespace, query });
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(
          `search attributes ${names.join(', ')} not usable in namespace ${namespace} after adding them: ${String(err)}`,
        );
      }
      await delay(250);
    }
  }
}
