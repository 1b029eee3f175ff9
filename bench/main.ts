/**
 * `npm run bench`: the benchmark suite. `npm run bench -- <name> …` runs some; `--quick` is a smoke run of every one
 * (small sizes, a few seconds a phase: what CI runs, to keep them working; its figures mean little);
 * `--against <commit>` measures that commit too, in the same run, on the same machine, for the benchmarks that compare
 * code versions. Each benchmark writes one JSON file and a row per measured tree to bench/results/README.md
 * (`--out DIR` writes there instead). It measures and records; it never fails because something is slow.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../src/dev/tools';
import { gitInfo, interruption, say } from './lib/common';
import { commitTree, currentTree, type CodeTree } from './lib/product';
import { machine, record, type Section } from './lib/results';
import { ENROLLMENTS_DEFAULTS, ENROLLMENTS_QUICK, measureEnrollments, type EnrollTreeResult } from './enrollments';
import { measureOperations, OPERATIONS_DEFAULTS, OPERATIONS_QUICK } from './operations';
import { measureRewards, REWARDS_DEFAULTS, REWARDS_QUICK, type RewardsResult } from './rewards';
import { measureStore, STORE_DEFAULTS, STORE_QUICK } from './store';
import { measureVerify, VERIFY_DEFAULTS, VERIFY_QUICK } from './verify';
import { BACKTEST_DEFAULTS, BACKTEST_QUICK, measureBacktest } from './backtest';
import { LIVE_DEFAULTS, LIVE_QUICK, measureLive } from './live';
import { measureReconcile, RECONCILE_DEFAULTS, RECONCILE_QUICK } from './reconcile';
import { measureStorm, STORM_DEFAULTS, STORM_QUICK } from './storm';
import { measureWedge, WEDGE_DEFAULTS, WEDGE_QUICK } from './wedge';
import {
  KNEE_P99_MS,
  measureTransactions,
  TRANSACTIONS_DEFAULTS,
  TRANSACTIONS_QUICK,
  type TreeResult,
} from './transactions';

const HELP = `Usage: npm run bench -- [name …] [options]

Benchmarks: transactions, enrollments, store, rewards, settlement, operations, verify, backtest, live, reconcile, storm,
wedge (default: all, in that order). --against applies to transactions, enrollments and rewards (the others measure
this tree only; wedge measures the member workflow before the patch safe-seams in the same run).

Options:
  --quick           a smoke run of each benchmark: small sizes, short phases (CI runs this; figures mean little)
  --against COMMIT  also measure COMMIT (checked out into a temporary worktree) in the same run
  --note TEXT       free text for the notes column
  --out DIR         write results to DIR instead of bench/results
  -h, --help        this text

Environment:
  BENCH_HEAP_MB=N   cap the old-space heap of the processes measured (the product, the CLI) at N MB`;

interface Run {
  quick: boolean;
  against?: string;
  note?: string;
  out: string;
}

type Benchmark = (run: Run, trees: CodeTree[]) => Promise<void>;

const BENCHMARKS: Record<string, Benchmark> = {
  transactions: transactionsBenchmark,
  enrollments: enrollmentsBenchmark,
  store: storeBenchmark,
  rewards: rewardsBenchmark,
  settlement: settlementBenchmark,
  operations: operationsBenchmark,
  verify: verifyBenchmark,
  backtest: backtestBenchmark,
  live: liveBenchmark,
  reconcile: reconcileBenchmark,
  storm: stormBenchmark,
  wedge: wedgeBenchmark,
};

/** Writes a benchmark's JSON (the machine, the commit, the run's parameters and figures) and its table rows. */
function publish(
  run: Run,
  name: string,
  at: Date,
  measured: Record<string, unknown>,
  section: Section,
  rows: (string | number)[][],
): void {
  const file = record(
    run.out,
    name,
    at,
    {
      benchmark: name,
      date: at.toISOString(),
      machine: machine(),
      git: gitInfo(repoRoot()),
      quick: run.quick,
      ...measured,
    },
    section,
    rows,
  );
  say(`${name}: wrote ${path.relative(repoRoot(), file)}`);
}

