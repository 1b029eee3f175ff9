/**
 * The operator CLI's command line: what each command takes, its help text, and the parsing of `argv` into one
 * `Invocation`. Pure (no I/O, no process globals), so every usage rule is unit-tested without a server.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const DEFAULT_API_URL = 'http://localhost:3000';

export const REVIEW_STATES = ['OPEN', 'RESOLVED'] as const;
export const REVIEW_ACTIONS = ['RETRY_REWARD', 'DISMISS'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

/** The verifier's page: the API's own limits (api/schemas.ts ProofsQuery). */
export const DEFAULT_VERIFY_PAGE = 500;
export const MAX_VERIFY_PAGE = 1_000;

export const OPERATION_ACTIONS = ['EXTEND_SCHEDULE', 'CANCEL', 'RETRY_REWARD'] as const;
export type OperationAction = (typeof OPERATION_ACTIONS)[number];

/** What `operate` sends as POST /v1/operations (the API validates it again). */
export interface OperateRequest {
  campaignId: string;
  select: {
    states?: string[];
    evaluatesBefore?: string;
    evaluatesAfter?: string;
    countedBelow?: number;
    countedAtLeast?: number;
    memberIds?: string[];
  };
  action: OperationAction;
  args: { extendWindowBy?: string; extendGraceBy?: string };
  reason: string;
  dryRun?: boolean;
}

export type Command =
  | { name: 'settle'; file: string; idempotencyKey?: string; wait: boolean }
  | { name: 'batch'; batchId: string; wait: boolean }
  | { name: 'status'; campaignId: string; memberId: string }
  | { name: 'watch'; campaignId: string; memberId: string; untilFinal: boolean }
  | {
      name: 'schedule';
      campaignId: string;
      memberId: string;
      extendWindowBy?: string;
      extendGraceBy?: string;
      reason: string;
      callerId?: string;
      idempotencyKey?: string;
    }
  | {
      name: 'operate';
      request: OperateRequest;
      wait: boolean;
      callerId?: string;
      idempotencyKey?: string;
    }
  | { name: 'operation'; operationId: string; wait: boolean }
  | { name: 'reviews'; state?: ReviewState }
  | { name: 'resolve'; reviewId: string; action: ReviewAction; note: string }
  | { name: 'report'; campaignId: string }
  | { name: 'verify'; campaignId: string; pageSize: number }
  | { name: 'backtest'; campaignId: string; request: BacktestRequest }
  | { name: 'reconcile'; campaignId: string; repair: boolean; settleSeconds?: number }
  | { name: 'repair-ledgers'; campaignId: string };

/** What `backtest` sends as POST /v1/campaigns/{c}/backtest (the API validates it again). */
export interface BacktestRequest {
  targetCents?: number;
  rewardPoints?: number;
  maxRewards?: number;
  window?: string;
  grace?: string;
  includeOpen?: boolean;
}

export type CommandName = Command['name'];

export interface Invocation {
  command: Command;
  /** Base URL of the API, without a trailing slash. */
  api: string;
  json: boolean;
}

export type ParseResult =
  | { kind: 'run'; invocation: Invocation }
  | { kind: 'help'; text: string }
  | { kind: 'usage-error'; message: string; usage: string };

type OptionValues = Record<string, string | boolean | undefined>;

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in help after the option name, e.g. `URL`. */
  value?: string;
  help: string;
}

