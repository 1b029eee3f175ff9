/**
 * Bulk operations in PostgreSQL: the operation, the snapshot of the members it selected (each with its outcome: the
 * operation's checkpoint and its counts), and the selection as SQL over the read model.
 */
import type { ActivationState } from '../domain/model';
import type {
  MemberOutcome,
  OperationAction,
  OperationArgs,
  OperationRequest,
  OperationState,
  Selection,
} from '../domain/operations';
import type { Queryable } from './queryable';

/** The WHERE clause of a selection over `enrollments e`, with its parameters after `offset` (the campaign is $1). */
function selectionWhere(select: Selection, params: unknown[]): string {
  const where = ['e.campaign_id = $1'];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (select.states?.length) add((p) => `e.state = ANY(${p})`, select.states);
  if (select.evaluatesBefore) add((p) => `e.evaluates_at < ${p}`, select.evaluatesBefore);
  if (select.evaluatesAfter) add((p) => `e.evaluates_at >= ${p}`, select.evaluatesAfter);
  if (select.countedBelow !== undefined) add((p) => `e.counted_cents < ${p}`, select.countedBelow);
  if (select.countedAtLeast !== undefined) add((p) => `e.counted_cents >= ${p}`, select.countedAtLeast);
  if (select.memberIds?.length) add((p) => `e.member_id = ANY(${p})`, select.memberIds);
  return where.join(' AND ');
}

export interface SelectedMember {
  memberId: string;
  state: ActivationState;
  countedCents: number;
  evaluatesAt: string;
}

/** How many enrollments the selection holds now, and the first `sample` of them by member id (a dry run). */
export async function previewSelection(
  db: Queryable,
  campaignId: string,
  select: Selection,
  sample: number,
): Promise<{ count: number; sample: SelectedMember[] }> {
  const params: unknown[] = [campaignId];
  const where = selectionWhere(select, params);
  const { rows: counted } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM enrollments e WHERE ${where}`,
    params,
  );
  const { rows } = await db.query<{
    member_id: string;
    state: ActivationState;
    counted_cents: number;
    evaluates_at: Date;
  }>(
    `SELECT member_id, state, counted_cents, evaluates_at FROM enrollments e WHERE ${where}
     ORDER BY member_id LIMIT ${Math.max(0, Math.floor(sample))}`,
    params,
  );
  return {
    count: Number(counted[0].n),
    sample: rows.map((r) => ({
      memberId: r.member_id,
      state: r.state,
      countedCents: r.counted_cents,
      evaluatesAt: r.evaluates_at.toISOString(),
    })),
  };
}

/** Records a new operation (SELECTING); false when one with this id exists. */
export async function insertOperation(db: Queryable, id: string, req: OperationRequest): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO operations (id, campaign_id, action, args, selection, reason, requested_by, state, selected)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'SELECTING', 0) ON CONFLICT (id) DO NOTHING`,
    [
      id,
      req.campaignId,
      req.action,
      JSON.stringify(req.args),
      JSON.stringify(req.select),
      req.reason,
      req.requestedBy ?? null,
    ],
  );
  return rowCount === 1;
}

/**
 * Takes the selection's snapshot: every member it holds now becomes a PENDING row of the operation (once: a repeat
 * after a crash adds nothing and keeps the outcomes), and the operation RUNNING with its count.
 */
export async function snapshotSelection(db: Queryable, operationId: string): Promise<number> {
  const op = await loadOperation(db, operationId);
  if (!op) throw new Error(`no operation ${operationId}`);
  if (op.state !== 'SELECTING') return op.selected;
  const params: unknown[] = [op.campaignId];
  const where = selectionWhere(op.select, params);
  params.push(operationId);
  await db.query(
    `INSERT INTO operation_members (operation_id, member_id, outcome)
     SELECT $${params.length}, e.member_id, 'PENDING' FROM enrollments e WHERE ${where}
     ON CONFLICT DO NOTHING`,
    params,
  );
  const { rows } = await db.query<{ n: string }>(
    `UPDATE operations SET state = 'RUNNING',
       selected = (SELECT count(*) FROM operation_members WHERE operation_id = $1)
     WHERE id = $1 RETURNING selected AS n`,
    [operationId],
  );
  return Number(rows[0].n);
}

export interface OperationRow {
  id: string;
  campaignId: string;
  action: OperationAction;
  args: OperationArgs;
  select: Selection;
  reason: string;
  requestedBy?: string;
  state: OperationState;
  selected: number;
  failure?: string;
  createdAt: string;
  finishedAt?: string;
}