const when = (at: Date) => at.toISOString().replace(/\.\d{3}Z$/, 'Z');
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a && b ? Math.round((a / b) * 100) / 100 : null;
/** Failed workflow tasks by cause: "UNHANDLED_COMMAND 12, …", or 0. */
const causes = (failed: Record<string, number>) =>
  Object.entries(failed)
    .map(([cause, n]) => `${cause.replace('WORKFLOW_TASK_FAILED_CAUSE_', '')} ${n}`)
    .join(', ') || '0';
const notesOf = (run: Run, extra: string[] = []) =>
  [...extra, ...(run.note ? [run.note.replace(/\|/g, '/')] : [])].join('; ');

async function enrollmentsBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? ENROLLMENTS_QUICK : ENROLLMENTS_DEFAULTS;
  const results: EnrollTreeResult[] = [];
  for (const tree of trees) results.push(await measureEnrollments(tree, o));
  const [mine, theirs] = results;
  const rows = results.map((r) => {
    const atKnee = r.rounds.filter((x) => x.path === 'api' && x.rate === r.knee.api)[0];
    const rawAtKnee = r.rounds.filter((x) => x.path === 'raw' && x.rate === r.knee.api)[0];
    return [
      when(at),
      r.tree.label,
      run.quick ? 'quick' : 'full',
      `${r.knee.api ?? '–'} / ${r.knee.raw ?? '–'}`,
      atKnee ? `${atKnee.ack?.p99} / ${rawAtKnee?.ack?.p99 ?? '–'}` : '–',
      atKnee ? `${atKnee.eventsPerEnrollment} / ${rawAtKnee?.eventsPerEnrollment ?? '–'}` : '–',
      atKnee ? ['node', 'temporal', 'postgres'].map((n) => atKnee.cpuSecondsPer1000[n] ?? 0).join(' / ') : '–',
      notesOf(
        run,
        theirs
          ? [r === mine ? `vs ${theirs.tree.label}: knee ×${ratio(mine.knee.api, theirs.knee.api) ?? '–'}` : 'baseline']
          : [],
      ),
    ];
  });
  publish(
    run,
    'enrollments',
    at,
    {
      parameters: o,
      trees: results,
    },
    {
      heading: 'Enrollments (`npm run bench -- enrollments`)',
      intro: `Open-loop \`POST /v1/campaigns/{id}/enrollments\` for new members, stepped up, each step as an API round and a raw
round (the Temporal client starting the same workflow, without the row, the audit line and the notification the API
writes in the transaction around the start), interleaved.

- **knee API / raw**: the highest rate (enrollments/s) at which every request was answered with an ack p99 ≤ 200 ms.
- **ack p99**, **events/enrollment** (history events of a sample of the runs) and **CPU s/1000** (node / Temporal dev
server / PostgreSQL) at the API's knee, API / raw.`,
      columns: [
        'date',
        'code',
        'run',
        'knee API / raw',
        'ack p99 API / raw',
        'events/enrollment API / raw',
        'CPU s/1000',
        'notes',
      ],
    },
    rows,
  );
}

