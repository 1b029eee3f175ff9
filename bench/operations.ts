/**
 * Bulk operations (`npm run bench -- operations`): N enrollments of one campaign, then, in the same run on the same
 * dev server, (1) the baseline: Temporal's built-in batch signal (`StartBatchOperation` over a visibility query, one
 * signal per member workflow, which the server's batcher paces at its own rate), and (2) ours: `POST /v1/operations`
 * EXTEND_SCHEDULE over the same members, followed until COMPLETED. Members per second for each, and whether every
 * member was changed exactly once.
 */
import { randomUUID } from 'node:crypto';
import { delay, perSecond, pool, say, settle } from './lib/common';
import { api, startProduct, type CodeTree } from './lib/product';

export interface OperationsOptions {
  members: number;
  /** Give up waiting for one operation after this long. */
  timeoutMs: number;
}

export const OPERATIONS_DEFAULTS: OperationsOptions = { members: 5_000, timeoutMs: 20 * 60_000 };
export const OPERATIONS_QUICK: OperationsOptions = { members: 100, timeoutMs: 5 * 60_000 };

const CAMPAIGN = 'bench-ops';

export interface OperationsResult {
  tree: { commit: string; label: string };
  members: number;
  enrollPerSecond: number;
  /** Temporal's batch signal: operations per second from the job's start to its last completed signal. */
  baseline: { perSecond: number | null; completed: number; ms: number | null };
  /** Ours: members per second from the POST to COMPLETED (the snapshot included). */
  ours: {
    perSecond: number | null;
    ms: number | null;
    changed: number;
    refused: number;
    failed: number;
    /** Enrollments with exactly one schedule change, and with more than one (must be 0). */
    changedOnce: number;
    changedTwice: number;
  };
}

export async function measureOperations(tree: CodeTree, o: OperationsOptions): Promise<OperationsResult> {
  const product = await startProduct(tree);
  try {
    await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, { targetCents: 50_000, rewardPoints: 2_000 });
    const members = Array.from({ length: o.members }, (_, i) => `op-${String(i).padStart(6, '0')}`);
    const t0 = Date.now();
    await pool(members.length, 24, async (i) => {
      const e = await api(product, 'POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId: members[i] });
      if (e.status !== 201 && e.status !== 200) throw new Error(`enroll ${members[i]}: ${e.status}`);
    });
    const enrollPerSecond = perSecond(members.length, Date.now() - t0);
    say(`operations on ${tree.label}: ${members.length} enrolled (${enrollPerSecond}/s)`);
    await settle();

    // (1) Temporal's batch signal over the same workflows: a signal the member workflow has no handler for (one
    // workflow task each, nothing recorded), so it measures the batcher and the server, not our code.
    const service = product.temporal.workflowService;
    const jobId = `bench-batch-${randomUUID()}`;
    const b0 = Date.now();
    await service.startBatchOperation({
      namespace: 'default',
      jobId,
      reason: 'benchmark baseline',
      visibilityQuery: `WorkflowType = 'memberActivation' AND CampaignId = '${CAMPAIGN}' AND ExecutionStatus = 'Running'`,
      signalOperation: { signal: 'bench-noop', identity: 'bench' },
    });
    let completed = 0;
    let baselineMs: number | null = null;
    while (Date.now() - b0 < o.timeoutMs) {
      await delay(500);
      const d = await service.describeBatchOperation({ namespace: 'default', jobId });
      completed = Number(d.completeOperationCount ?? 0);
      if (d.state === 2 /* COMPLETED */ || d.state === 3 /* FAILED */) {
        baselineMs = Date.now() - b0;
        break;
      }
    }
    const baseline = { perSecond: baselineMs ? perSecond(completed, baselineMs) : null, completed, ms: baselineMs };
    say(`  batch signal: ${completed} in ${baselineMs ?? '–'} ms (${baseline.perSecond ?? '–'}/s)`);
    await settle();

    // (2) Ours.
    const s0 = Date.now();
    const started = await api<{ operationId: string }>(product, 'POST', '/v1/operations', {
      campaignId: CAMPAIGN,
      select: {},
      action: 'EXTEND_SCHEDULE',
      args: { extendGraceBy: 'PT1H' },
      reason: 'benchmark',
    });
    if (started.status !== 202) throw new Error(`start the operation: ${started.status}`);
    interface Report {
      state: string;
      processed: number;
      outcomes: { changed: number; refused: Record<string, number>; failed: number };
    }
    let report: Report | undefined;
    let oursMs: number | null = null;
    while (Date.now() - s0 < o.timeoutMs) {
      await delay(250);
      report = (await api<Report>(product, 'GET', `/v1/operations/${started.body.operationId}`)).body;
      if (report.state === 'COMPLETED' || report.state === 'FAILED') {
        oursMs = Date.now() - s0;
        break;
      }
    }
    const { rows } = await product.db.query<{ once: number; twice: number }>(
      `SELECT count(*) FILTER (WHERE jsonb_array_length(schedule_changes) = 1)::int AS once,
              count(*) FILTER (WHERE jsonb_array_length(schedule_changes) > 1)::int AS twice
       FROM enrollments WHERE campaign_id = $1`,
      [CAMPAIGN],
    );
    const ours = {
      perSecond: oursMs && report ? perSecond(report.processed, oursMs) : null,
      ms: oursMs,
      changed: report?.outcomes.changed ?? 0,
      refused: Object.values(report?.outcomes.refused ?? {}).reduce((a, b) => a + b, 0),
      failed: report?.outcomes.failed ?? 0,
      changedOnce: rows[0].once,
      changedTwice: rows[0].twice,
    };
    say(`  EXTEND_SCHEDULE: ${ours.changed} changed in ${oursMs ?? '–'} ms (${ours.perSecond ?? '–'}/s)`);
    return {
      tree: { commit: tree.commit, label: tree.label },
      members: members.length,
      enrollPerSecond,
      baseline,
      ours,
    };
  } finally {
    await product.stop();
  }
}