export async function loadOperation(db: Queryable, id: string): Promise<OperationRow | undefined> {
  const { rows } = await db.query<{
    id: string;
    campaign_id: string;
    action: OperationAction;
    args: OperationArgs;
    selection: Selection;
    reason: string;
    requested_by: string | null;
    state: OperationState;
    selected: number;
    failure: string | null;
    created_at: Date;
    finished_at: Date | null;
  }>('SELECT * FROM operations WHERE id = $1', [id]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    campaignId: r.campaign_id,
    action: r.action,
    args: r.args,
    select: r.selection,
    reason: r.reason,
    ...(r.requested_by ? { requestedBy: r.requested_by } : {}),
    state: r.state,
    selected: r.selected,
    ...(r.failure ? { failure: r.failure } : {}),
    createdAt: r.created_at.toISOString(),
    ...(r.finished_at ? { finishedAt: r.finished_at.toISOString() } : {}),
  };
}

/** The next members still PENDING after `after` (by member id), with their enrollment's workflow and state. */
export async function pendingMembers(
  db: Queryable,
  operationId: string,
  after: string | undefined,
  limit: number,
): Promise<{ memberId: string; workflowId: string; state: ActivationState }[]> {
  const { rows } = await db.query<{ member_id: string; workflow_id: string; state: ActivationState }>(
    `SELECT m.member_id, e.workflow_id, e.state
     FROM operation_members m
     JOIN operations o ON o.id = m.operation_id
     JOIN enrollments e ON e.campaign_id = o.campaign_id AND e.member_id = m.member_id
     WHERE m.operation_id = $1 AND m.outcome = 'PENDING' AND ($2::text IS NULL OR m.member_id > $2)
     ORDER BY m.member_id LIMIT $3`,
    [operationId, after ?? null, limit],
  );
  return rows.map((r) => ({ memberId: r.member_id, workflowId: r.workflow_id, state: r.state }));
}

export interface MemberResult {
  memberId: string;
  outcome: Exclude<MemberOutcome, 'PENDING'>;
  detail?: string;
}

/** Records members' outcomes; a member already decided keeps its first outcome. */
export async function recordMemberOutcomes(db: Queryable, operationId: string, results: readonly MemberResult[]) {
  if (results.length === 0) return;
  await db.query(
    `UPDATE operation_members m SET outcome = r->>'outcome', detail = r->>'detail', recorded_at = now()
     FROM jsonb_array_elements($2::jsonb) AS r
     WHERE m.operation_id = $1 AND m.member_id = r->>'memberId' AND m.outcome = 'PENDING'`,
    [operationId, JSON.stringify(results)],
  );
}

export async function finishOperation(db: Queryable, operationId: string, failure?: string): Promise<void> {
  await db.query(
    `UPDATE operations SET state = $2, failure = $3, finished_at = now()
     WHERE id = $1 AND state IN ('SELECTING', 'RUNNING')`,
    [operationId, failure ? 'FAILED' : 'COMPLETED', failure ?? null],
  );
}

export interface OperationReport extends OperationRow {
  processed: number;
  outcomes: { changed: number; refused: Record<string, number>; failed: number; pending: number };
  /** Some refused or failed members, with why (the first by member id). */
  exceptions: { memberId: string; outcome: MemberOutcome; detail?: string }[];
}

export async function operationReport(db: Queryable, id: string): Promise<OperationReport | undefined> {
  const op = await loadOperation(db, id);
  if (!op) return undefined;
  const { rows } = await db.query<{ outcome: MemberOutcome; detail: string | null; n: string }>(
    `SELECT outcome, CASE WHEN outcome = 'REFUSED' THEN detail END AS detail, count(*) AS n
     FROM operation_members WHERE operation_id = $1 GROUP BY 1, 2`,
    [id],
  );
  const outcomes = { changed: 0, refused: {} as Record<string, number>, failed: 0, pending: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    if (r.outcome === 'CHANGED') outcomes.changed += n;
    else if (r.outcome === 'FAILED') outcomes.failed += n;
    else if (r.outcome === 'PENDING') outcomes.pending += n;
    else outcomes.refused[r.detail ?? 'REFUSED'] = (outcomes.refused[r.detail ?? 'REFUSED'] ?? 0) + n;
  }
  const { rows: odd } = await db.query<{ member_id: string; outcome: MemberOutcome; detail: string | null }>(
    `SELECT member_id, outcome, detail FROM operation_members
     WHERE operation_id = $1 AND outcome IN ('REFUSED', 'FAILED') ORDER BY member_id LIMIT 20`,
    [id],
  );
  const refused = Object.values(outcomes.refused).reduce((a, b) => a + b, 0);
  return {
    ...op,
    processed: outcomes.changed + refused + outcomes.failed,
    outcomes,
    exceptions: odd.map((r) => ({
      memberId: r.member_id,
      outcome: r.outcome,
      ...(r.detail ? { detail: r.detail } : {}),
    })),
  };
}

/** Whether this operation already left its mark in the enrollment's audit trail (a change made before a crash). */
export async function operationAudited(db: Queryable, workflowId: string, operationId: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM audit_events WHERE workflow_id = $1 AND payload->>'operationId' = $2 LIMIT 1`,
    [workflowId, operationId],
  );
  return rows.length > 0;
}