async function storeBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? STORE_QUICK : STORE_DEFAULTS;
  const result = await measureStore(trees[0], o);
  const rows = result.levels.map((l) => [
    when(at),
    result.tree.label,
    run.quick ? 'quick' : 'full',
    l.enrollments,
    `${l.enroll.throughput} (${l.enroll.ack?.p99} ms p99)`,
    `${l.freshness?.p50} / ${l.freshness?.p99}`,
    `${l.ack?.p99}`,
    l.nodeRssMb,
    `${l.postgresBytesPerEnrollment} / ${l.temporalBytesPerEnrollment}`,
    notesOf(run, l.unseen ? [`${l.unseen} transactions unseen`] : []),
  ]);
  publish(
    run,
    'store',
    at,
    {
      parameters: o,
      ...result,
    },
    {
      heading: 'The store as it grows (`npm run bench -- store`)',
      intro: `Enrollments at a steady open-loop rate up to each level, then, once the store is quiet, transactions at a fixed rate
for members spread over the whole store (most of them long out of the worker's cache: a signal replays their
history first), and what the sleeping enrollments cost.

- **enrolled/s**: the enrollments' throughput on the way to the level (their ack p99).
- **fresh p50 / p99** (ms): from the 202 to the read model showing the transaction; **ack p99** (ms) of those.
- **node RSS MB**: the product's node process (API and worker) with the store asleep.
- **bytes/enrollment PG / Temporal**: growth of PostgreSQL's data directory and of the dev server's SQLite files, per
enrollment (WAL included; PostgreSQL's preallocated segments make its figure coarse at small levels).`,
      columns: [
        'date',
        'code',
        'run',
        'enrollments',
        'enrolled/s',
        'fresh p50 / p99',
        'ack p99',
        'node RSS MB',
        'bytes/enrollment PG / Temporal',
        'notes',
      ],
    },
    rows,
  );
}

async function rewardsBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? REWARDS_QUICK : REWARDS_DEFAULTS;
  const results: RewardsResult[] = [];
  for (const tree of trees) results.push(await measureRewards(tree, o));
  const rows = results.map((r) => [
    when(at),
    r.tree.label,
    run.quick ? 'quick' : 'full',
    o.members,
    `${o.limit} × ${o.latencyMs} ms`,
    r.rewardsPerSecond ?? '–',
    r.boundPerSecond,
    `${r.firstMs ?? '–'} / ${r.lastMs ?? '–'}`,
    `${r.completed} / ${r.credits} / ${r.distinctCreditedMembers}`,
    r.refusedAttempts,
    notesOf(run),
  ]);
  publish(
    run,
    'rewards',
    at,
    {
      parameters: o,
      trees: results,
    },
    {
      heading: 'Reward burst (`npm run bench -- rewards`)',
      intro: `\`members\` eligible enrollments whose verdicts fall due in the same second, against a points API that answers each
credit after a latency and refuses more than its limit at once (429); the worker keeps at most that many credits in
flight (POINTS_API_MAX_CONCURRENT).

- **rewards/s**: COMPLETED per second from the first to the last; **bound**: limit / latency (Little's law).
- **first / last** (ms after the due time); **completed / credits / members credited**: none lost, none doubled when
all three equal \`members\`; **429s**: credit attempts the points API refused for its limit.`,
      columns: [
        'date',
        'code',
        'run',
        'members',
        'API limit',
        'rewards/s',
        'bound/s',
        'first / last ms',
        'completed / credits / members',
        '429s',
        'notes',
      ],
    },
    rows,
  );
}

async function operationsBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? OPERATIONS_QUICK : OPERATIONS_DEFAULTS;
  const r = await measureOperations(trees[0], o);
  const row = [
    when(at),
    r.tree.label,
    run.quick ? 'quick' : 'full',
    r.members,
    r.baseline.perSecond ?? '–',
    r.ours.perSecond ?? '–',
    ratio(r.ours.perSecond, r.baseline.perSecond) ?? '–',
    `${r.ours.changed} / ${r.ours.refused} / ${r.ours.failed}`,
    `${r.ours.changedOnce} / ${r.ours.changedTwice}`,
    notesOf(run),
  ];
  publish(
    run,
    'operations',
    at,
    {
      parameters: o,
      trees: [r],
    },
    {
      heading: 'Bulk operations (`npm run bench -- operations`)',
      intro: `\`members\` running enrollments of one campaign on the dev server; in the same run, Temporal's built-in batch signal
over them (the baseline: one signal per workflow, paced by the server's batcher), then \`POST /v1/operations\`
EXTEND_SCHEDULE over the same members, followed to COMPLETED.

- **batch signal/s** and **ours/s**: members per second from the start to the end of each (ours includes the
selection's snapshot); **×**: ours / baseline.
- **changed / refused / failed**: the operation's counts; **once / twice**: enrollments with one schedule change and
with more than one (0: nobody changed twice).`,
      columns: [
        'date',
        'code',
        'run',
        'members',
        'batch signal/s',
        'ours/s',
        '×',
        'changed / refused / failed',
        'once / twice',
        'notes',
      ],
    },
    [row],
  );
}

