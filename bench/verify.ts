/**
 * Proving verdicts at scale (`npm run bench -- verify`): a campaign's store grown to each level of a series (default
 * 10k, 100k, 1M decided enrollments, each with the audit trail the rules write for it: enrolled, two loads, the
 * window's end, the verdict, the reward's outcome, about nine chained lines), written straight into PostgreSQL through
 * the chaining trigger. At each level, in the same run: (1) the baseline, reading the same pages of enrollments and
 * trails the proofs read, with nothing checked (what the data costs to fetch); (2) ours, the compiled CLI's `verify`
 * through the API, every chain hashed again and every trail replayed. Enrollments per second for each, the ratio, and
 * the CLI's and the API process's peak resident memory, which must not grow with the store.
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
} from '../src/domain/enrollment';
import { activationWorkflowId } from '../src/domain/ids';
import { hasVerdict, type TransactionEvent } from '../src/domain/model';
import type { AuditEntry } from '../src/domain/records';
import { scheduleFor, type CampaignTerms } from '../src/domain/terms';
import { mb, measuredNodeArgs, perSecond, rng, say } from './lib/common';
import { api, startProduct, type CodeTree, type Product } from './lib/product';

export interface VerifyOptions {
  levels: number[];
  /** Enrollments written per INSERT. */
  seedBatch: number;
}

export const VERIFY_DEFAULTS: VerifyOptions = { levels: [10_000, 100_000, 1_000_000], seedBatch: 1_000 };
export const VERIFY_QUICK: VerifyOptions = { levels: [300, 1_500], seedBatch: 250 };

const CAMPAIGN = 'bench-verify';
const PAGE = 500;

export interface VerifyLevel {
  enrollments: number;
  auditLines: number;
  seedPerSecond: number;
  baseline: { perSecond: number; ms: number };
  ours: { perSecond: number; ms: number; exitCode: number | null; verified: number; failed: number };
  cliPeakRssMb: number;
  apiRssMb: number;
}

export interface VerifyResult {
  tree: { commit: string; label: string };
  levels: VerifyLevel[];
}

