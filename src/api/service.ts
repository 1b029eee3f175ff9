/**
 * What the API does, apart from HTTP: the fast path. Each operation answers as soon as PostgreSQL or
 * Temporal has durably accepted the intent; the member workflow does everything else.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Readable } from 'node:stream';
import { latestReconciliations, recordAccepted } from '../db/accepted-news';
import { appendAudit } from '../db/audit';
import { signalNews } from '../activities/delivery';
import { insertNotifications } from '../db/notifications';
import { campaignReport } from '../db/report';
import { createHash } from 'node:crypto';
import { resolveReviewItem } from '../activities/review-actions';
import { insertOperation, loadOperation, operationReport, previewSelection } from '../db/operations';
import { DRY_RUN_SAMPLE, type OperationRequest } from '../domain/operations';
import type { bulkOperation } from '../workflows/bulk-operation';
import { getReview, listReviews, type Review, type ReviewAction, type ReviewState } from '../db/reviews';
import { batchDigest, batchReport, digestOf, SettlementFileError, stageSettlementFile } from '../db/settlements';
import type { settlementBatch } from '../workflows/settlement-batch';
import {
  countByState,
  getCampaign,
  putCampaign,
  snapshotOf,
  type Campaign,
  type PutCampaignResult,
} from '../db/campaigns';
import { proveEnrollments, summary, type Proof } from './proofs';
import { runBacktest, type BacktestProgress, type BacktestReport, type BacktestRequest } from './backtest';
import { runReconcile, type ReconcileProgress, type ReconcileReport, type ReconcileRequest } from './reconcile';
import { repairLedgers, type LedgerRepairProgress, type LedgerRepairReport } from './ledgers';
import { createLiveViews, type Follower, type LiveViews } from './live';
import {
  countDecided,
  decidedEnrollments,
  getEnrollment,
  getLedger,
  insertEnrollment,
  newsTargets,
  setEnrollmentSchedule,
  type Enrollment,
} from '../db/enrollments';
import { inTransaction, type Db } from '../db/pool';
import { enrollmentSummary } from '../domain/describe';
import type { EnrollmentTerms } from '../domain/enrollment';
import { explain } from '../domain/evaluation';
import { assignGroup } from '../domain/holdout';
import { activationWorkflowId, operationWorkflowId, settlementWorkflowId } from '../domain/ids';
import { hasVerdict, type TransactionEvent } from '../domain/model';
import { scheduleFor, type CampaignTerms, type EnrollmentSchedule } from '../domain/terms';
import { canonicalTime } from '../domain/time';
import type { MemberView } from '../domain/view';
import { enrolledAudit, enrolledNotifications } from '../workflows/enrolled';
import { ErrorType } from '../domain/errors';
import { asksFor, earlierChange } from '../domain/schedule';
import { cancelUpdate, changeScheduleUpdate, memberViewQuery, type ScheduleChangeRequest } from '../workflows/messages';
import type { ActivationInput, memberActivation } from '../workflows/member-activation';
import {
  ActivationStateKey,
  CampaignIdKey,
  CountedCentsKey,
  ExperimentGroupKey,
  EvaluatesAtKey,
  MemberIdKey,
} from '../workflows/search-attributes';
import type { Logger } from '../logger';
import { TEMPORAL_CALL_DEADLINE_MS, updateAborted } from './dependencies';
import { ApiError, notFound } from './errors';
import type { TransactionInput } from './schemas';

/**
 * Backtests one API process runs at once: each reads a campaign's whole history, and a few at a time would take the
 * database's attention from the members. One more is answered 429 BACKTEST_BUSY with Retry-After.
 */
export const MAX_CONCURRENT_BACKTESTS = 2;

/** Reconciliations one API process runs at once (each reads a campaign's whole record of accepted news). */
export const MAX_CONCURRENT_RECONCILES = 2;

/** Readiness checks answer within this, below the probes' timeouts (deploy/k8s: 3 s). */
const READY_TIMEOUT_MS = 2_000;

export interface ServiceDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  rewardRetryForMs: number;
  /** Staged lines per settlement activity call (SETTLEMENT_CHUNK_SIZE); unset → the batch workflow's default. */
  settlementChunkSize?: number;
  /** Test hook: continue-as-new earlier than the server suggests. */
  historyEventLimit?: number;
  logger?: Logger;
}