async function verifyBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? VERIFY_QUICK : VERIFY_DEFAULTS;
  const result = await measureVerify(trees[0], o);
  const rows = result.levels.map((l) => [
    when(at),
    result.tree.label,
    run.quick ? 'quick' : 'full',
    l.enrollments,
    l.auditLines,
    l.baseline.perSecond,
    l.ours.perSecond,
    ratio(l.ours.perSecond, l.baseline.perSecond) ?? '–',
    `${l.ours.verified} / ${l.ours.failed} (exit ${l.ours.exitCode})`,
    `${l.cliPeakRssMb} / ${l.apiRssMb}`,
    notesOf(run),
  ]);
  publish(
    run,
    'verify',
    at,
    {
      parameters: o,
      ...result,
    },
    {
      heading: 'Proving verdicts (`npm run bench -- verify`)',
      intro: `A campaign's store grown to each level of decided enrollments, each with the chained audit trail the rules write for
it (about nine lines: enrolled, two loads, the window's end, the verdict, the reward), written straight into
PostgreSQL. At each level, in the same run: the baseline reads the pages the proofs read (enrollments and their
trails, 500 a page) and checks nothing; ours is the compiled CLI's \`verify\` through the API, every hash computed again
and every trail replayed through the rules.

- **baseline/s** and **ours/s**: enrollments per second over the whole campaign; **×**: ours / baseline.
- **verified / failed**: the verifier's counts (exit code 0: all verified).
- **RSS MB CLI / API**: the CLI's peak resident memory, and the API's (with the worker, one process) after the walk:
flat across levels is the point.`,
      columns: [
        'date',
        'code',
        'run',
        'enrollments',
        'audit lines',
        'baseline/s',
        'ours/s',
        '×',
        'verified / failed',
        'RSS MB CLI / API',
        'notes',
      ],
    },
    rows,
  );
}

async function backtestBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? BACKTEST_QUICK : BACKTEST_DEFAULTS;
  const result = await measureBacktest(trees[0], o);
  const rows = result.levels.map((l) => [
    when(at),
    result.tree.label,
    run.quick ? 'quick' : 'full',
    l.enrollments,
    l.auditLines,
    l.baseline.perSecond,
    l.ours.perSecond,
    ratio(l.ours.perSecond, l.baseline.perSecond) ?? '–',
    (l.ours.ms / 1000).toFixed(1),
    `${l.ours.reproduced} / ${l.ours.disagree} (exit ${l.ours.exitCode})`,
    l.ours.flips,
    `${l.cliPeakRssMb} / ${l.productPeakRssMb}`,
    notesOf(run),
  ]);
  publish(
    run,
    'backtest',
    at,
    {
      parameters: o,
      ...result,
    },
    {
      heading: 'What-if terms (`npm run bench -- backtest`)',
      intro: `The same store as the verify benchmark's (decided enrollments with the audit trails the rules write), grown to each
level. At each level, in the same run: the baseline reads the pages the backtest reads (enrollments and the audit
lines of their facts, 1,000 a page) and replays nothing; ours is the compiled CLI's \`backtest --target 30000\`
through the API, streamed, every trail replayed under the actual terms and under the what-if.

- **baseline/s** and **ours/s**: enrollments per second over the whole campaign; **×**: ours / baseline;
**s**: the whole backtest, seconds (the target: 100k within a minute).
- **reproduced / not**: recorded verdicts the replay under the actual terms reached, and missed (must be 0).
- **flips**: verdicts the lower target changes.
- **peak RSS MB CLI / product**: the CLI's peak resident memory, and the product process's (API and worker, one
process) during the backtest: flat across levels is the point.`,
      columns: [
        'date',
        'code',
        'run',
        'enrollments',
        'audit lines',
        'baseline/s',
        'ours/s',
        '×',
        's',
        'reproduced / not',
        'flips',
        'peak RSS MB CLI / product',
        'notes',
      ],
    },
    rows,
  );
}