interface CommandSpec {
  synopsis: string;
  summary: string;
  /** More than one line of help, where the summary is not enough. */
  details?: string[];
  positionals: string[];
  options: Record<string, OptionSpec>;
  /** Builds the command, or returns what is wrong with the arguments. */
  build(positionals: string[], values: OptionValues): Command | string;
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  api: { type: 'string', value: 'URL', help: `the API's base URL (default: $API_URL, else ${DEFAULT_API_URL})` },
  json: { type: 'boolean', help: "print the API's JSON instead of the readable format" },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

const str = (values: OptionValues, name: string): string | undefined =>
  typeof values[name] === 'string' ? values[name] : undefined;

/** Case-insensitive match against an enum, so `dismiss` works as well as `DISMISS`. */
const oneOf = <T extends string>(allowed: readonly T[], value: string): T | undefined =>
  allowed.find((a) => a === value.toUpperCase());

const COMMANDS: Record<CommandName, CommandSpec> = {
  settle: {
    synopsis: 'settle <file.csv> [--idempotency-key K] [--no-wait]',
    summary: 'upload a settlement file, follow the batch, print its report',
    details: [
      'Streams the CSV file to POST /v1/settlements, then follows the batch with a progress bar on stderr until it',
      'is COMPLETED or FAILED, and prints the batch report (counts and rejected lines). The same file (or the same',
      'idempotency key) again is applied once: the CLI shows the existing batch. Exit 0 COMPLETED, 1 FAILED.',
    ],
    positionals: ['file.csv'],
    options: {
      'idempotency-key': {
        type: 'string',
        value: 'K',
        help: 'the batch id to use (default: the SHA-256 of the file); 1-128 of A-Z a-z 0-9 _ . : -',
      },
      'no-wait': { type: 'boolean', help: 'print the batch id once the file is accepted; do not follow the batch' },
    },
    build: ([file], values) => ({
      name: 'settle',
      file,
      ...(str(values, 'idempotency-key') !== undefined ? { idempotencyKey: str(values, 'idempotency-key') } : {}),
      wait: values['no-wait'] !== true,
    }),
  },
  batch: {
    synopsis: 'batch <batchId> [--wait]',
    summary: "print a settlement batch's report (--wait: follow it until it ends)",
    positionals: ['batchId'],
    options: { wait: { type: 'boolean', help: 'follow a RUNNING batch with a progress bar until it ends' } },
    build: ([batchId], values) => ({ name: 'batch', batchId, wait: values.wait === true }),
  },
  status: {
    synopsis: 'status <campaignId> <memberId>',
    summary: "a member's balance view: state, amounts in A$, reward",
    positionals: ['campaignId', 'memberId'],
    options: {},
    build: ([campaignId, memberId]) => ({ name: 'status', campaignId, memberId }),
  },
  watch: {
    synopsis: 'watch <campaignId> <memberId> [--until-final]',
    summary: "follow a member's view live: a line for every change, until Ctrl-C (or a final state)",
    details: [
      'Reads the member stream (GET /v1/campaigns/{c}/members/{m}/events): the view as it stands, then a line for each',
      'change (a load counted, settled or returned; the goal; the window; the verdict; the reward). A broken stream is',
      'opened again from the last version seen. --until-final ends with exit 0 once the state is final (COMPLETED,',
      'NOT_ELIGIBLE, DISQUALIFIED, …: the member workflow has ended); --json prints each view as one line of JSON.',
    ],
    positionals: ['campaignId', 'memberId'],
    options: { 'until-final': { type: 'boolean', help: 'stop (exit 0) once the state is final' } },
    build: ([campaignId, memberId], values) => ({
      name: 'watch',
      campaignId,
      memberId,
      untilFinal: values['until-final'] === true,
    }),
  },
  schedule: {
    synopsis: 'schedule <campaignId> <memberId> [--extend-window D] [--extend-grace D] --reason "..."',
    summary: "move an open enrollment's deadlines later",
    details: [
      '--extend-window moves windowEndsAt and evaluatesAt by D (the grace period keeps its length); --extend-grace',
      'moves evaluatesAt. D is an ISO-8601 duration (P7D, PT12H). Only forward, only before the deadline being moved,',
      "at most P30D past the campaign's calendar in all. A load that only the new window holds counts at once.",
      'Prints the member view with the new deadlines and every change made so far. Safe to run again: a change is',
      'made once per --key (without one, once per content: the same extensions and reason).',
    ],
    positionals: ['campaignId', 'memberId'],
    options: {
      'extend-window': { type: 'string', value: 'D', help: 'add D to the window (and to evaluatesAt)' },
      'extend-grace': { type: 'string', value: 'D', help: 'add D to the grace period (evaluatesAt)' },
      reason: { type: 'string', value: '"..."', help: 'why (required; kept in the audit trail)' },
      caller: { type: 'string', value: 'ID', help: 'who asks (sent as X-Caller-Id; default: $USER)' },
      key: { type: 'string', value: 'K', help: 'Idempotency-Key: the change is made once for this key' },
    },
    build: ([campaignId, memberId], values) => {
      const extendWindowBy = str(values, 'extend-window');
      const extendGraceBy = str(values, 'extend-grace');
      if (extendWindowBy === undefined && extendGraceBy === undefined) {
        return 'give --extend-window D, --extend-grace D or both';
      }
      const reason = str(values, 'reason');
      if (reason === undefined || reason.trim() === '') return 'missing --reason "...": say why';
      const callerId = str(values, 'caller');
      const idempotencyKey = str(values, 'key');
      return {
        name: 'schedule',
        campaignId,
        memberId,
        ...(extendWindowBy !== undefined ? { extendWindowBy } : {}),
        ...(extendGraceBy !== undefined ? { extendGraceBy } : {}),
        reason,
        ...(callerId !== undefined ? { callerId } : {}),
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      };
    },
  },
  operate: {
    synopsis: 'operate <campaignId> <EXTEND_SCHEDULE|CANCEL|RETRY_REWARD> [selection] --reason "..." [--dry-run]',
    summary: 'one action over every enrollment a selection picks, followed with a progress bar',
    details: [
      'Selection (every condition given must hold; none: all enrollments of the campaign): --state S[,S…],',
      '--evaluates-before T, --evaluates-after T, --counted-below CENTS, --counted-at-least CENTS, --member M[,M…].',
      'EXTEND_SCHEDULE takes --extend-window D and/or --extend-grace D (ISO-8601 durations). --dry-run prints how',
      'many members the selection holds and the first 20, changing nothing. Otherwise the operation starts and is',
      'followed until it ends (Ctrl-C stops following, not the operation); the counts of changed, refused (with the',
      'reason) and failed members are printed. Each member is changed at most once per operation.',
    ],
    positionals: ['campaignId', 'EXTEND_SCHEDULE|CANCEL|RETRY_REWARD'],
    options: {
      state: { type: 'string', value: 'S[,S…]', help: 'only enrollments in these states' },
      'evaluates-before': { type: 'string', value: 'T', help: 'only those whose evaluatesAt is before T' },
      'evaluates-after': { type: 'string', value: 'T', help: 'only those whose evaluatesAt is at or after T' },
      'counted-below': { type: 'string', value: 'CENTS', help: 'only those with counted amount below CENTS' },
      'counted-at-least': { type: 'string', value: 'CENTS', help: 'only those with counted amount at least CENTS' },
      member: { type: 'string', value: 'M[,M…]', help: 'only these members' },
      'extend-window': { type: 'string', value: 'D', help: 'EXTEND_SCHEDULE: add D to the window (and evaluatesAt)' },
      'extend-grace': { type: 'string', value: 'D', help: 'EXTEND_SCHEDULE: add D to the grace period' },
      reason: { type: 'string', value: '"..."', help: "why (required; in every member's audit trail)" },
      'dry-run': { type: 'boolean', help: 'count and sample the selection; change nothing' },
      'no-wait': { type: 'boolean', help: 'print the operation id once it is started; do not follow it' },
      caller: { type: 'string', value: 'ID', help: 'who asks (sent as X-Caller-Id; default: $USER)' },
      'idempotency-key': { type: 'string', value: 'K', help: 'the operation id: the same key again starts nothing' },
    },
    build: ([campaignId, givenAction], values) => {
      const action = oneOf(OPERATION_ACTIONS, givenAction);
      if (!action) return `the action must be EXTEND_SCHEDULE, CANCEL or RETRY_REWARD, not "${givenAction}"`;
      const reason = str(values, 'reason');
      if (reason === undefined || reason.trim() === '') return 'missing --reason "...": say why';
      const cents = (name: string): number | string | undefined => {
        const text = str(values, name);
        if (text === undefined) return undefined;
        return /^\d{1,12}$/.test(text) ? Number(text) : `--${name} must be a whole number of cents, not "${text}"`;
      };
      const list = (name: string) =>
        str(values, name)
          ?.split(',')
          .map((x) => x.trim())
          .filter(Boolean);
      const below = cents('counted-below');
      const atLeast = cents('counted-at-least');
      if (typeof below === 'string') return below;
      if (typeof atLeast === 'string') return atLeast;
      const states = list('state')?.map((x) => x.toUpperCase());
      const memberIds = list('member');
      const select: OperateRequest['select'] = {
        ...(states?.length ? { states } : {}),
        ...(str(values, 'evaluates-before') ? { evaluatesBefore: str(values, 'evaluates-before') } : {}),
        ...(str(values, 'evaluates-after') ? { evaluatesAfter: str(values, 'evaluates-after') } : {}),
        ...(below !== undefined ? { countedBelow: below } : {}),
        ...(atLeast !== undefined ? { countedAtLeast: atLeast } : {}),
        ...(memberIds?.length ? { memberIds } : {}),
      };
      const extendWindowBy = str(values, 'extend-window');
      const extendGraceBy = str(values, 'extend-grace');
      if (action === 'EXTEND_SCHEDULE' && extendWindowBy === undefined && extendGraceBy === undefined) {
        return 'EXTEND_SCHEDULE needs --extend-window D, --extend-grace D or both';
      }
      if (action !== 'EXTEND_SCHEDULE' && (extendWindowBy !== undefined || extendGraceBy !== undefined)) {
        return `${action} takes no --extend-window or --extend-grace`;
      }
      const callerId = str(values, 'caller');
      const idempotencyKey = str(values, 'idempotency-key');
      return {
        name: 'operate',
        request: {
          campaignId,
          select,
          action,
          args: {
            ...(extendWindowBy !== undefined ? { extendWindowBy } : {}),
            ...(extendGraceBy !== undefined ? { extendGraceBy } : {}),
          },
          reason,
          ...(values['dry-run'] === true ? { dryRun: true } : {}),
        },
        wait: values['no-wait'] !== true,
        ...(callerId !== undefined ? { callerId } : {}),
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      };
    },
  },
  operation: {
    synopsis: 'operation <operationId> [--wait]',
    summary: "a bulk operation's progress and counts (--wait: follow it until it ends)",
    positionals: ['operationId'],
    options: { wait: { type: 'boolean', help: 'follow a running operation with a progress bar until it ends' } },
    build: ([operationId], values) => ({ name: 'operation', operationId, wait: values.wait === true }),
  },
  reviews: {
    synopsis: 'reviews [--state OPEN|RESOLVED]',
    summary: 'list manual review items',
    positionals: [],
    options: { state: { type: 'string', value: 'OPEN|RESOLVED', help: 'only items in this state (default: all)' } },
    build: (_positionals, values) => {
      const given = str(values, 'state');
      if (given === undefined) return { name: 'reviews' };
      const state = oneOf(REVIEW_STATES, given);
      return state ? { name: 'reviews', state } : `--state must be OPEN or RESOLVED, not "${given}"`;
    },
  },
  resolve: {
    synopsis: 'resolve <reviewId> <RETRY_REWARD|DISMISS> --note "..."',
    summary: 'resolve a review item: issue the reward again, or dismiss it',
    positionals: ['reviewId', 'RETRY_REWARD|DISMISS'],
    options: { note: { type: 'string', value: '"..."', help: 'why (required; kept with the resolution)' } },
    build: ([reviewId, givenAction], values) => {
      const action = oneOf(REVIEW_ACTIONS, givenAction);
      if (!action) return `the action must be RETRY_REWARD or DISMISS, not "${givenAction}"`;
      const note = str(values, 'note');
      if (note === undefined || note.trim() === '') return 'missing --note "...": say why';
      return { name: 'resolve', reviewId, action, note };
    },
  },
  verify: {
    synopsis: 'verify <campaignId> [--page N]',
    summary: "prove every decided enrollment's verdict from its audit trail; exit 1 on any divergence",
    details: [
      "Walks the campaign's decided enrollments a page at a time (GET /v1/campaigns/{c}/proofs): each trail's hash",
      'chain is checked and the trail replayed through the rules. Prints a progress bar, then the counts of',
      'verified enrollments, divergences and broken chains, with the member ids of the first 1,000 that failed.',
      'Exit 1 when any failed. Memory stays flat however large the campaign (one page at a time).',
    ],
    positionals: ['campaignId'],
    options: {
      page: {
        type: 'string',
        value: 'N',
        help: `enrollments per request, 1–${MAX_VERIFY_PAGE} (default ${DEFAULT_VERIFY_PAGE})`,
      },
    },
    build: ([campaignId], values) => {
      const given = str(values, 'page');
      const pageSize = given === undefined ? DEFAULT_VERIFY_PAGE : Number(given);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_VERIFY_PAGE) {
        return `--page must be a whole number from 1 to ${MAX_VERIFY_PAGE}, not "${given}"`;
      }
      return { name: 'verify', campaignId, pageSize };
    },
  },
  backtest: {
    synopsis:
      'backtest <campaignId> [--target CENTS] [--window D] [--grace D] [--points N] [--max-rewards N] [--include-open]',
    summary: "what-if terms: the campaign's recorded enrollments replayed under other terms, beside what happened",
    details: [
      'Replays every decided enrollment (with --include-open, every enrollment) from its audit trail through the',
      "same rules that decided its verdict, once under the campaign's terms and once under the terms given (an",
      "omitted one is the campaign's own), with a progress bar on stderr. Prints the verdicts, rewards and points of",
      'both side by side, the members whose verdict would flip, and whether the replay reached every recorded',
      'verdict. Nothing changes and nobody is rewarded. It replays what members did, not what they might have done.',
    ],
    positionals: ['campaignId'],
    options: {
      target: { type: 'string', value: 'CENTS', help: 'target in integer cents (30000 is A$300.00)' },
      window: { type: 'string', value: 'D', help: 'window, an ISO-8601 duration (P30D)' },
      grace: { type: 'string', value: 'D', help: 'grace period, an ISO-8601 duration (PT48H)' },
      points: { type: 'string', value: 'N', help: 'reward in points' },
      'max-rewards': { type: 'string', value: 'N', help: 'a budget: at most N rewards credited' },
      'include-open': {
        type: 'boolean',
        help: 'also the enrollments without a verdict (projected on what they heard)',
      },
    },
    build: ([campaignId], values) => {
      const request: BacktestRequest = {};
      for (const [option, field] of [
        ['target', 'targetCents'],
        ['points', 'rewardPoints'],
        ['max-rewards', 'maxRewards'],
      ] as const) {
        const given = str(values, option);
        if (given === undefined) continue;
        const n = Number(given);
        if (!/^\d+$/.test(given) || !Number.isSafeInteger(n) || n < 1) {
          return `--${option} must be a whole number above 0, not "${given}"`;
        }
        request[field] = n;
      }
      const window = str(values, 'window');
      const grace = str(values, 'grace');
      if (window !== undefined) request.window = window;
      if (grace !== undefined) request.grace = grace;
      if (values['include-open'] === true) request.includeOpen = true;
      return { name: 'backtest', campaignId, request };
    },
  },
  reconcile: {
    synopsis: 'reconcile <campaignId> [--repair] [--settle S]',
    summary: 'every piece of news the campaign accepted, accounted for by its enrollment (--repair: delivered again)',
    details: [
      'The API and the settlement batch record each piece of news they accept before they acknowledge it. This holds',
      'that record against what each enrollment applied (its ledger, its audit trail, an open run itself), with a',
      'progress bar on stderr, and lists the first 1,000 missing. --repair delivers each missing piece again: it',
      'counts once however often it comes. News from the last minute is left for the next run. Exit 1 when anything',
      'was missing, repaired or not. Memory stays flat however large the campaign (one page at a time).',
    ],
    positionals: ['campaignId'],
    options: {
      repair: { type: 'boolean', help: 'deliver every missing piece of news again' },
      settle: {
        type: 'string',
        value: 'S',
        help: 'leave news heard in the last S seconds for the next run (default 60)',
      },
    },
    build: ([campaignId], values) => {
      const settle = str(values, 'settle');
      const settleSeconds = settle === undefined ? undefined : Number(settle);
      if (settleSeconds !== undefined && (!/^\d+$/.test(settle!) || settleSeconds > 86_400)) {
        return `--settle must be a whole number of seconds from 0 to 86400, not "${settle}"`;
      }
      return {
        name: 'reconcile',
        campaignId,
        repair: values.repair === true,
        ...(settleSeconds !== undefined ? { settleSeconds } : {}),
      };
    },
  },
  'repair-ledgers': {
    synopsis: 'repair-ledgers <campaignId>',
    summary:
      "makes the campaign's stored ledgers whole, so each explanation adds up to its balance (run once after upgrading)",
    details: [
      'Before the upgrade that brought the patch safe-seams, a stored ledger could lack loads its member view counts.',
      'This holds each against the truth (an enrollment with a verdict: its audit trail; an open one that does not add',
      'up: its run), writes what differs and removes what the truth lacks, with a progress bar on stderr. Safe to run',
      'again: a whole ledger is left alone. Prints the enrollments repaired.',
    ],
    positionals: ['campaignId'],
    options: {},
    build: ([campaignId]) => ({ name: 'repair-ledgers', campaignId }),
  },
  report: {
    synopsis: 'report <campaignId>',
    summary: 'the campaign report: states, rewards, reviews, settlement monitoring',
    positionals: ['campaignId'],
    options: {},
    build: ([campaignId]) => ({ name: 'report', campaignId }),
  },
};

