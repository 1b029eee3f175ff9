/**
 * A campaign's store of decided enrollments, written straight into PostgreSQL (through the chaining trigger) as the
 * member workflow would have written them: the rows and audit trails the verifier and the backtest read at scale. And
 * the compiled CLI run against it with its memory watched.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  apply,
  enroll,
  evaluate,
  initialEnrollment,
  rewardOutcome,
  windowEnded,
  type EnrollmentState,
  type EnrollmentTerms,
  type Step,
} from '../../src/domain/enrollment';
import { activationWorkflowId } from '../../src/domain/ids';
import { hasVerdict, type TransactionEvent } from '../../src/domain/model';
import type { AuditEntry } from '../../src/domain/records';
import { scheduleFor, type CampaignTerms } from '../../src/domain/terms';
import type pg from 'pg';
import { measuredNodeArgs, rng } from './common';
import type { CodeTree, Product } from './product';

/**
 * One decided enrollment's trail and row, as the member workflow would have written them. With `settle`, the bank's
 * settlement file settles the first load in the window (a SETTLEMENT news line; the ledger says SETTLED).
 */
export function decided(
  terms: EnrollmentTerms,
  random: () => number,
  settle = false,
): { lines: AuditEntry[]; e: EnrollmentState } {
  let e = initialEnrollment();
  const lines: AuditEntry[] = [];
  const take = (step: Step<unknown>, at: string) => {
    e = step.enrollment;
    for (const a of step.audit) {
      lines.push({
        key: `seq:${lines.length + 1}`,
        type: a.type,
        source: a.source,
        occurredAt: at,
        payload: a.payload,
      });
    }
  };
  const { schedule } = terms;
  take(enroll(terms, e, schedule.enrolledAt), schedule.enrolledAt);
  const day = (n: number) => new Date(Date.parse(schedule.enrolledAt) + n * 86_400_000).toISOString();
  for (const [i, d] of [2, 9].entries()) {
    const ev: TransactionEvent = {
      source: 'REALTIME',
      transactionId: `${terms.memberId}-T${i}`,
      memberId: terms.memberId,
      kind: 'LOAD',
      channel: 'DEBIT_CARD',
      amountCents: 5_000 + Math.floor(random() * 40_000),
      currency: 'AUD',
      occurredAt: day(d),
      receivedAt: day(d),
    };
    take(apply(terms, e, ev, day(d)), day(d));
  }
  if (settle) {
    const first = e.ledger[`${terms.memberId}-T0`];
    const ev: TransactionEvent = {
      source: 'SETTLEMENT',
      transactionId: first.transactionId,
      memberId: terms.memberId,
      kind: 'LOAD',
      channel: first.channel,
      amountCents: first.amountCents,
      currency: 'AUD',
      occurredAt: first.occurredAt,
      status: 'SETTLED',
      settledAt: day(12),
      receivedAt: day(12),
      batchId: 'bench-settlement',
    };
    take(apply(terms, e, ev, day(12)), day(12));
  }
  take(windowEnded(terms, e, schedule.windowEndsAt), schedule.windowEndsAt);
  take(evaluate(terms, e, schedule.evaluatesAt), schedule.evaluatesAt);
  if (e.state === 'PENDING_REWARD') {
    const result = {
      status: 'ISSUED' as const,
      creditId: `cr-${terms.memberId}`,
      issuedAt: schedule.evaluatesAt,
      alreadyIssued: false,
    };
    take(rewardOutcome(terms, e, result, schedule.evaluatesAt), schedule.evaluatesAt);
  }
  if (!hasVerdict(e.state)) throw new Error(`${terms.memberId} ended ${e.state}`);
  return { lines, e };
}

/** A store grown level by level: decided enrollments at each level (cumulative), seeded `seedBatch` a statement. */
export interface StoreSeries {
  levels: number[];
  seedBatch: number;
}
export const SERIES_DEFAULTS: StoreSeries = { levels: [10_000, 100_000, 1_000_000], seedBatch: 1_000 };
export const SERIES_QUICK: StoreSeries = { levels: [300, 1_500], seedBatch: 250 };

/** A seeded enrollment: its index in the series, its ids, its trail and its final state. */
export interface SeededMember {
  index: number;
  memberId: string;
  workflowId: string;
  trail: AuditEntry[];
  e: EnrollmentState;
}

export interface SeedOptions {
  /** Which members' first load the settlement file settles (default: none). */
  settles?: (index: number) => boolean;
  /** More rows for each batch of members, written in the batch's transaction after its rows and trails. */
  alongside?: (client: pg.PoolClient, members: readonly SeededMember[]) => Promise<void>;
}

/**
 * Seeds members `from` to `to` (exclusive) of `campaign`, `batch` a statement: ids `{prefix}-0000123`. Returns the audit
 * lines written.
 */