async function liveBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? LIVE_QUICK : LIVE_DEFAULTS;
  const r = await measureLive(trees[0], o);
  const row = [
    when(at),
    r.tree.label,
    run.quick ? 'quick' : 'full',
    r.streams,
    `${r.connections.listening} / ${r.connections.total}`,
    `${o.rate}/s × ${o.durationMs / 1000} s`,
    r.stream.latency ? `${r.stream.latency.p50} / ${r.stream.latency.p99}` : '–',
    r.stream.perStream ? `${r.stream.perStream.p99}` : '–',
    r.poll.latency ? `${r.poll.latency.p50} / ${r.poll.latency.p99}` : '–',
    ratio(r.stream.latency?.p99, r.poll.latency?.p99) ?? '–',
    `${r.stream.missed} / ${r.poll.missed}`,
    `${r.productRssMb.before} → ${r.productRssMb.withStreams}`,
    notesOf(run),
  ];
  publish(
    run,
    'live',
    at,
    {
      parameters: o,
      ...r,
    },
    {
      heading: 'Live progress (`npm run bench -- live`)',
      intro: `Members enrolled, half of them followed by several open streams each (\`GET …/members/{m}/events\`), the other half
polled. Transactions go out open loop, at the same rate to each half in turn; a transaction's latency runs from its
scheduled send (the POST included) to the first moment its member's streams all carried a view that counts it (ours),
or a poll of the member view read one (the baseline: a client asking every 25 ms).

- **streams**: open at once; **listening / total**: the product's database connections then, and how many of them
listen (one, however many streams).
- **stream p50 / p99** and **poll p50 / p99**: ms; **per-stream p99**: over every (transaction, stream) pair;
**×**: stream p99 / poll p99 (below 1: the stream is the fresher way to know).
- **missed**: transactions not seen within 30 s (stream / poll); **RSS MB**: the product process before the streams
opened → with them open.`,
      columns: [
        'date',
        'code',
        'run',
        'streams',
        'listening / total',
        'load',
        'stream p50 / p99',
        'per-stream p99',
        'poll p50 / p99',
        '×',
        'missed',
        'RSS MB',
        'notes',
      ],
    },
    [row],
  );
}