const isCommandName = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

const PROGRAM = 'npm run cli --';

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [flag, o.help] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`);
}

const EXIT_CODES = [
  'Exit codes:',
  '  0  success',
  '  1  the API answered an error, or the settlement batch FAILED',
  '  2  usage error (unknown command or option, missing argument, unreadable file)',
  '  3  cannot reach the API',
];

export function globalHelp(): string {
  const names = Object.keys(COMMANDS) as CommandName[];
  const width = Math.max(...names.map((n) => COMMANDS[n].synopsis.length));
  return [
    `Usage: ${PROGRAM} <command> [arguments] [options]`,
    '',
    'Operator commands for the cold member activation API.',
    '',
    'Commands:',
    ...names.map((n) => `  ${COMMANDS[n].synopsis.padEnd(width)}  ${COMMANDS[n].summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    `Run "${PROGRAM} <command> --help" for a command's options.`,
    '',
    ...EXIT_CODES,
    '',
  ].join('\n');
}

export function commandHelp(name: CommandName): string {
  const spec = COMMANDS[name];
  return [
    `Usage: ${PROGRAM} ${spec.synopsis} [global options]`,
    '',
    `${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.`,
    ...(spec.details ? ['', ...spec.details] : []),
    '',
    ...(Object.keys(spec.options).length ? ['Options:', ...optionLines(spec.options), ''] : []),
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...EXIT_CODES,
    '',
  ].join('\n');
}

