/**
 * Replay fixtures: workflow histories saved from the tests (with CAPTURE_HISTORIES=1) under
 * test/fixtures/histories/<group>/, and what the replay suite needs to know about each (its workflow type, the path
 * the run took, the patches it recorded). A saved history is a promise: every later version of the workflow code
 * must replay it, because a run like it may be asleep in production for 32 days (docs/versioning.md).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
const { EventType } = temporal.api.enums.v1;

export const HISTORIES_ROOT = path.join(__dirname, '..', 'fixtures', 'histories');

export const capturing = (): boolean => Boolean(process.env.CAPTURE_HISTORIES);

/** One fixture file. `workflowId` is needed at replay: the member workflow reads it. */
export interface SavedHistory {
  workflowId: string;
  runId?: string;
  /** Where it came from, e.g. `e2e/settlement.test.ts`. */
  capturedFrom?: string;
  history: unknown;
}

/** What a history shows about its run. */
export interface RunShape {
  workflowType: string;
  /**
   * How the run ended: the member's final state or the retry's status from the workflow's result,
   * `CONTINUED_AS_NEW`, `RUNNING` (captured while open: the histories a deploy can break), or the close status.
   */
  path: string;
  /** Ids of the patch markers (`patched()` / `deprecatePatch()`) the run recorded. */
  patches: string[];
  /** Distinct event types, sorted: tells apart runs that went through different code. */
  eventTypes: string[];
  /** Some activity needed more than one attempt. */
  retried: boolean;
}

const eventTypeName = (t: temporal.api.enums.v1.EventType | null | undefined): string =>
  (EventType[t ?? 0] ?? String(t)).replace(/^EVENT_TYPE_/, '');

const decode = (payload: temporal.api.common.v1.IPayload | null | undefined): unknown => {
  try {
    return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
  } catch {
    return undefined;
  }
};

export function describeRun(history: History): RunShape {
  const events = history.events ?? [];
  const workflowType = events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
  const patches = new Set<string>();
  let retried = false;
  for (const e of events) {
    const marker = e.markerRecordedEventAttributes;
    // The marker `patched()` / `deprecatePatch()` record (sdk-core's patch state machine: `patch-data` is
    // `{"id", "deprecated"}` as JSON).
    if (marker?.markerName === 'core_patch') {
      const data = decode(marker.details?.['patch-data']?.payloads?.[0]) as { id?: string } | undefined;
      if (data?.id) patches.add(data.id);
    }
    if ((e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) retried = true;
  }
  const last = events[events.length - 1];
  let runPath = 'RUNNING';
  switch (last?.eventType) {
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
      const result = decode(last.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]) as
        { state?: string; status?: string } | undefined;
      runPath = result?.state ?? result?.status ?? 'COMPLETED';
      break;
    }
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      runPath = 'CONTINUED_AS_NEW';
      break;
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      runPath = eventTypeName(last.eventType).replace(/^WORKFLOW_EXECUTION_/, '');
      break;
  }
  return {
    workflowType,
    path: runPath,
    patches: [...patches].sort(),
    eventTypes: [...new Set(events.map((e) => eventTypeName(e.eventType)))].sort(),
    retried,
  };
}

const fileSafe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80);

function write(file: string, saved: SavedHistory): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // One event per line or so (indent 1): reviewable in a diff, and git compresses it well.
  writeFileSync(file, `${JSON.stringify(saved, null, 1)}\n`);
}

/** Saves one run's history as `<group>/<name>.json` (only with CAPTURE_HISTORIES=1). */
export async function saveHistory(group: string, name: string, handle: WorkflowHandle): Promise<void> {
  if (!capturing()) return;
  const history = await handle.fetchHistory();
  write(path.join(HISTORIES_ROOT, group, `${fileSafe(name)}.json`), {
    workflowId: handle.workflowId,
    capturedFrom: group,
    history: JSON.parse(historyToJSON(history)) as unknown,
  });
}

export interface CaptureOptions {
  /** Folder under test/fixtures/histories; replaced as a whole by each capture. */
  group: string;
  /** Visibility query choosing the executions (default: every execution in the namespace). */
  query?: string;
  /** Or these workflow ids (every run of each). */
  workflowIds?: string[];
  /** Keep at most this many histories of one workflow type (default 6). */
  maxPerType?: number;
  /** Recorded in each file, e.g. the test file. */
  capturedFrom?: string;
}

/**
 * With CAPTURE_HISTORIES=1: fetches the histories of the executions a test ran and saves one per distinct shape
 * (workflow type, path, event types, retries, patches) as fixtures, at most `maxPerType` per workflow type. Forty
 * settlement members whose histories differ only in amounts add nothing to the replay suite but size. Returns the
 * files written.
 */
export async function captureHistories(
  target: Client | { address: string; namespace?: string },
  opts: CaptureOptions,
): Promise<string[]> {
  if (!capturing()) return [];
  let connection: Connection | undefined;
  const client =
    target instanceof Client
      ? target
      : new Client({
          connection: (connection = await Connection.connect({ address: target.address })),
          namespace: target.namespace ?? 'default',
        });
  try {
    const query =
      opts.query ??
      (opts.workflowIds ? opts.workflowIds.map((id) => `WorkflowId = ${JSON.stringify(id)}`).join(' OR ') : undefined);
    const executions = [];
    for await (const info of client.workflow.list(query ? { query } : {})) executions.push(info);
    // Oldest first, so that the first run of a kind is kept and captures of the same test name the same files.
    executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime() || a.runId.localeCompare(b.runId));

    const dir = path.join(HISTORIES_ROOT, opts.group);
    rmSync(dir, { recursive: true, force: true });
    const seen = new Set<string>();
    const perType = new Map<string, number>();
    const written: string[] = [];
    const runsOf = new Map<string, number>();
    for (const info of executions) {
      const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
      const shape = describeRun(history);
      const key = JSON.stringify(shape);
      const count = perType.get(shape.workflowType) ?? 0;
      if (seen.has(key) || count >= (opts.maxPerType ?? 6)) continue;
      seen.add(key);
      perType.set(shape.workflowType, count + 1);
      const run = (runsOf.get(info.workflowId) ?? 0) + 1;
      runsOf.set(info.workflowId, run);
      const file = path.join(dir, `${fileSafe(info.workflowId)}${run > 1 ? `.run${run}` : ''}.json`);
      write(file, {
        workflowId: info.workflowId,
        runId: info.runId,
        ...(opts.capturedFrom ? { capturedFrom: opts.capturedFrom } : {}),
        history: JSON.parse(historyToJSON(history)) as unknown,
      });
      written.push(path.relative(HISTORIES_ROOT, file));
    }
    return written;
  } finally {
    await connection?.close();
  }
}

export interface Fixture extends RunShape {
  /** Relative to test/fixtures/histories. */
  file: string;
  workflowId: string;
  history: History;
}

/** Every fixture under test/fixtures/histories, recursively, sorted by path. */
export function loadFixtures(root = HISTORIES_ROOT): Fixture[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) files.push(p);
    }
  };
  walk(root);
  return files.map((file) => {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedHistory;
    const history = historyFromJSON(saved.history);
    return { file: path.relative(root, file), workflowId: saved.workflowId, history, ...describeRun(history) };
  });
}
