/**
 * The CLI's human format: API answers turned into aligned text for an operator's terminal. Pure functions of the
 * response bodies; `--json` bypasses them and prints the bodies as they came.
 */
import type { z } from 'zod';
import type * as s from '../api/schemas';
import { ACTIVATION_STATES, type ActivationState } from '../domain/model';

export type MemberView = z.infer<typeof s.MemberResponse>;
export type ReviewItem = z.infer<typeof s.ReviewItem>;
export type OperationReport = z.infer<typeof s.OperationResponse>;
export type OperationDryRun = z.infer<typeof s.OperationDryRun>;
export type ReviewList = z.infer<typeof s.ReviewList>;
/** `counts` lists only the states that have enrollments (zod 4 infers a record over an enum as exhaustive). */
export type CampaignReport = Omit<z.infer<typeof s.CampaignReportResponse>, 'counts'> & {
  counts: Partial<Record<ActivationState, number>>;
};
export type SettlementReport = z.infer<typeof s.SettlementReport>;
export type SettlementAccepted = z.infer<typeof s.SettlementAccepted>;
export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown[];
}

/** Integer cents as Australian dollars: `A$1,234.56`. */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const dollars = Math.floor(abs / 100).toLocaleString('en-AU');
  return `${sign}A$${dollars}.${String(abs % 100).padStart(2, '0')}`;
}

const count = (n: number): string => n.toLocaleString('en-AU');
const plural = (n: number, one: string, many = `${one}s`): string => `${count(n)} ${n === 1 ? one : many}`;