/** Every option of every command: one strict parse finds unknown options wherever they stand. */
function allOptions(): NonNullable<ParseArgsConfig['options']> {
  const specs = [GLOBAL_OPTIONS, ...Object.values(COMMANDS).map((c) => c.options)];
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const options of specs) {
    for (const [name, o] of Object.entries(options))
      out[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  }
  return out;
}

/** The API base URL: `--api`, else `API_URL`, else the local default; must be http(s). */
function apiUrl(given: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const raw = given ?? (env.API_URL || DEFAULT_API_URL);
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return raw.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/**
 * Parses the arguments after `node main.js`. Options may stand anywhere (before or after the command); an option
 * that belongs to another command is a usage error rather than silently ignored.
 */
export function parseCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParseResult {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: allOptions(), allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    return usageError(cleanParseError(err), undefined);
  }
  const values = parsed.values as OptionValues;
  const [first, ...rest] = parsed.positionals;

  // `help [command]` reads better in scripts and docs than `--help` after npm's `--`.
  if (first === 'help') {
    if (rest[0] !== undefined && isCommandName(rest[0])) return { kind: 'help', text: commandHelp(rest[0]) };
    return rest[0] === undefined ? { kind: 'help', text: globalHelp() } : usageError(unknown(rest[0]), undefined);
  }
  if (first === undefined) {
    return values.help ? { kind: 'help', text: globalHelp() } : usageError('missing command', undefined);
  }
  if (!isCommandName(first)) return usageError(unknown(first), undefined);
  const spec = COMMANDS[first];
  if (values.help) return { kind: 'help', text: commandHelp(first) };

  for (const token of parsed.tokens) {
    if (token.kind === 'option' && !(token.name in GLOBAL_OPTIONS) && !(token.name in spec.options)) {
      return usageError(`option ${token.rawName} does not apply to "${first}"`, first);
    }
  }
  if (rest.length < spec.positionals.length) {
    return usageError(`missing <${spec.positionals[rest.length]}>`, first);
  }
  if (rest.length > spec.positionals.length) {
    return usageError(`unexpected argument "${rest[spec.positionals.length]}"`, first);
  }
  const command = spec.build(rest, values);
  if (typeof command === 'string') return usageError(command, first);

  const api = apiUrl(str(values, 'api'), env);
  if (api === undefined) {
    return usageError(
      `--api (or API_URL) must be an http:// or https:// URL, not "${str(values, 'api') ?? env.API_URL}"`,
      first,
    );
  }
  const withCaller =
    (command.name === 'schedule' || command.name === 'operate') && command.callerId === undefined && env.USER
      ? { ...command, callerId: env.USER }
      : command;
  return { kind: 'run', invocation: { command: withCaller, api, json: values.json === true } };
}

const unknown = (name: string) => `unknown command "${name}"`;

function usageError(message: string, command: CommandName | undefined): ParseResult {
  return { kind: 'usage-error', message, usage: command ? commandHelp(command) : globalHelp() };
}

/** parseArgs' messages mention its own API ("To specify a positional argument…"); keep the first sentence. */
function cleanParseError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(/\.\s/)[0].replace(/\.$/, '');
}