async function reconcileBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? RECONCILE_QUICK : RECONCILE_DEFAULTS;
  const result = await measureReconcile(trees[0], o);
  const rows = result.levels.map((l) => [
    when(at),
    result.tree.label,
    run.quick ? 'quick' : 'full',
    l.enrollments,
    l.news,
    l.baseline.perSecond,
    l.ours.perSecond,
    ratio(l.ours.perSecond, l.baseline.perSecond) ?? '–',
    (l.ours.ms / 1000).toFixed(1),
    `${l.ours.missing} / ${l.injected - l.repairedBefore} (exit ${l.ours.exitCode})`,
    l.repair ? `${l.repair.repaired} in ${(l.repair.ms / 1000).toFixed(1)} s` : '–',
    `${l.cliPeakRssMb} / ${l.productPeakRssMb}`,
    notesOf(run, l.ours.listedNotLost ? [`${l.ours.listedNotLost} listed missing were not lost`] : []),
  ]);
  publish(
    run,
    'reconcile',
    at,
    {
      parameters: o,
      ...result,
    },
    {
      heading: 'Nothing lost (`npm run bench -- reconcile`)',
      intro: `The verify benchmark's store of decided enrollments, grown to each level, with each enrollment's stored ledger and the
record of the news it accepted (its two real-time loads, and the bank's settlement of the first for a third of them),
written straight into PostgreSQL; one enrollment in a thousand also has a load on record that it never applied (lost
on its way). At each level, in the same run: the baseline reads the record's pages (1,000 a page, keyset) and the
stored ledger entries they name, and checks nothing; ours is the compiled CLI's \`reconcile --settle 0\` through the
API (exit 1: something was missing).

- **news**: pieces of news on record; **baseline/s** and **ours/s**: pieces of news per second; **×**: ours /
baseline; **s**: the whole reconciliation.
- **missing / lost**: what the reconciliation found missing, and the lost pieces seeded and not yet repaired (equal:
every lost one found, nothing else).
- **repair**: a \`--repair\` run at that level (each lost piece delivered again, as late news: its enrollment is
closed): how many, how long; the next levels find only the pieces lost since.
- **peak RSS MB CLI / product**: the CLI's peak resident memory, and the product process's (API and worker, one
process) during the reconciliation: flat across levels is the point.`,
      columns: [
        'date',
        'code',
        'run',
        'enrollments',
        'news',
        'baseline/s',
        'ours/s',
        '×',
        's',
        'missing / lost',
        'repair',
        'peak RSS MB CLI / product',
        'notes',
      ],
    },
    rows,
  );
}

async function stormBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? STORM_QUICK : STORM_DEFAULTS;
  const r = await measureStorm(o);
  const m = r.messages;
  const sh = r.shapes;
  const c = r.checks;
  const allHeld = [c.countedAsSent, c.explanationAddsUp, c.auditLinesOnce, c.proofsVerified].every(
    (n) => n === c.members,
  );
  const row = [
    when(at),
    trees[0].label,
    run.quick ? 'quick' : 'full',
    `${r.members} × ${r.loadsPerMember}`,
    `${m.total}: ${m.loads} / ${m.duplicatePosts} / ${m.settlementLines.first + m.settlementLines.second} / ` +
      `${m.scheduleChanges} / ${m.bulkOperationMembers} / ${m.optOuts}`,
    `${sh.continuedAsNew} / ${sh.continuedAfterUnhandledCommand} / ${sh.continuedRightAfterMarkerOnlyTask}`,
    sh.heartbeatTasks,
    causes(sh.failedTasks),
    `${sh.timedOutTasks} / ${sh.longestTaskMs}`,
    `${allHeld ? 'all' : 'NOT all'} ${c.members}; reconcile ${c.reconcile.missing} missing of ${c.reconcile.checked}`,
    r.failures.length,
    r.seconds,
    notesOf(run, [
      `DB +${o.slowDbMs} ms for ${o.slowForMs / 1000} s; continue-as-new past ${o.historyEventLimit} events`,
    ]),
  ];
  publish(
    run,
    'storm',
    at,
    {
      parameters: o,
      tree: { commit: trees[0].commit, label: trees[0].label },
      ...r,
    },
    {
      heading: 'Continue-as-new storm (`npm run bench -- storm`)',
      intro: `The storm of \`test/e2e/storm.test.ts\`, longer: members × real-time loads (one in seven posted twice), two
settlement files (delayed loads, a third of the instant ones, one return a member), deadline changes one by one and in
bulk, and every member opting out at the end, through the whole product (in this process; its worker's PostgreSQL
behind a delay proxy, slowed for part of the loads), each run continuing as new once its history passes 16 events.

- **messages**: all of them: loads / duplicate posts / settlement lines / deadline changes / members in the bulk
operation / opt-outs.
- **continue-as-new**: transitions / after an UnhandledCommand (the task that continued was retried) / right after a
task that only recorded markers; **heartbeats**: tasks a local activity's heartbeat forced; **failed tasks** by cause;
**timed out / longest task** (ms), from the histories.
- **checks**: members for which every check held: counted = sent, the explanation adds up to it, every delivery once in
the audit trail, the proof verified; and the reconciliation afterwards. **losses**: checks that did not hold (0 is the
point). **s**: the whole storm.`,
      columns: [
        'date',
        'code',
        'run',
        'members × loads',
        'messages',
        'continue-as-new',
        'heartbeats',
        'failed tasks',
        'timed out / longest task',
        'checks',
        'losses',
        's',
        'notes',
      ],
    },
    [row],
  );
}