export interface EnrollResult {
  created: boolean;
  enrollment: {
    campaignId: string;
    memberId: string;
    group: Enrollment['group'];
    workflowId: string;
    state: Enrollment['state'];
  } & EnrollmentSchedule;
}

export type Service = ReturnType<typeof createService>;

/**
 * A long read of a whole campaign, a few at a time per API instance: one more is answered 429 `code` (with
 * Retry-After) instead of taking the database's attention from the members.
 */
function slots(max: number, code: string, what: string) {
  let running = 0;
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= max) {
      throw new ApiError(429, code, `${max} ${what} are running on this API instance; try again when one has finished`);
    }
    running += 1;
    try {
      return await fn();
    } finally {
      running -= 1;
    }
  };
}

/** How long the API waits before it sends an update the server gave up on again. */
const UPDATE_RETRY_MS = 200;

/** The update id of an enrollment's opt-out: one per enrollment, so a retried opt-out meets the first one. */
const CANCEL_UPDATE_ID = 'cancel';

/** A request's content as a key: the SHA-256 of its parts, in order, as JSON (an absent part reads null). */
const digestOfRequest = (parts: readonly unknown[]): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/** A deadline change the enrollment refuses: 409 with the code the workflow gave and the state it is in. */
function scheduleRefused(code: string, message: string | undefined, state: string): ApiError {
  return new ApiError(409, code, message ?? `the enrollment already has a verdict (${state})`, [{ state }]);
}

