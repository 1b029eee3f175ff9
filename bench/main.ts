/**
 * `npm run bench`: the benchmark suite. `npm run bench -- <name> …` runs some; `--quick` is a smoke run of every one
 * (small sizes, a few seconds a phase: what CI runs, to keep them working; its figures mean little);
 * `--against <commit>` measures that commit too, in the same run, on the same machine, for the benchmarks that compare
 * code versions. Each benchmark writes one JSON file and a row per measured tree to bench/results/README.md
 * (`--out DIR` writes there instead). It measures and records; it never fails because something is slow.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../src/dev/tools';
import { gitInfo, interruption, say } from './lib/common';
import { commitTree, currentTree, type CodeTree } from './lib/product';
import { machine, record } from './lib/results';
import {
  KNEE_P99_MS,
  measureTransactions,
  TRANSACTIONS_DEFAULTS,
  TRANSACTIONS_QUICK,
  type TreeResult,
} from './transactions';

const HELP = `Usage: npm run bench -- [name …] [options]

Benchmarks: ${'transactions'} (default: all).

Options:
  --quick           a smoke run of each benchmark: small sizes, short phases (CI runs this; figures mean little)
  --against COMMIT  also measure COMMIT (checked out into a temporary worktree) in the same run
  --note TEXT       free text for the notes column
  --out DIR         write results to DIR instead of bench/results
  -h, --help        this text`;

interface Run {
  quick: boolean;
  against?: string;
  note?: string;
  out: string;
}

type Benchmark = (run: Run, trees: CodeTree[]) => Promise<void>;

const BENCHMARKS: Record<string, Benchmark> = { transactions: transactionsBenchmark };

async function transactionsBenchmark(run: Run, trees: CodeTree[]): Promise<void> {
  const at = new Date();
  const o = run.quick ? TRANSACTIONS_QUICK : TRANSACTIONS_DEFAULTS;
  const results: TreeResult[] = [];
  for (const tree of trees) results.push(await measureTransactions(tree, o));
  const [mine, theirs] = results;
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    a && b ? Math.round((a / b) * 100) / 100 : null;
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
  const file = record(
    run.out,
    'transactions',
    at,
    {
      benchmark: 'transactions',
      date: at.toISOString(),
      machine: machine(),
      git: gitInfo(repoRoot()),
      quick: run.quick,
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
  say(`transactions: wrote ${path.relative(repoRoot(), file)}`);
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