async function wedgeBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? WEDGE_QUICK : WEDGE_DEFAULTS;
  const r = await measureWedge(o);
  const [now] = r.runs;
  const rows = r.runs.map((w) => [
    when(at),
    `${trees[0].label} ${w.code}`,
    run.quick ? 'quick' : 'full',
    `${w.members} / ${o.slots}`,
    `${o.stalls} × ${o.stallMs / 1000} s stalled, ${o.lateForMs / 1000} s × ${o.lateMs / 1000} s late`,
    `${w.caught} / ${w.members}`,
    w.caught === w.members ? w.recoverySeconds : `> ${o.recoveryCapMs / 1000}`,
    w.shapes.longestTaskMs,
    w.shapes.timedOutTasks,
    causes(w.shapes.failedTasks),
    notesOf(
      run,
      w === now ? [] : [`recovery ×${ratio(w.recoverySeconds, now.recoverySeconds) ?? '–'} the current code's`],
    ),
  ]);
  publish(
    run,
    'wedge',
    at,
    {
      parameters: o,
      tree: { commit: trees[0].commit, label: trees[0].label },
      ...r,
    },
    {
      heading: 'A slow database, the wedge (`npm run bench -- wedge`)',
      intro: `The scenario of \`test/workflows/slow-database.test.ts\`, larger: members hearing a load each every 1.5 s while
the worker's PostgreSQL (behind a delay proxy) stalls, then answers late; then it is healthy and the loads stop. In
the same run, on the same servers, the member workflow as it is and as it was before the patch safe-seams (both
bundled the same way, without the tracing interceptors), each with a worker of its own.

- **members / slots**: members, and the worker's workflow task slots (production's 40).
- **caught up**: members whose stored view counts every load sent; **recovery s**: from the database healthy again to
all of them (or the wait's cap).
- **longest task** (ms), **timed out** (tasks past their timeout) and **failed tasks** by cause, from the histories.`,
      columns: [
        'date',
        'code',
        'run',
        'members / slots',
        'trouble',
        'caught up',
        'recovery s',
        'longest task',
        'timed out',
        'failed tasks',
        'notes',
      ],
    },
    rows,
  );
}

/** The settlement benchmark is its own program (`npm run bench:settlement`, with more options): run it as such. */
async function settlementBenchmark(run: Run): Promise<void> {
  const args = [
    path.join(repoRoot(), 'dist-bench', 'bench', 'settlement.js'),
    ...(run.quick ? ['--lines', '2000', '--members', '50'] : []),
    '--out',
    run.out,
    ...(run.note ? ['--note', run.note] : []),
  ];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`the settlement benchmark exited with ${code}`);
}