/** One decided enrollment's trail and row, as the member workflow would have written them. */
function decided(terms: EnrollmentTerms, random: () => number): { lines: AuditEntry[]; e: EnrollmentState } {
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

async function seed(product: Product, campaign: CampaignTerms, from: number, to: number, batch: number) {
  const random = rng(from + 1);
  const schedule = scheduleFor(campaign, '2026-01-05T00:00:00.000Z');
  let lines = 0;
  for (let start = from; start < to; start += batch) {
    const rows: unknown[] = [];
    const audit: unknown[] = [];
    for (let i = start; i < Math.min(to, start + batch); i++) {
      const memberId = `V-${String(i).padStart(7, '0')}`;
      const workflowId = activationWorkflowId(CAMPAIGN, memberId);
      const { lines: trail, e } = decided({ campaign, memberId, schedule }, random);
      lines += trail.length;
      rows.push({ memberId, workflowId, state: e.state, counted: e.verdict!.countedCents, verdict: e.verdict });
      for (const a of trail) audit.push({ workflowId, memberId, ...a });
    }
    const client = await product.db.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO enrollments (campaign_id, member_id, workflow_id, state, enrolled_at, window_ends_at, evaluates_at,
                                  target_cents, reward_points, counted_cents, verdict, version)
         SELECT $1, r."memberId", r."workflowId", r.state, $2, $3, $4, $5, $6, r.counted, r.verdict, 1
         FROM jsonb_to_recordset($7::jsonb) AS r("memberId" text, "workflowId" text, state text, counted bigint,
                                                  verdict jsonb)`,
        [
          CAMPAIGN,
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
        [CAMPAIGN, JSON.stringify(audit)],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
  await product.db.query('ANALYZE enrollments; ANALYZE audit_events');
  return lines;
}

/** The baseline: the pages the proofs read, fetched and parsed, nothing checked. */
async function readPages(product: Product): Promise<number> {
  let after: string | null = null;
  let n = 0;
  for (;;) {
    const { rows }: { rows: { member_id: string; workflow_id: string }[] } = await product.db.query(
      `SELECT * FROM enrollments WHERE campaign_id = $1 AND ($2::text IS NULL OR member_id > $2)
       ORDER BY member_id LIMIT $3`,
      [CAMPAIGN, after, PAGE],
    );
    if (rows.length === 0) return n;
    const trails = await product.db.query<{ payload_text: string }>(
      `SELECT workflow_id, position, event_key, type, source, payload::text AS payload_text, prev_hash, hash,
              to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_text
       FROM audit_events WHERE workflow_id = ANY($1::text[]) ORDER BY workflow_id, position`,
      [rows.map((r) => r.workflow_id)],
    );
    for (const t of trails.rows) JSON.parse(t.payload_text);
    n += rows.length;
    if (rows.length < PAGE) return n;
    after = rows[rows.length - 1].member_id;
  }
}

/** A figure of /proc/<pid>/status in bytes (VmHWM: the peak resident set; VmRSS: now); 0 once the process is gone. */
const statusBytes = (pid: number, field: 'VmHWM' | 'VmRSS'): number => {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
};

/** The compiled CLI's verify, its peak resident memory sampled while it runs. */
function runVerify(
  tree: CodeTree,
  product: Product,
): Promise<{ code: number | null; stdout: string; peakRss: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [
        ...measuredNodeArgs(),
        path.join(tree.root, 'dist', 'src', 'cli', 'main.js'),
        '--json',
        'verify',
        CAMPAIGN,
        '--api',
        product.apiUrl,
      ],
      { cwd: tree.root, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let stdout = '';
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, statusBytes(child.pid!, 'VmHWM'))), 100);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(sampler);
      resolve({ code, stdout, peakRss, ms: Date.now() - t0 });
    });
  });
}

export async function measureVerify(tree: CodeTree, o: VerifyOptions): Promise<VerifyResult> {
  say(`verify on ${tree.label}: starting the product…`);
  const product = await startProduct(tree);
  const levels: VerifyLevel[] = [];
  try {
    const terms = { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D', grace: 'PT48H' };
    const put = await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, terms);
    if (put.status !== 201) throw new Error(`campaign: ${put.status}`);
    const campaign: CampaignTerms = { campaignId: CAMPAIGN, currency: 'AUD', ...terms };
    let seeded = 0;
    let auditLines = 0;
    for (const level of o.levels) {
      const s0 = Date.now();
      auditLines += await seed(product, campaign, seeded, level, o.seedBatch);
      const seedPerSecond = perSecond(level - seeded, Date.now() - s0);
      seeded = level;
      say(`verify: ${level} decided enrollments seeded (${seedPerSecond}/s, ${auditLines} audit lines)`);

      const b0 = Date.now();
      const read = await readPages(product);
      const baselineMs = Date.now() - b0;
      const run = await runVerify(tree, product);
      const v = JSON.parse(run.stdout) as {
        checked: number;
        verified: number;
        divergent: number;
        brokenChains: number;
      };
      const level_: VerifyLevel = {
        enrollments: level,
        auditLines,
        seedPerSecond,
        baseline: { perSecond: perSecond(read, baselineMs), ms: baselineMs },
        ours: {
          perSecond: perSecond(v.checked, run.ms),
          ms: run.ms,
          exitCode: run.code,
          verified: v.verified,
          failed: v.divergent + v.brokenChains,
        },
        cliPeakRssMb: mb(run.peakRss),
        apiRssMb: mb(statusBytes(product.child.pid!, 'VmRSS')),
      };
      levels.push(level_);
      say(
        `verify at ${level}: baseline ${level_.baseline.perSecond}/s, ours ${level_.ours.perSecond}/s, ` +
          `verified ${v.verified}, failed ${level_.ours.failed}, CLI peak ${level_.cliPeakRssMb} MB`,
      );
    }
  } finally {
    await product.stop();
  }
  return { tree: { commit: tree.commit, label: tree.label }, levels };
}
