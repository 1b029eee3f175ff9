/**
 * The settlement batch's activities: apply the next chunk of staged lines to the member workflows, then close the
 * batch. A chunk holds few members with many lines; each member workflow gets its lines in one `applyTransactions`
 * update. A chunk is checkpointed as a whole once applied; a chunk cut short (the worker died) is applied again, and
 * the update id (`{batchId}:{firstLine}..{lastLine}#{count}`) makes the member workflow answer a repeat with its
 * first answer, so every line is applied once and classified the same way.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { recordAccepted } from '../db/accepted-news';
import { newsTargets } from '../db/enrollments';
import type { Db } from '../db/pool';
import { finishBatch, nextRecords, recordOutcomes, type LineResult } from '../db/settlements';
import type { TransactionEvent } from '../domain/model';
import { classifyLine } from '../domain/settlement';
import { MAX_EVENTS_PER_UPDATE } from '../workflows/messages';
import type { ChunkRequest, ChunkResult, SettlementActivities } from '../workflows/activity-contracts';
import { updateWithNews } from './delivery';

export interface SettlementActivityDeps {
  db: Db;
  temporal: Client;
  /** Member workflows updated at once per chunk. */
  concurrency?: number;
}

export const createSettlementActivities = (deps: SettlementActivityDeps): SettlementActivities => {
  const { db } = deps;
  const concurrency = deps.concurrency ?? 32;

  return {
    async applySettlementChunk({ batchId, limit }: ChunkRequest): Promise<ChunkResult> {
      const todo = await nextRecords(db, batchId, limit);
      if (todo.length === 0) return { processed: 0, done: true };

      const byMember = await newsTargets(db, [...new Set(todo.map((t) => t.record.memberId))]);

      // Members are updated concurrently; one member's lines go in file order (a settlement before its return).
      const lanes = new Map<string, number[]>();
      todo.forEach((t, i) => {
        const lane = lanes.get(t.record.memberId) ?? [];
        lane.push(i);
        lanes.set(t.record.memberId, lane);
      });
      const queue = [...lanes.values()];
      const receivedAt = new Date().toISOString();
      const results: LineResult[] = new Array<LineResult>(todo.length);
      let finished = 0;
      const worker = async () => {
        for (let lane = queue.shift(); lane; lane = queue.shift()) {
          for (let from = 0; from < lane.length; from += MAX_EVENTS_PER_UPDATE) {
            const part = lane.slice(from, from + MAX_EVENTS_PER_UPDATE);
            const events = part.map((i): TransactionEvent => {
              const { line, record } = todo[i];
              return { source: 'SETTLEMENT', ...record, receivedAt, batchId, line };
            });
            const refs = byMember.get(events[0].memberId) ?? [];
            // On record as accepted before they are sent (a chunk applied again keeps the first record).
            await recordAccepted(db, refs, events);
            // The same lines get the same update id when a cut-short chunk is applied again.
            const lines = part.map((i) => todo[i].line);
            const updateId = `${batchId}:${lines[0]}..${lines[lines.length - 1]}#${lines.length}`;
            const answers = await Promise.all(refs.map((ref) => updateWithNews(deps, ref, events, updateId)));
            part.forEach((i, k) => {
              const { line, record } = todo[i];
              const outcome = classifyLine(answers.map((a) => a[k]));
              results[i] = {
                line,
                outcome,
                returned: outcome === 'APPLIED' && record.status === 'RETURNED',
                ...(outcome === 'REJECTED'
                  ? {
                      reason: `contradicts what the enrollment knows of ${record.transactionId} (another kind, or settled after a return)`,
                    }
                  : {}),
              };
            });
            finished += part.length;
          }
        }
      };
      // Heartbeats say the worker is alive, whatever one member's lane costs.
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat({ finished }), 2_000);
      try {
        await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      } finally {
        clearInterval(beat);
      }
      await recordOutcomes(db, batchId, results);
      return { processed: todo.length, done: todo.length < limit };
    },

    async finishSettlementBatch({ batchId, failure }: { batchId: string; failure?: string }): Promise<void> {
      await finishBatch(db, batchId, failure);
    },
  };
};