async function transactionsBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? TRANSACTIONS_QUICK : TRANSACTIONS_DEFAULTS;
  const results: TreeResult[] = [];
  for (const tree of trees) results.push(await measureTransactions(tree, o));
  const [mine, theirs] = results;
  const comparisons = theirs
    ? {
        kneeRatio: ratio(mine.knee.api, theirs.knee.api),
        eventsPerTransactionRatio: ratio(
          mine.at70?.api.eventsPerTransactionTotal,
          theirs.at70?.api.eventsPerTransactionTotal,
        ),
      }
    : undefined;
  const rows = results.map((r) => {
    const a = r.at70;
    return [
      at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      r.tree.label,
      run.quick ? 'quick' : 'full',
      `${r.knee.api ?? '–'} / ${r.knee.raw ?? '–'}`,
      a ? `${a.rate}` : '–',
      a ? `${ratio(a.api.throughput, a.raw.throughput) ?? '–'}` : '–',
      a ? `${a.api.ack?.p99 ?? '–'} / ${a.raw.ack?.p99 ?? '–'}` : '–',
      a ? `${a.api.freshness?.p50 ?? '–'} / ${a.api.freshness?.p99 ?? '–'}` : '–',
      a ? `${a.reads.reads?.latency?.p99 ?? '–'}` : '–',
      a ? `${a.api.eventsPerTransactionTotal}` : '–',
      a ? ['node', 'temporal', 'postgres'].map((n) => a.api.cpuSecondsPer1000[n] ?? 0).join(' / ') : '–',
      [
        ...(theirs && r === mine ? [`vs ${theirs.tree.label}: knee ×${comparisons?.kneeRatio ?? '–'}`] : []),
        ...(theirs && r === theirs ? [`baseline of the row above`] : []),
        ...(run.note ? [run.note.replace(/\|/g, '/')] : []),
      ].join('; '),
    ];
  });
  publish(
    run,
    'transactions',
    at,
    {
      parameters: { ...o, kneeP99Ms: KNEE_P99_MS },
      trees: results,
      comparisons,
    },
    {
      heading: 'Transactions (`npm run bench -- transactions`)',
      intro: `Open-loop load on \`POST /v1/transactions\` (a small instant load for one of \`members\` enrolled members,
round robin), stepped up, each step as an API round and a raw round (the Temporal client signalling the same member
workflows, as the API does, without the API), interleaved; then 70 % of the API's knee for longer, and once more with
member-view reads alongside. Latencies count from each request's scheduled time.

- **knee API / raw**: the highest rate (tx/s) at which every request was answered and the ack p99 stayed ≤ 200 ms.
- **@70%**: the rate of the rounds that follow; **API/raw thr.**: their throughput ratio.
- **ack p99 API / raw** (ms) and **fresh p50 / p99** (ms): from the 202 to the ledger row the recorder writes with the
member view (what \`GET …/members/{id}\` then shows).
- **read p99**: member-view reads (ms) while transactions flow at that rate.
- **events/tx**: history events per transaction (a sample of the members' histories; by type in the JSON).
- **CPU s/1000 tx**: node (API and worker) / Temporal dev server / PostgreSQL.`,
      columns: [
        'date',
        'code',
        'run',
        'knee API / raw',
        '@70%',
        'API/raw thr.',
        'ack p99 API / raw',
        'fresh p50 / p99',
        'read p99',
        'events/tx',
        'CPU s/1000 tx',
        'notes',
      ],
    },
    rows,
  );
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      against: { type: 'string' },
      note: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const unknown = positionals.filter((n) => !(n in BENCHMARKS));
  if (unknown.length) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}\n\n${HELP}\n`);
    return 2;
  }
  const run: Run = {
    quick: Boolean(values.quick),
    ...(values.against ? { against: values.against } : {}),
    ...(values.note ? { note: values.note } : {}),
    out: path.resolve(values.out ?? path.join(repoRoot(), 'bench', 'results')),
  };
  process.env.LOG_LEVEL ??= 'warn';
  const onSignal = () => {
    say('interrupted: stopping after the current request…');
    interruption.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const trees = [currentTree()];
  try {
    if (run.against) trees.push(commitTree(run.against));
    for (const name of positionals.length ? positionals : Object.keys(BENCHMARKS)) {
      say(`== ${name}${run.quick ? ' (quick)' : ''} on ${trees.map((t) => t.label).join(' and ')}`);
      await BENCHMARKS[name](run, trees);
    }
    return 0;
  } catch (err) {
    say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return interruption.signal.aborted ? 130 : 1;
  } finally {
    for (const tree of trees) tree.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench crashed: ${String(err)}\n`);
    process.exit(1);
  },
);
