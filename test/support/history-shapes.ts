/**
 * What shapes of history a test went through, read from the histories themselves: how each run ended, which workflow
 * tasks failed and why, which tasks the worker forced (a local activity's heartbeat), and what came right before a
 * continue-as-new. A storm test reports these so that "nothing was lost" comes with "across which shapes".
 */
import type { temporal } from '@temporalio/proto';
import { temporal as proto } from '@temporalio/proto';

const T = proto.api.enums.v1.EventType;
const CAUSE = proto.api.enums.v1.WorkflowTaskFailedCause;

/** Events a completed workflow task's commands write, right after its WORKFLOW_TASK_COMPLETED. */
const COMMAND_EVENTS = new Set<number>([
  T.EVENT_TYPE_MARKER_RECORDED,
  T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  T.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
  T.EVENT_TYPE_TIMER_STARTED,
  T.EVENT_TYPE_TIMER_CANCELED,
  T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
  T.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
]);

export interface HistoryShapes {
  runs: number;
  continuedAsNew: number;
  /** Continue-as-new completed by a task retried after its first attempt failed with UnhandledCommand. */
  continuedAfterUnhandledCommand: number;
  /** …of which the failed attempt came right after a task whose only commands were local activities' markers. */
  continuedAfterUnhandledCommandAfterMarkerOnlyTask: number;
  /** Continue-as-new whose own task came right after a task that only recorded markers. */
  continuedRightAfterMarkerOnlyTask: number;
  /** Tasks that completed with no command and asked for a new task at once (a local activity's heartbeat). */
  heartbeatTasks: number;
  markerOnlyTasks: number;
  failedTasks: Record<string, number>;
  /** Tasks that ran past their start-to-close timeout (a worker held them too long). */
  timedOutTasks: number;
  /** Sticky tasks no worker took in time (a busy worker; the task went to the normal queue). */
  stickyTimeouts: number;
  signals: number;
  updatesAccepted: number;
  /** The longest a workflow task was held by a worker (started → completed), in ms. */
  longestTaskMs: number;
}

export const emptyShapes = (): HistoryShapes => ({
  runs: 0,
  continuedAsNew: 0,
  continuedAfterUnhandledCommand: 0,
  continuedAfterUnhandledCommandAfterMarkerOnlyTask: 0,
  continuedRightAfterMarkerOnlyTask: 0,
  heartbeatTasks: 0,
  markerOnlyTasks: 0,
  failedTasks: {},
  timedOutTasks: 0,
  stickyTimeouts: 0,
  signals: 0,
  updatesAccepted: 0,
  longestTaskMs: 0,
});

type Event = temporal.api.history.v1.IHistoryEvent;

/** Adds one run's history to `into`. */
export function addShapes(into: HistoryShapes, history: temporal.api.history.v1.IHistory): HistoryShapes {
  const events: Event[] = history.events ?? [];
  into.runs += 1;
  /** Per completed task: the index of its WORKFLOW_TASK_COMPLETED and the types of the events its commands wrote. */
  const completed: { at: number; commands: number[] }[] = [];
  const time = (e: Event): number => {
    const t = e.eventTime;
    return t ? Number(t.seconds ?? 0) * 1_000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
  };
  let startedAt: number | undefined;
  events.forEach((e, i) => {
    const type = e.eventType as number;
    if (type === T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) into.signals += 1;
    if (type === T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) into.updatesAccepted += 1;
    if (type === T.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT) {
      const timeout = e.workflowTaskTimedOutEventAttributes?.timeoutType;
      if (timeout === proto.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START) into.stickyTimeouts += 1;
      else into.timedOutTasks += 1;
    }
    if (type === T.EVENT_TYPE_WORKFLOW_TASK_FAILED) {
      const cause = CAUSE[e.workflowTaskFailedEventAttributes?.cause ?? 0] ?? 'UNKNOWN';
      into.failedTasks[cause] = (into.failedTasks[cause] ?? 0) + 1;
    }
    if (type === T.EVENT_TYPE_WORKFLOW_TASK_STARTED) startedAt = time(e);
    if (type === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && startedAt !== undefined) {
      into.longestTaskMs = Math.max(into.longestTaskMs, time(e) - startedAt);
    }
    if (type === T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      const commands: number[] = [];
      for (let j = i + 1; j < events.length && COMMAND_EVENTS.has(events[j].eventType as number); j++) {
        commands.push(events[j].eventType as number);
      }
      completed.push({ at: i, commands });
      const next = events[i + 1 + commands.length];
      if (commands.length === 0 && next?.eventType === T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) into.heartbeatTasks += 1;
      if (commands.length > 0 && commands.every((c) => c === T.EVENT_TYPE_MARKER_RECORDED)) into.markerOnlyTasks += 1;
    }
  });
  const canAt = events.findIndex((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  if (canAt < 0) return into;
  into.continuedAsNew += 1;
  const markerOnly = (task: { commands: number[] } | undefined): boolean =>
    !!task && task.commands.length > 0 && task.commands.every((c) => c === T.EVENT_TYPE_MARKER_RECORDED);
  // The task that continued as new is the last completed one; the one before it completed the task before.
  const last = completed.length - 1;
  if (markerOnly(completed[last - 1])) into.continuedRightAfterMarkerOnlyTask += 1;
  // A failed attempt of the final task: WORKFLOW_TASK_FAILED between the previous completed task and the final one.
  const from = completed[last - 1]?.at ?? 0;
  const failedUnhandled = events
    .slice(from, completed[last].at)
    .some(
      (e) =>
        e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_FAILED &&
        e.workflowTaskFailedEventAttributes?.cause === CAUSE.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    );
  if (failedUnhandled) {
    into.continuedAfterUnhandledCommand += 1;
    if (markerOnly(completed[last - 1])) into.continuedAfterUnhandledCommandAfterMarkerOnlyTask += 1;
  }
  return into;
}