export function createService(deps: ServiceDeps) {
  const { db, temporal } = deps;
  const backtestSlots = slots(MAX_CONCURRENT_BACKTESTS, 'BACKTEST_BUSY', 'backtests');
  const reconcileSlots = slots(MAX_CONCURRENT_RECONCILES, 'RECONCILE_BUSY', 'reconciliations or ledger repairs');
  /** The live views' one listening connection, opened when the first stream is. */
  let live: LiveViews | undefined;
  /** Every Temporal call of the API has a deadline: a frontend that is away costs a caller seconds, not minutes. */
  const call = <T>(fn: () => Promise<T>): Promise<T> =>
    temporal.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, fn);
  /**
   * An update, tried again within the same deadline while the server gives up on it because its workflow task failed
   * (nothing applied; the same update id is taken by the next task). Past the deadline: a 503, safe to retry.
   */
  const update = async <T>(fn: () => Promise<T>): Promise<T> => {
    const until = Date.now() + TEMPORAL_CALL_DEADLINE_MS;
    for (;;) {
      try {
        return await temporal.withDeadline(until, fn);
      } catch (err) {
        if (!updateAborted(err) || Date.now() + UPDATE_RETRY_MS >= until) throw err;
        await new Promise((r) => setTimeout(r, UPDATE_RETRY_MS));
      }
    }
  };

  const requireCampaign = async (campaignId: string): Promise<Campaign> => {
    const campaign = await getCampaign(db, campaignId);
    if (!campaign) throw notFound(`campaign ${campaignId}`);
    return campaign;
  };

  const requireEnrollment = async (campaignId: string, memberId: string): Promise<Enrollment> => {
    const enrollment = await getEnrollment(db, campaignId, memberId);
    if (!enrollment) throw notFound(`enrollment of member ${memberId} in campaign ${campaignId}`);
    return enrollment;
  };

  const enrollmentBody = (e: Enrollment): EnrollResult['enrollment'] => ({
    campaignId: e.campaignId,
    memberId: e.memberId,
    group: e.group,
    workflowId: e.workflowId,
    state: e.state,
    enrolledAt: e.enrolledAt,
    windowEndsAt: e.windowEndsAt,
    evaluatesAt: e.evaluatesAt,
  });

  return {
    async putCampaign(terms: CampaignTerms): Promise<PutCampaignResult> {
      return putCampaign(db, terms);
    },

    async getCampaign(campaignId: string) {
      const campaign = await requireCampaign(campaignId);
      return { ...campaign, counts: await countByState(db, campaignId) };
    },

    /**
     * Enrolls the member: one workflow per (campaign, member), ever. The PostgreSQL row is the durable
     * record that the enrollment exists (Temporal forgets closed workflows after its retention period);
     * the workflow id plus REJECT_DUPLICATE stops a concurrent twin request from starting a second run.
     */
    async enroll(campaignId: string, memberId: string, enrolledAt?: string): Promise<EnrollResult> {
      const existing = await getEnrollment(db, campaignId, memberId);
      if (existing) return { created: false, enrollment: enrollmentBody(existing) };
      const campaign = await requireCampaign(campaignId);

      const workflowId = activationWorkflowId(campaignId, memberId);
      const schedule = scheduleFor(campaign, enrolledAt ? canonicalTime(enrolledAt) : new Date().toISOString());
      const terms = snapshotOf(campaign);
      const group = assignGroup(campaignId, memberId, campaign.holdoutPercent);
      // The snapshot names the group only where there is a holdout (as the terms name the share).
      const grouped = campaign.holdoutPercent ? { group } : {};
      const enrollmentTerms: EnrollmentTerms = { campaign: terms, memberId, schedule, ...grouped };
      const input: ActivationInput = {
        campaign: terms,
        memberId,
        schedule,
        ...grouped,
        rewardRetryForMs: deps.rewardRetryForMs,
        recordedAtEnrollment: true,
        ...(deps.historyEventLimit ? { historyEventLimit: deps.historyEventLimit } : {}),
      };
      const row = {
        campaignId,
        memberId,
        workflowId,
        targetCents: campaign.targetCents,
        rewardPoints: campaign.rewardPoints,
        schedule,
        group,
      };
      // The row first, in a transaction held open across the start: a row that cannot be written starts no
      // workflow, and a twin request waits at its insert until this one has committed, then finds the row.
      const created = await inTransaction(db, async (client) => {
        if (!(await insertEnrollment(client, row))) return false;
        // The start's record, in the same transaction as the row: the run has nothing to write before its first news.
        const at = new Date().toISOString();
        await appendAudit(client, row, [enrolledAudit(enrollmentTerms, at)]);
        await insertNotifications(client, enrolledNotifications(workflowId, enrollmentTerms, at));
        try {
          await call(() =>
            temporal.workflow.start<typeof memberActivation>('memberActivation', {
              workflowId,
              taskQueue: deps.taskQueue,
              args: [input],
              workflowIdReusePolicy: 'REJECT_DUPLICATE',
              workflowIdConflictPolicy: 'FAIL',
              memo: { schedule, campaign: terms },
              staticSummary: enrollmentSummary(
                memberId,
                campaignId,
                terms.targetCents,
                terms.rewardPoints,
                schedule,
                group,
              ),
              typedSearchAttributes: [
                { key: CampaignIdKey, value: campaignId },
                { key: MemberIdKey, value: memberId },
                { key: ActivationStateKey, value: 'ENROLLED' },
                { key: EvaluatesAtKey, value: new Date(schedule.evaluatesAt) },
                { key: CountedCentsKey, value: 0 },
                { key: ExperimentGroupKey, value: group },
              ],
            }),
          );
          return true;
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          // The workflow runs but had no row: an earlier request started it and lost its transaction (PostgreSQL
          // went away, the API died). Its row says what it was started with, so every answer agrees.
          const memo = (await call(() => temporal.workflow.getHandle(workflowId).describe())).memo as
            { schedule?: EnrollmentSchedule } | undefined;
          if (memo?.schedule) await setEnrollmentSchedule(client, campaignId, memberId, memo.schedule);
          return false;
        }
      });
      return { created, enrollment: enrollmentBody(await requireEnrollment(campaignId, memberId)) };
    },

    async getMember(campaignId: string, memberId: string): Promise<MemberView> {
      return requireEnrollment(campaignId, memberId);
    },

    /**
     * Follows a member's view (api/live.ts): 404 for no such enrollment, 503 while PostgreSQL cannot listen. The
     * follower hears the view as it stands if it is newer than the follower's version, then every newer one.
     */
    async follow(campaignId: string, memberId: string, follower: Follower): Promise<() => void> {
      await requireEnrollment(campaignId, memberId);
      live ??= createLiveViews({
        connection: db.options,
        read: (c, m) => getEnrollment(db, c, m),
        ...(deps.logger ? { onError: (err) => deps.logger!.warn({ err }, 'live member views: PostgreSQL') } : {}),
      });
      return live.follow(campaignId, memberId, follower);
    },

    /** Member streams open on this instance. */
    followers(): number {
      return live?.followers ?? 0;
    },

    /** Closes what the service holds open beyond requests (the live views' listening connection). */
    async close(): Promise<void> {
      await live?.close();
      live = undefined;
    },

    async explain(campaignId: string, memberId: string) {
      const e = await requireEnrollment(campaignId, memberId);
      const ledger = await getLedger(db, e.workflowId);
      const explanation = explain(ledger, e, e.targetCents, e.verdict, e.scheduleChanges, e.group);
      const { schedule: _schedule, ...rest } = explanation;
      return {
        campaignId,
        memberId,
        group: e.group,
        state: e.state,
        enrolledAt: e.enrolledAt,
        windowEndsAt: e.windowEndsAt,
        evaluatesAt: e.evaluatesAt,
        ...rest,
        ...(e.reward ? { reward: e.reward } : {}),
      };
    },

    /** The proof of one enrollment's verdict (api/proofs.ts): read-only, from the audit trail. */
    async prove(campaignId: string, memberId: string): Promise<Proof> {
      const e = await requireEnrollment(campaignId, memberId);
      const [proof] = await proveEnrollments(db, [e]);
      return proof;
    },

    /** A page of a campaign's decided enrollments, proved; the first page also counts them. */
    async proveCampaign(campaignId: string, page: { after?: string; limit: number }) {
      await requireCampaign(campaignId);
      const enrollments = await decidedEnrollments(db, campaignId, page.after, page.limit);
      const items = (await proveEnrollments(db, enrollments)).map(summary);
      const total = page.after === undefined ? await countDecided(db, campaignId) : undefined;
      return {
        ...(total !== undefined ? { total } : {}),
        items,
        ...(enrollments.length === page.limit ? { next: enrollments[enrollments.length - 1].memberId } : {}),
      };
    },

    /**
     * The campaign's recorded enrollments replayed under other terms, beside what actually happened (api/backtest.ts).
     * Read-only; `onProgress` hears each page; `signal` stops it between pages.
     */
    async backtest(
      campaignId: string,
      request: BacktestRequest,
      opts: { signal?: AbortSignal; onProgress?: (p: BacktestProgress) => void } = {},
    ): Promise<BacktestReport> {
      // The slot first: a busy instance says so (429) without asking a database the running ones keep busy.
      return backtestSlots(async () => runBacktest(db, await requireCampaign(campaignId), request, opts));
    },

    /**
     * Every piece of news the campaign's enrollments were sent, held against what each applied (api/reconcile.ts); with
     * `repair`, what is missing is delivered again (it counts once). Two at a time per API instance, like backtests.
     */
    async reconcile(
      campaignId: string,
      request: ReconcileRequest,
      opts: { signal?: AbortSignal; onProgress?: (p: ReconcileProgress) => void } = {},
    ): Promise<ReconcileReport> {
      return reconcileSlots(async () => {
        await requireCampaign(campaignId);
        return runReconcile({ db, temporal, call }, campaignId, request, opts);
      });
    },

    /**
     * The campaign's stored ledgers held against the truth (api/ledgers.ts) and made whole where they are not: a one-time
     * repair of what records dropped before the patch safe-seams, safe to run again. It takes a reconciliation's slot.
     */
    async repairLedgers(
      campaignId: string,
      opts: { signal?: AbortSignal; onProgress?: (p: LedgerRepairProgress) => void } = {},
    ): Promise<LedgerRepairReport> {
      return reconcileSlots(async () => {
        await requireCampaign(campaignId);
        return repairLedgers({ db, temporal, call }, campaignId, opts);
      });
    },

    /** Each campaign's latest reconciliation (for /metrics). */
    async reconciliations() {
      return latestReconciliations(db);
    },

    /**
     * Opt-out before the verdict. The workflow decides (an update), so a race with the verdict is settled there. Safe to
     * retry: one opt-out per enrollment (the update's id), so a retry after a 503 whose opt-out was applied meets that
     * opt-out and answers with the view, as does an opt-out of a member already opted out.
     */
    async cancel(campaignId: string, memberId: string, request: { reason?: string; requestedBy?: string }) {
      const e = await requireEnrollment(campaignId, memberId);
      const alreadyDecided = (state: string) =>
        new ApiError(409, 'ALREADY_DECIDED', `the enrollment already has a verdict (${state})`, [{ state }]);
      if (e.state === 'CANCELLED') return e;
      if (hasVerdict(e.state)) throw alreadyDecided(e.state);
      const handle = temporal.workflow.getHandle(e.workflowId);
      /** The opt-out is done (by this request's first try, or another): the view as it stands. */
      const optedOut = async (): Promise<MemberView> => {
        const row = await getEnrollment(db, campaignId, memberId);
        if (row?.state === 'CANCELLED') return row;
        const view = await call(() => handle.query(memberViewQuery));
        if (view.state !== 'CANCELLED') throw alreadyDecided(view.state);
        return view;
      };
      try {
        return await update(() => handle.executeUpdate(cancelUpdate, { args: [request], updateId: CANCEL_UPDATE_ID }));
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          const cause = err.cause;
          if (cause instanceof ApplicationFailure && cause.type === ErrorType.ALREADY_DECIDED) {
            const state = String((cause.details?.[0] as string | undefined) ?? 'decided');
            if (state === 'CANCELLED') return optedOut();
            throw alreadyDecided(state);
          }
        }
        if (err instanceof WorkflowNotFoundError) {
          // The run has ended: it recorded its verdict before it did.
          const row = await requireEnrollment(campaignId, memberId);
          if (row.state === 'CANCELLED') return row;
          throw alreadyDecided(row.state);
        }
        throw err;
      }
    },

    /**
     * Moves an open enrollment's deadlines later. The workflow decides (an update with a validator), so a race with a
     * deadline is settled there; a refusal changes nothing and says why (409) in the contract's error shape. Made once
     * per key (the Idempotency-Key, else the digest of what is asked): the same request again, after a 503 too, is
     * answered with the view holding the change it made; the key with other content is refused (422).
     */
    async changeSchedule(
      campaignId: string,
      memberId: string,
      request: ScheduleChangeRequest,
      opts: { idempotencyKey?: string } = {},
    ) {
      const e = await requireEnrollment(campaignId, memberId);
      const requestId =
        opts.idempotencyKey ??
        `sha256:${digestOfRequest([campaignId, memberId, request.extendWindowBy, request.extendGraceBy, request.reason])}`;
      const keyed: ScheduleChangeRequest = { ...request, requestId };
      const reused = (message: string) => new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', message, [{ requestId }]);
      const earlier = earlierChange(e.scheduleChanges, keyed);
      if (earlier) {
        if (!asksFor(earlier, keyed)) {
          throw reused(`the key ${requestId} made another change of these deadlines; send this one with a new key`);
        }
        return e;
      }
      if (hasVerdict(e.state)) throw scheduleRefused(ErrorType.ALREADY_DECIDED, undefined, e.state);
      try {
        return await update(() =>
          temporal.workflow
            .getHandle(e.workflowId)
            .executeUpdate(changeScheduleUpdate, { args: [keyed], updateId: `schedule:${requestId}` }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
          const { type, message, details } = err.cause;
          const state = (details?.[0] as string | undefined) ?? e.state;
          if (type === ErrorType.INVALID_SCHEDULE_CHANGE) throw new ApiError(400, 'VALIDATION_FAILED', message);
          if (type === ErrorType.IDEMPOTENCY_KEY_REUSED) throw reused(message);
          if (
            type === ErrorType.ALREADY_DECIDED ||
            type === ErrorType.WINDOW_CLOSED ||
            type === ErrorType.EXTENSION_LIMIT
          ) {
            throw scheduleRefused(type, message, state);
          }
        }
        if (err instanceof WorkflowNotFoundError) {
          // The run has ended (its verdict is recorded): the change was made before it, or never.
          const row = await requireEnrollment(campaignId, memberId);
          const made = earlierChange(row.scheduleChanges, keyed);
          if (made && asksFor(made, keyed)) return row;
          throw scheduleRefused(ErrorType.ALREADY_DECIDED, undefined, row.state);
        }
        throw err;
      }
    },

    /**
     * Hands a real-time transaction to every enrollment of the member. Answers once it is on record as accepted
     * (db/accepted-news.ts) and Temporal has durably accepted each signal; dedupe by transactionId happens in the
     * workflow, so a retry is harmless. An enrollment with a verdict records it as late: its workflow if still
     * running, else PostgreSQL directly.
     */
    async postTransaction(tx: TransactionInput) {
      const event: TransactionEvent = {
        source: 'REALTIME',
        ...tx,
        occurredAt: canonicalTime(tx.occurredAt),
        receivedAt: new Date().toISOString(),
      };
      const targets = (await newsTargets(db, [tx.memberId])).get(tx.memberId) ?? [];
      // What we accept is on record before we hand it over (reconciliation holds it against what each enrollment
      // applied): a signal that never arrives, or a run that drops it, is found and delivered again.
      await recordAccepted(db, targets, [event]);
      const answers = await Promise.all(
        targets.map(async (target) => ({
          campaignId: target.campaignId,
          workflowId: target.workflowId,
          ...(await signalNews({ db, temporal, call }, target, event)),
        })),
      );
      return {
        transactionId: tx.transactionId,
        enrollments: answers.filter((a) => !a.late).map(({ campaignId, workflowId }) => ({ campaignId, workflowId })),
        late: answers.filter((a) => a.late).map(({ campaignId, workflowId }) => ({ campaignId, workflowId })),
      };
    },

    /**
     * Stages a settlement file and starts its batch workflow. The same batch again (by Idempotency-Key, or by
     * content) is answered 200 and applied once; its workflow is started if a crash left it unstarted.
     */
    async submitSettlement(body: Readable, opts: { idempotencyKey?: string; submittedBy?: string }) {
      let created = false;
      let batchId: string;
      let counts: { records?: number; rejected?: number } = {};
      const reused = (id: string) =>
        new ApiError(
          422,
          'IDEMPOTENCY_KEY_REUSED',
          `Idempotency-Key ${id} was used for another settlement file (batch ${id}); send this file with a new key`,
          [{ batchId: id }],
        );
      const earlier = opts.idempotencyKey ? await batchDigest(db, opts.idempotencyKey) : undefined;
      if (opts.idempotencyKey && earlier !== undefined) {
        // The same key again: a repeat if it is the same file, a mistake if it is another one.
        if ((await digestOf(body)) !== earlier) throw reused(opts.idempotencyKey);
        batchId = opts.idempotencyKey;
      } else {
        try {
          const staged = await stageSettlementFile(db, body, opts);
          batchId = staged.batchId;
          if (staged.outcome === 'STAGED') {
            created = true;
            counts = { records: staged.records, rejected: staged.rejected };
          } else if (!staged.sameBody) {
            throw reused(staged.batchId);
          }
        } catch (err) {
          if (err instanceof SettlementFileError) {
            throw new ApiError(
              400,
              'INVALID_SETTLEMENT_FILE',
              err.message,
              err.line ? [{ line: err.line }] : undefined,
            );
          }
          throw err;
        }
      }
      try {
        await call(() =>
          temporal.workflow.start<typeof settlementBatch>('settlementBatch', {
            workflowId: settlementWorkflowId(batchId),
            taskQueue: deps.taskQueue,
            args: [{ batchId, ...(deps.settlementChunkSize ? { chunkSize: deps.settlementChunkSize } : {}) }],
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            workflowIdConflictPolicy: 'FAIL',
            memo: { batchId },
          }),
        );
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return { created, body: { batchId, ...counts } };
    },

    async settlementReport(batchId: string) {
      const report = await batchReport(db, batchId);
      if (!report) throw notFound(`settlement batch ${batchId}`);
      return report;
    },

    async listReviews(filter: { state?: ReviewState; campaignId?: string }): Promise<Review[]> {
      return listReviews(db, filter);
    },

    /**
     * DISMISS closes the item with the note. RETRY_REWARD first starts the retry workflow (`review:{id}`, once
     * per item), which issues the reward with the enrollment's idempotency key, then closes the item.
     */
    async resolveReview(id: string, req: { action: ReviewAction; note: string; resolvedBy?: string }): Promise<Review> {
      const review = await getReview(db, id);
      if (!review) throw notFound(`review ${id}`);
      const alreadyResolved = (r: Review) =>
        new ApiError(409, 'REVIEW_ALREADY_RESOLVED', `review ${id} is already resolved`, [r.resolution]);
      /** Resolved as this request asks (by its own first try, answered 503 or lost): the same answer again. */
      const asAsked = (r: Review) => r.resolution?.action === req.action && r.resolution?.note === req.note;
      if (review.state !== 'OPEN') {
        if (asAsked(review)) return review;
        throw alreadyResolved(review);
      }
      const e = await requireEnrollment(review.campaignId, review.memberId);
      const resolved = await resolveReviewItem(
        { db, temporal, taskQueue: deps.taskQueue, rewardRetryForMs: deps.rewardRetryForMs, call },
        review,
        e,
        req,
      );
      if (!resolved) {
        const now = (await getReview(db, id))!;
        if (asAsked(now)) return now;
        throw alreadyResolved(now);
      }
      return resolved;
    },

    /**
     * A bulk operation: a dry run counts and samples the selection; otherwise the operation is recorded and its
     * workflow started (202). The same Idempotency-Key again answers the same operation (200) and starts nothing; with
     * another request it is refused (422).
     */
    async startOperation(
      req: OperationRequest & { dryRun?: boolean },
      opts: { idempotencyKey?: string } = {},
    ): Promise<{ created: boolean; body: Record<string, unknown> }> {
      await requireCampaign(req.campaignId);
      const select = {
        ...req.select,
        ...(req.select.evaluatesBefore ? { evaluatesBefore: canonicalTime(req.select.evaluatesBefore) } : {}),
        ...(req.select.evaluatesAfter ? { evaluatesAfter: canonicalTime(req.select.evaluatesAfter) } : {}),
      };
      if (req.dryRun) {
        const preview = await previewSelection(db, req.campaignId, select, DRY_RUN_SAMPLE);
        return { created: false, body: { dryRun: true, ...preview } };
      }
      const { dryRun: _dryRun, ...request } = { ...req, select };
      // Without a key the request is its own key: the same operation asked again (a retry after a 503) is the same one.
      const operationId =
        opts.idempotencyKey ??
        `op-${digestOfRequest([request.campaignId, request.action, request.args, request.select, request.reason, request.requestedBy ?? null]).slice(0, 32)}`;
      const created = await insertOperation(db, operationId, request);
      if (!created) {
        const earlier = await loadOperation(db, operationId);
        const same =
          earlier &&
          JSON.stringify([earlier.campaignId, earlier.action, earlier.args, earlier.select, earlier.reason]) ===
            JSON.stringify([request.campaignId, request.action, request.args, request.select, request.reason]);
        if (!same) {
          throw new ApiError(
            422,
            'IDEMPOTENCY_KEY_REUSED',
            `Idempotency-Key ${operationId} was used for another operation; send this one with a new key`,
            [{ operationId }],
          );
        }
      }
      // Started again on a repeat too: a crash may have come between the row and the start (the id makes it once).
      try {
        await call(() =>
          temporal.workflow.start<typeof bulkOperation>('bulkOperation', {
            workflowId: operationWorkflowId(operationId),
            taskQueue: deps.taskQueue,
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            args: [{ operationId }],
          }),
        );
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      const op = await loadOperation(db, operationId);
      return { created, body: { operationId, state: op?.state ?? 'SELECTING' } };
    },

    async getOperation(id: string) {
      const report = await operationReport(db, id);
      if (!report) throw notFound(`operation ${id}`);
      const { id: operationId, ...rest } = report;
      return { operationId, ...rest };
    },

    async campaignReports() {
      const { rows } = await db.query<{ campaign_id: string }>('SELECT campaign_id FROM campaigns ORDER BY 1');
      return Promise.all(rows.map((r) => campaignReport(db, r.campaign_id)));
    },

    async campaignReport(campaignId: string) {
      await requireCampaign(campaignId);
      return campaignReport(db, campaignId);
    },

    /** Whether PostgreSQL and Temporal answer, each within READY_TIMEOUT_MS (a probe must not hang). */
    async ready(): Promise<{ postgres: boolean; temporal: boolean }> {
      const answers = (check: Promise<unknown>) =>
        Promise.race([
          check.then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((resolve) => setTimeout(resolve, READY_TIMEOUT_MS, false).unref()),
        ]);
      const [postgres, temporalOk] = await Promise.all([
        answers(db.query('SELECT 1')),
        answers(temporal.connection.workflowService.getSystemInfo({})),
      ]);
      return { postgres, temporal: temporalOk };
    },
  };
}