export async function seedDecided(
  db: pg.Pool,
  campaign: CampaignTerms,
  prefix: string,
  from: number,
  to: number,
  batch: number,
  opts: SeedOptions = {},
): Promise<number> {
  const random = rng(from + 1);
  const schedule = scheduleFor(campaign, '2026-01-05T00:00:00.000Z');
  let lines = 0;
  for (let start = from; start < to; start += batch) {
    const rows: unknown[] = [];
    const audit: unknown[] = [];
    const members: SeededMember[] = [];
    for (let i = start; i < Math.min(to, start + batch); i++) {
      const memberId = `${prefix}-${String(i).padStart(7, '0')}`;
      const workflowId = activationWorkflowId(campaign.campaignId, memberId);
      const { lines: trail, e } = decided({ campaign, memberId, schedule }, random, opts.settles?.(i) ?? false);
      lines += trail.length;
      rows.push({ memberId, workflowId, state: e.state, counted: e.verdict!.countedCents, verdict: e.verdict });
      for (const a of trail) audit.push({ workflowId, memberId, ...a });
      if (opts.alongside) members.push({ index: i, memberId, workflowId, trail, e });
    }
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO enrollments (campaign_id, member_id, workflow_id, state, enrolled_at, window_ends_at, evaluates_at,
                                  target_cents, reward_points, counted_cents, verdict, version)
         SELECT $1, r."memberId", r."workflowId", r.state, $2, $3, $4, $5, $6, r.counted, r.verdict, 1
         FROM jsonb_to_recordset($7::jsonb) AS r("memberId" text, "workflowId" text, state text, counted bigint,
                                                  verdict jsonb)`,
        [
          campaign.campaignId,
          schedule.enrolledAt,
          schedule.windowEndsAt,
          schedule.evaluatesAt,
          campaign.targetCents,
          campaign.rewardPoints,
          JSON.stringify(rows),
        ],
      );
      await client.query(
        `INSERT INTO audit_events (workflow_id, campaign_id, member_id, event_key, type, source, payload, occurred_at)
         SELECT a."workflowId", $1, a."memberId", a.key, a.type, a.source, a.payload, a."occurredAt"
         FROM jsonb_to_recordset($2::jsonb) AS a("workflowId" text, "memberId" text, key text, type text, source text,
                                                 payload jsonb, "occurredAt" timestamptz)`,
        [campaign.campaignId, JSON.stringify(audit)],
      );
      await opts.alongside?.(client, members);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
  await db.query('ANALYZE enrollments; ANALYZE audit_events');
  return lines;
}

/**
 * A baseline's walk of a campaign: its enrollments `page` at a time in member id order (keyset, as the API's walks),
 * each page's workflow ids handed to `read` (which fetches what the measured code would fetch for them). Returns how many
 * enrollments were walked.
 */
export async function walkPages(
  db: pg.Pool,
  campaignId: string,
  page: number,
  read: (workflowIds: string[]) => Promise<void>,
): Promise<number> {
  let after: string | null = null;
  let n = 0;
  for (;;) {
    const { rows }: { rows: { member_id: string; workflow_id: string }[] } = await db.query(
      `SELECT * FROM enrollments WHERE campaign_id = $1 AND ($2::text IS NULL OR member_id > $2)
       ORDER BY member_id LIMIT $3`,
      [campaignId, after, page],
    );
    if (rows.length === 0) return n;
    await read(rows.map((r) => r.workflow_id));
    n += rows.length;
    if (rows.length < page) return n;
    after = rows[rows.length - 1].member_id;
  }
}

/** A figure of /proc/<pid>/status in bytes (VmHWM: the peak resident set; VmRSS: now); 0 once the process is gone. */
export const statusBytes = (pid: number, field: 'VmHWM' | 'VmRSS'): number => {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
};

/**
 * The compiled CLI with `args` against the product, `--json`: its peak resident memory (VmHWM) sampled while it runs,
 * and the product process's own peak resident set over the same time.
 */
export function runMeasuredCli(
  tree: CodeTree,
  product: Product,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; peakRss: number; productPeakRss: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [
        ...measuredNodeArgs(),
        path.join(tree.root, 'dist', 'src', 'cli', 'main.js'),
        '--json',
        ...args,
        '--api',
        product.apiUrl,
      ],
      { cwd: tree.root, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let stdout = '';
    let peakRss = 0;
    let productPeakRss = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, statusBytes(child.pid!, 'VmHWM'));
      productPeakRss = Math.max(productPeakRss, statusBytes(product.child.pid!, 'VmRSS'));
    }, 100);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(sampler);
      resolve({ code, stdout, peakRss, productPeakRss, ms: Date.now() - t0 });
    });
  });
}