/** Times to the second, always UTC: easy to read, still unambiguous. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

export function formatShare(share: number | null): string {
  return share === null ? 'n/a' : `${(share * 100).toFixed(1)}%`;
}

/** `label  value` rows with the labels padded to one width, indented under a heading. */
function rows(items: readonly (readonly [string, string] | undefined)[], indent = '  '): string[] {
  const present = items.filter((r): r is readonly [string, string] => r !== undefined);
  const width = Math.max(0, ...present.map(([label]) => label.length));
  return present.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`);
}

/** A table with a header row; every column but the last padded, so a long last column (a reason) never misaligns. */
export function formatTable(headers: readonly string[], body: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...body.map(line)];
}

function formatReward(r: NonNullable<MemberView['reward']>): string {
  const points = `${count(r.points)} points`;
  if (r.status === 'ISSUED') {
    return `ISSUED: ${points}${r.creditId ? `, credit ${r.creditId}` : ''}${r.issuedAt ? ` at ${formatTime(r.issuedAt)}` : ''}`;
  }
  if (r.status === 'FAILED') return `FAILED: ${points} not issued${r.failure ? ` (${r.failure})` : ''}`;
  return `PENDING: ${points} being issued (idempotency key ${r.idempotencyKey})`;
}

export function formatMember(m: MemberView): string {
  const d = m.disqualifiedBy;
  return [
    `Member ${m.memberId} in campaign ${m.campaignId}`,
    ...rows([
      ['state', m.state],
      ['counted', `${formatCents(m.countedCents)} of ${formatCents(m.targetCents)} target`],
      ['  instant', `${formatCents(m.instantCents)} (real-time loads not settled yet)`],
      ['  settled', formatCents(m.settledCents)],
      ['pending', `${formatCents(m.pendingCents)} (delayed loads waiting to settle; not counted yet)`],
      ['remaining', formatCents(m.remainingCents)],
      ['reward', m.reward ? formatReward(m.reward) : 'none yet'],
      d
        ? [
            'disqualified',
            `by withdrawal ${d.transactionId}: ${formatCents(d.amountCents)} via ${d.channel} at ${formatTime(d.occurredAt)}`,
          ]
        : undefined,
      ['enrolled', formatTime(m.enrolledAt)],
      ['window ends', formatTime(m.windowEndsAt)],
      ['evaluates at', formatTime(m.evaluatesAt)],
      ...(m.scheduleChanges ?? []).map((c): [string, string] => [
        'moved',
        `${formatTime(c.changedAt)} by ${c.requestedBy ?? 'unknown'}: ` +
          [
            c.windowEndsAt.from !== c.windowEndsAt.to
              ? `window ${formatTime(c.windowEndsAt.from)} → ${formatTime(c.windowEndsAt.to)}`
              : '',
            `evaluates ${formatTime(c.evaluatesAt.from)} → ${formatTime(c.evaluatesAt.to)}`,
          ]
            .filter(Boolean)
            .join(', ') +
          ` (${c.reason})`,
      ]),
      ['updated', formatTime(m.updatedAt)],
    ]),
  ].join('\n');
}

export function formatReviews(list: ReviewList, state?: string): string {
  if (list.items.length === 0) return `No ${state ? `${state} ` : ''}review items.`;
  const table = formatTable(
    ['ID', 'STATE', 'CAMPAIGN', 'MEMBER', 'KIND', 'CREATED', 'REASON'],
    list.items.map((r) => [
      r.id,
      r.resolution ? `${r.state} (${r.resolution.action})` : r.state,
      r.campaignId,
      r.memberId,
      r.kind,
      formatTime(r.createdAt),
      r.reason,
    ]),
  );
  return [...table, '', plural(list.items.length, `${state ? `${state} ` : ''}review item`)].join('\n');
}

export function formatResolution(r: ReviewItem): string {
  const res = r.resolution;
  return [
    `Review ${r.id} ${r.state}${res ? `: ${res.action}` : ''}`,
    ...rows([
      ['member', `${r.memberId} in campaign ${r.campaignId}`],
      ['kind', r.kind],
      ['reason', r.reason],
      res ? ['note', res.note] : undefined,
      res ? ['resolved', `${formatTime(res.resolvedAt)}${res.resolvedBy ? ` by ${res.resolvedBy}` : ''}`] : undefined,
      res?.retryWorkflowId
        ? ['retry', `workflow ${res.retryWorkflowId} issues the reward again (same idempotency key)`]
        : undefined,
    ]),
  ].join('\n');
}

export function formatCampaignReport(r: CampaignReport): string {
  const states = ACTIVATION_STATES.filter((st) => (r.counts[st] ?? 0) > 0).map(
    (st) => [`  ${st}`, count(r.counts[st] ?? 0)] as const,
  );
  const disc = r.settlementDiscrepancies;
  const late = r.lateSettlements;
  const grace = r.graceEffectiveness;
  const lift = r.lift;
  const rate = (g: typeof lift.treatment): string =>
    `${formatShare(g.rate)} (${count(g.activated)} of ${plural(g.members, 'ended enrollment')})`;
  const points = (p: number): string => `${(p * 100).toFixed(1)} pp`;
  const liftRows: (readonly [string, string])[] =
    lift.holdoutPercent === 0
      ? [['lift', 'no holdout group (holdoutPercent 0): nothing to compare with']]
      : [
          [`activation, treated`, rate(lift.treatment)],
          [`activation, holdout ${lift.holdoutPercent}%`, rate(lift.holdout)],
          [
            'lift',
            lift.difference === null || lift.confidenceInterval === null
              ? 'not yet: both groups need ended enrollments'
              : `${points(lift.difference)} (95% CI ${points(lift.confidenceInterval.low)} to ` +
                `${points(lift.confidenceInterval.high)}), ${count(Math.round(lift.incrementalActivated ?? 0))} incremental activations`,
          ],
          [
            'incremental cost',
            lift.pointsPerIncrementalActivation === null
              ? 'none to divide by: the campaign activated no one beyond the holdout'
              : `${count(lift.pointsPerIncrementalActivation)} points per incremental activation`,
          ],
        ];
  const lines = [
    `Campaign ${r.campaignId} (report of ${formatTime(r.generatedAt)})`,
    ...rows([
      ['enrollments', count(r.enrollments)],
      ...states,
      ['rewards issued', `${count(r.rewards.issued)} (${count(r.rewards.pointsIssued)} points)`],
      ['rewards failed', count(r.rewards.failed)],
      ['open reviews', count(r.openReviews)],
      [
        'discrepancies',
        `${plural(disc.members, 'member')} with instant loads above settled by more than ` +
          `${formatCents(disc.thresholdCents)}, ${disc.afterDays} days after the load`,
      ],
      ['late settlements', `${plural(late.members, 'member')} (${formatShare(late.share)} of enrollments)`],
      [
        'grace period',
        `${count(grace.settledBeforeEvaluation)} of ${plural(grace.delayedLoads, 'in-window delayed load')} settled ` +
          `before evaluation (${formatShare(grace.share)})`,
      ],
      ...liftRows,
      r.budget
        ? [
            'budget',
            `${count(r.budget.reserved)} of ${count(r.budget.maxRewards)} rewards taken, ${count(r.budget.remaining)} left` +
              (r.budget.exhausted ? `; ${plural(r.budget.exhausted, 'eligible member')} found none left` : ''),
          ]
        : undefined,
    ]),
  ];
  if (disc.top.length > 0) {
    lines.push(
      '',
      'Largest settlement discrepancies:',
      ...formatTable(
        ['  MEMBER', 'INSTANT', 'SETTLED', 'DIFFERENCE'],
        disc.top.map((t) => [
          `  ${t.memberId}`,
          formatCents(t.instantCents),
          formatCents(t.settledCents),
          formatCents(t.differenceCents),
        ]),
      ),
    );
  }
  return lines.join('\n');
}

function duration(startedAt: string, completedAt: string): string {
  const ms = Date.parse(completedAt) - Date.parse(startedAt);
  if (!Number.isFinite(ms) || ms < 0) return '';
  return ms < 60_000 ? ` (took ${(ms / 1000).toFixed(1)} s)` : ` (took ${Math.round(ms / 60_000)} min)`;
}

export function formatSettlementReport(b: SettlementReport): string {
  const lines = [
    `Settlement batch ${b.batchId}: ${b.state}`,
    ...rows([
      ['records', count(b.records)],
      b.state === 'RUNNING' ? ['processed', `${count(b.processed)} of ${count(b.records)}`] : undefined,
      ['applied', `${count(b.applied)}${b.returned > 0 ? ` (${count(b.returned)} returned)` : ''}`],
      ['duplicates', count(b.duplicates)],
      ['no enrollment', count(b.noEnrollment)],
      ['late', count(b.late)],
      ['rejected', count(b.rejectedCount)],
      ['started', formatTime(b.startedAt)],
      b.completedAt ? ['completed', `${formatTime(b.completedAt)}${duration(b.startedAt, b.completedAt)}`] : undefined,
      b.failure ? ['failure', b.failure] : undefined,
    ]),
  ];
  if (b.rejected.length > 0) {
    lines.push('', 'Rejected lines:', ...b.rejected.map((r) => `  line ${r.line}: ${r.reason}`));
    const unlisted = b.rejectedCount - b.rejected.length;
    if (unlisted > 0)
      lines.push(`  … and ${count(unlisted)} more (the API lists the first ${count(b.rejected.length)})`);
  }
  return lines.join('\n');
}

/** What `settle --no-wait` prints: the batch id, and how to come back to it. */
export function formatAccepted(a: SettlementAccepted, created: boolean, followHint: string): string {
  const head = created
    ? `Settlement batch ${a.batchId} accepted: ${plural(a.records ?? 0, 'record')}` +
      `${a.rejected ? `, ${count(a.rejected)} rejected at staging` : ''}.`
    : `Settlement batch ${a.batchId} was submitted before; it is applied once.`;
  return `${head}\nFollow it with: ${followHint}`;
}

/** `CODE: message`, then the details (zod issues read as `path: message`) that the message does not already say. */
export function formatApiError(e: ApiErrorBody): string {
  const details = (e.details ?? []).map((d) => {
    const issue = d as { path?: unknown; message?: unknown };
    return typeof issue.path === 'string' && typeof issue.message === 'string'
      ? `${issue.path}: ${issue.message}`
      : JSON.stringify(d);
  });
  return [`${e.code}: ${e.message}`, ...details.filter((d) => !e.message.includes(d)).map((d) => `  ${d}`)].join('\n');
}

/** What `operate --dry-run` prints: how many members the action would touch, and the first of them. */
export function formatDryRun(d: OperationDryRun, action: string): string {
  if (d.count === 0) return `Dry run: ${action} would touch no member (the selection is empty).`;
  const table = formatTable(
    ['MEMBER', 'STATE', 'COUNTED', 'EVALUATES AT'],
    d.sample.map((m) => [m.memberId, m.state, formatCents(m.countedCents), formatTime(m.evaluatesAt)]),
  );
  const more = d.count - d.sample.length;
  return [
    `Dry run: ${action} would touch ${plural(d.count, 'member')}; nothing was changed.`,
    '',
    ...table,
    ...(more > 0 ? [`… and ${count(more)} more`] : []),
  ].join('\n');
}

/** A bulk operation: what it does, how far it is, and what each member answered. */
export function formatOperation(o: OperationReport): string {
  const refused = Object.entries(o.outcomes.refused);
  const lines = [
    `Operation ${o.operationId}: ${o.state}`,
    ...rows([
      [
        'action',
        `${o.action}${o.args.extendWindowBy ? ` window +${o.args.extendWindowBy}` : ''}${o.args.extendGraceBy ? ` grace +${o.args.extendGraceBy}` : ''}`,
      ],
      ['campaign', o.campaignId],
      ['reason', `${o.reason}${o.requestedBy ? ` (${o.requestedBy})` : ''}`],
      ['selected', count(o.selected)],
      ['processed', `${count(o.processed)} of ${count(o.selected)}`],
      ['changed', count(o.outcomes.changed)],
      ['refused', refused.length === 0 ? '0' : refused.map(([why, n]) => `${count(n)} ${why}`).join(', ')],
      ['failed', count(o.outcomes.failed)],
      ['started', formatTime(o.createdAt)],
      o.finishedAt ? ['finished', `${formatTime(o.finishedAt)}${duration(o.createdAt, o.finishedAt)}`] : undefined,
      o.failure ? ['failure', o.failure] : undefined,
    ]),
  ];
  if (o.exceptions.length > 0) {
    lines.push('', 'Members refused or failed (the first by member id):');
    lines.push(...o.exceptions.map((e) => `  ${e.memberId}: ${e.outcome}${e.detail ? ` ${e.detail}` : ''}`));
  }
  return lines.join('\n');
}

/** One page of GET /v1/campaigns/{c}/proofs. */
export interface ProofPage {
  total?: number;
  items: { memberId: string; verified: boolean; state: string; chainIntact: boolean; problem?: string }[];
  next?: string;
}

/** What `verify` found over a whole campaign. */
export interface Verification {
  campaignId: string;
  total: number;
  checked: number;
  verified: number;
  divergent: number;
  brokenChains: number;
  /** The first failures (capped), by member id. */
  failures: { memberId: string; state: string; problem: string }[];
}

export function formatVerification(v: Verification): string {
  const failed = v.divergent + v.brokenChains;
  const lines = [
    `Campaign ${v.campaignId}: ${plural(v.checked, 'decided enrollment')} proved from their audit trails`,
    `  verified       ${count(v.verified)}`,
    `  divergent      ${count(v.divergent)}`,
    `  broken chains  ${count(v.brokenChains)}`,
  ];
  if (failed === 0) return [...lines, '', 'Every verdict follows from its recorded facts.'].join('\n');
  lines.push(
    '',
    ...formatTable(
      ['MEMBER', 'STATE', 'PROBLEM'],
      v.failures.map((f) => [f.memberId, f.state, f.problem]),
    ),
  );
  if (failed > v.failures.length) lines.push(`…and ${count(failed - v.failures.length)} more`);
  lines.push('', 'See one in full: GET /v1/campaigns/{campaignId}/members/{memberId}/proof');
  return lines.join('\n');
}

export type LedgerRepair = z.infer<typeof s.LedgerRepairResponse>;

export function formatLedgerRepair(r: LedgerRepair): string {
  const lines = [
    `Campaign ${r.campaignId}: ${plural(r.checked, 'stored ledger')} held against the truth`,
    `  whole already  ${count(r.checked - r.repaired - r.skipped)}`,
    `  repaired       ${count(r.repaired)} (${plural(r.entriesWritten, 'entry', 'entries')} written, ${count(r.entriesRemoved)} removed)`,
    ...(r.skipped > 0 ? [`  left alone     ${count(r.skipped)} (changed meanwhile: run again)`] : []),
  ];
  if (r.repaired === 0) return lines.join('\n');
  lines.push(
    '',
    ...formatTable(
      ['MEMBER', 'STATE', 'WRITTEN', 'REMOVED'],
      r.members.map((m) => [m.memberId, m.state, count(m.written), count(m.removed)]),
    ),
  );
  if (r.repaired > r.members.length) lines.push(`…and ${count(r.repaired - r.members.length)} more`);
  return lines.join('\n');
}

export type Reconciliation = z.infer<typeof s.ReconcileResponse>;

export function formatReconciliation(r: Reconciliation): string {
  const lines = [
    `Campaign ${r.campaignId}: ${plural(r.checked, 'piece')} of news accepted up to ${r.until}, held against the enrollments`,
    `  accounted for  ${count(r.checked - r.missing)}`,
    `  missing        ${count(r.missing)}`,
    ...(r.repair ? [`  repaired       ${count(r.repaired)}`] : []),
  ];
  if (r.missing === 0) return [...lines, '', 'Every piece of news accepted is in its enrollment.'].join('\n');
  lines.push(
    '',
    ...formatTable(
      ['MEMBER', 'TRANSACTION', 'NEWS', 'AMOUNT', 'HEARD', ...(r.repair ? ['REPAIRED'] : [])],
      r.missingNews.map((n) => [
        n.memberId,
        n.transactionId,
        `${n.source} ${n.status ?? n.kind}`,
        formatCents(n.amountCents),
        n.heardAt,
        ...(r.repair ? [n.repaired ? 'yes' : 'no'] : []),
      ]),
    ),
  );
  if (r.missing > r.missingNews.length) lines.push(`…and ${count(r.missing - r.missingNews.length)} more`);
  lines.push(
    '',
    r.repair
      ? 'Each was delivered again; it counts once. Something lost them: look for what failed when they were heard.'
      : 'Deliver them again with --repair (each counts once).',
  );
  return lines.join('\n');
}

export type Backtest = z.infer<typeof s.BacktestResponse>;
type BacktestSide = Backtest['whatIf'];

const OUTCOME_LABELS = [
  ['ELIGIBLE', 'eligible'],
  ['NOT_ELIGIBLE', 'not eligible'],
  ['DISQUALIFIED', 'disqualified'],
  ['CANCELLED', 'cancelled'],
] as const;

/** `+1,234` / `-56` after a what-if figure that differs from the actual one. */
const change = (actual: number, whatIf: number, show: (n: number) => string = count): string =>
  whatIf === actual
    ? show(whatIf)
    : `${show(whatIf)} (${whatIf > actual ? '+' : '-'}${show(Math.abs(whatIf - actual))})`;

const activation = (side: BacktestSide, group: 'treatment' | 'holdout'): string => {
  const g = side.lift[group];
  return `${formatShare(g.rate)} (${count(g.activated)} of ${count(g.members)})`;
};

const budgetOf = (maxRewards: number | undefined): string =>
  maxRewards === undefined ? 'no limit' : `${count(maxRewards)} rewards`;

/** What `backtest` prints: the actual terms and the what-if's side by side, the flips, and the reproduction. */
export function formatBacktest(b: Backtest): string {
  const { actual: a, whatIf: w } = b;
  const [ta, tw] = [b.terms.actual, b.terms.whatIf];
  const holdout = a.lift.holdout.members + w.lift.holdout.members + a.holdoutQualified + w.holdoutQualified > 0;
  const body: string[][] = [
    ['  target', formatCents(ta.targetCents), formatCents(tw.targetCents)],
    ['  window', ta.window, tw.window],
    ['  grace', ta.grace, tw.grace],
    ['  reward', `${count(ta.rewardPoints)} points`, `${count(tw.rewardPoints)} points`],
    ...(ta.maxRewards !== undefined || tw.maxRewards !== undefined
      ? [['  budget', budgetOf(ta.maxRewards), budgetOf(tw.maxRewards)]]
      : []),
    ...OUTCOME_LABELS.map(([k, label]) => [`  ${label}`, count(a.outcomes[k]), change(a.outcomes[k], w.outcomes[k])]),
    ...(a.projected + w.projected > 0 ? [['  of them projected', count(a.projected), count(w.projected)]] : []),
    ['  rewards', count(a.rewards), change(a.rewards, w.rewards)],
    ...(a.budgetExhausted + w.budgetExhausted > 0
      ? [['  budget exhausted', count(a.budgetExhausted), change(a.budgetExhausted, w.budgetExhausted)]]
      : []),
    ...(holdout
      ? [['  holdout qualified', count(a.holdoutQualified), change(a.holdoutQualified, w.holdoutQualified)]]
      : []),
    ['  points cost', count(a.pointsCost), change(a.pointsCost, w.pointsCost)],
    ['  points issued', count(a.pointsIssued), ''],
    ...(holdout
      ? [
          ['  activation, treated', activation(a, 'treatment'), activation(w, 'treatment')],
          ['  activation, holdout', activation(a, 'holdout'), activation(w, 'holdout')],
          [
            '  lift',
            a.lift.difference === null ? 'n/a' : `${(a.lift.difference * 100).toFixed(1)} pp`,
            w.lift.difference === null ? 'n/a' : `${(w.lift.difference * 100).toFixed(1)} pp`,
          ],
        ]
      : []),
  ];
  const what = b.includeOpen ? 'enrollment' : 'decided enrollment';
  const lines = [
    `Backtest of campaign ${b.campaignId}: ${plural(b.enrollments, what)} replayed under both terms ` +
      `(${(b.durationMs / 1000).toFixed(1)} s)`,
    ...formatTable(['', 'ACTUAL', 'WHAT-IF'], body),
    '',
  ];
  if (b.flips.total === 0) lines.push('No verdict would change.');
  else {
    lines.push(
      `Verdicts that would change: ${count(b.flips.total)}`,
      ...b.flips.byChange.map((c) => `  ${c.from} → ${c.to}  ${count(c.count)}`),
      '',
      ...formatTable(
        ['  MEMBER', 'GROUP', 'CHANGE', 'COUNTED', 'WHAT-IF VERDICT'],
        b.flips.sample.map((f) => [
          `  ${f.memberId}`,
          f.group,
          `${f.from} → ${f.to}`,
          f.countedCents.actual === f.countedCents.whatIf
            ? formatCents(f.countedCents.whatIf)
            : `${formatCents(f.countedCents.actual)} → ${formatCents(f.countedCents.whatIf)}`,
          f.reason,
        ]),
      ),
    );
    if (b.flips.sample.length < b.flips.total) {
      lines.push(`  (a sample: at most 10 members of each change)`);
    }
  }
  const r = b.reproduction;
  lines.push(
    '',
    r.disagree === 0
      ? `Reproduced: under the actual terms the replay reaches all ${count(r.checked)} recorded verdicts.`
      : `NOT reproduced: under the actual terms the replay misses ${count(r.disagree)} of ${count(r.checked)} ` +
          'recorded verdicts (see GET …/members/{memberId}/proof):',
    ...r.sample.map((x) => `  ${x.memberId}: ${x.problem}`),
  );
  return lines.join('\n');
}

/** One line of `watch`: when it was heard, the version, the state and the amounts, the reward or the verdict's reason. */
export function formatWatchLine(v: MemberView, version: string | undefined, nowMs: number): string {
  const at = formatTime(new Date(nowMs).toISOString()).slice(11, 19);
  const amounts =
    `counted ${formatCents(v.countedCents)} of ${formatCents(v.targetCents)}` +
    (v.pendingCents > 0 ? `, pending ${formatCents(v.pendingCents)}` : '');
  const tail = v.reward ? `; reward ${formatReward(v.reward)}` : '';
  return `${at}  ${v.memberId}  v${version ?? '?'}  ${v.state.padEnd(17)} ${amounts}${tail}`;
}
