/**
 * A small reference model of one enrollment, written from ../shared/docs/domain.md alone: it imports nothing from
 * src/ but types, so the property tests compare the product with an independent reading of the rules.
 *
 * What the model says, rule by rule (domain.md, "One enrollment"):
 * - a transaction is known by its `transactionId` and counts once, however often it is heard;
 * - it is in the window iff enrolledAt <= occurredAt < windowEndsAt;
 * - the bank's word wins: a settlement record's amount and occurredAt replace the real-time ones, and a RETURNED
 *   record is final (a SETTLED record heard after it changes nothing, so the order of the two does not matter);
 *   real-time news never changes what the bank has said;
 * - loads: instant channels count at once (instant), delayed channels are pending until settled, settled loads
 *   count, returned loads do not;
 * - a withdrawal in the window disqualifies at once unless the bank returned (reversed) it; outside the window it
 *   has no effect;
 * - the verdict at evaluatesAt: DISQUALIFIED, else ELIGIBLE iff countedCents >= targetCents, else NOT_ELIGIBLE;
 * - news heard after the verdict is late: recorded, never applied.
 *
 * It also generates the news (fast-check arbitraries): a member's transactions, each heard in real time and/or in
 * the settlement file, with duplicates and in any order.
 */
import fc from 'fast-check';
import type { TransactionEvent } from '../../src/domain/model';

export const INSTANT_CHANNELS = ['DEBIT_CARD', 'APPLE_PAY', 'GOOGLE_PAY'] as const;
export const DELAYED_CHANNELS = ['BPAY', 'BANK_TRANSFER'] as const;
export const WITHDRAWAL_CHANNELS = ['ATM', 'BANK_TRANSFER', 'OTHER'] as const;
/** The largest amount of one transaction (issue 9: A$1,000,000.00). */
export const LARGEST_AMOUNT_CENTS = 100_000_000;

export const DAY_MS = 86_400_000;

export interface ModelSchedule {
  enrolledAt: string;
  windowEndsAt: string;
  evaluatesAt: string;
}

export interface ModelTotals {
  countedCents: number;
  instantCents: number;
  settledCents: number;
  pendingCents: number;
}

export type ModelOutcome = 'ELIGIBLE' | 'NOT_ELIGIBLE' | 'DISQUALIFIED';

type Standing = 'INSTANT' | 'PENDING' | 'SETTLED' | 'RETURNED' | 'POSTED';

/** What the news heard of one transaction (in the order heard) adds up to. */
function standingOf(news: readonly TransactionEvent[]): { ev: TransactionEvent; standing: Standing } {
  const returned = news.find((n) => n.source === 'SETTLEMENT' && n.status === 'RETURNED');
  const settled = news.find((n) => n.source === 'SETTLEMENT' && n.status === 'SETTLED');
  const realtime = news.find((n) => n.source === 'REALTIME');
  // A RETURNED record settles the matter, whenever it came; a SETTLED one wins over the real-time event.
  const word = returned ?? settled ?? realtime;
  if (!word) throw new Error('a transaction with no news');
  let standing: Standing;
  if (returned) standing = 'RETURNED';
  else if (settled) standing = 'SETTLED';
  else if (word.kind === 'WITHDRAWAL') standing = 'POSTED';
  else standing = (INSTANT_CHANNELS as readonly string[]).includes(word.channel) ? 'INSTANT' : 'PENDING';
  return { ev: word, standing };
}

const groupById = (news: readonly TransactionEvent[]): TransactionEvent[][] => {
  const groups = new Map<string, TransactionEvent[]>();
  for (const n of news) groups.set(n.transactionId, [...(groups.get(n.transactionId) ?? []), n]);
  return [...groups.values()];
};

export const modelInWindow = (occurredAt: string, s: ModelSchedule): boolean => {
  const t = new Date(occurredAt).getTime();
  return new Date(s.enrolledAt).getTime() <= t && t < new Date(s.windowEndsAt).getTime();
};

/** The member's totals once all of `news` has been heard (any order, any repeats). */
export function modelTotals(news: readonly TransactionEvent[], s: ModelSchedule): ModelTotals {
  const t: ModelTotals = { countedCents: 0, instantCents: 0, settledCents: 0, pendingCents: 0 };
  for (const group of groupById(news)) {
    const { ev, standing } = standingOf(group);
    if (ev.kind !== 'LOAD' || !modelInWindow(ev.occurredAt, s)) continue;
    if (standing === 'INSTANT') t.instantCents += ev.amountCents;
    if (standing === 'SETTLED') t.settledCents += ev.amountCents;
    if (standing === 'PENDING') t.pendingCents += ev.amountCents;
  }
  t.countedCents = t.instantCents + t.settledCents;
  return t;
}

/** True when `news` holds an in-window withdrawal the bank did not return. */
export function modelDisqualified(news: readonly TransactionEvent[], s: ModelSchedule): boolean {
  return groupById(news).some((group) => {
    const { ev, standing } = standingOf(group);
    return ev.kind === 'WITHDRAWAL' && standing !== 'RETURNED' && modelInWindow(ev.occurredAt, s);
  });
}

export function modelVerdict(news: readonly TransactionEvent[], s: ModelSchedule, targetCents: number): ModelOutcome {
  if (modelDisqualified(news, s)) return 'DISQUALIFIED';
  return modelTotals(news, s).countedCents >= targetCents ? 'ELIGIBLE' : 'NOT_ELIGIBLE';
}

export interface HeardNews {
  news: TransactionEvent;
  /** When the enrollment heard it. */
  heardAtMs: number;
}

export interface ModelLife {
  outcome: ModelOutcome;
  /** The totals the verdict was made on, which late news never changes. */
  totals: ModelTotals;
  /** Heard before the verdict and applied. */
  applied: TransactionEvent[];
  /** Heard after the verdict: recorded as late. */
  late: TransactionEvent[];
}

/**
 * The life of an enrollment as it hears `heard` in order: an in-window withdrawal decides at once, otherwise the
 * verdict falls at evaluatesAt; everything heard after the verdict is late.
 */
export function modelLife(heard: readonly HeardNews[], s: ModelSchedule, targetCents: number): ModelLife {
  const evaluatesAt = new Date(s.evaluatesAt).getTime();
  const applied: TransactionEvent[] = [];
  const late: TransactionEvent[] = [];
  let decided: { outcome: ModelOutcome; totals: ModelTotals } | undefined;
  const decide = () => ({ outcome: modelVerdict(applied, s, targetCents), totals: modelTotals(applied, s) });
  for (const h of heard) {
    if (!decided && h.heardAtMs >= evaluatesAt) decided = decide();
    if (decided) {
      late.push(h.news);
      continue;
    }
    applied.push(h.news);
    if (modelDisqualified(applied, s)) decided = decide();
  }
  decided ??= decide();
  return { ...decided, applied, late };
}

// ---- generating news -------------------------------------------------------------------------------------------

/** One transaction of the member and how the enrollment hears of it. */
export interface TransactionSpec {
  transactionId: string;
  kind: 'LOAD' | 'WITHDRAWAL';
  channel: string;
  amountCents: number;
  /** occurredAt, relative to enrolledAt. */
  offsetMs: number;
  realtime: boolean;
  bank: 'NONE' | 'SETTLED' | 'RETURNED' | 'SETTLED_AND_RETURNED';
  /** The bank's figures, when they differ from the real-time event's (the bank's word replaces them). */
  bankAmountCents: number;
  bankOffsetMs: number;
}

const amount = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 40_000 }), weight: 8 },
  { arbitrary: fc.constantFrom(1, LARGEST_AMOUNT_CENTS), weight: 1 },
);

/** When the money moved, relative to enrolledAt: mostly inside the window, often on its edges, sometimes outside. */
const offset = (windowMs: number) =>
  fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: windowMs - 1 }), weight: 6 },
    { arbitrary: fc.constantFrom(-1, 0, windowMs - 1, windowMs), weight: 2 },
    { arbitrary: fc.integer({ min: -3 * DAY_MS, max: windowMs + 3 * DAY_MS }), weight: 2 },
  );

const spec = (windowMs: number, kind: 'LOAD' | 'WITHDRAWAL') =>
  fc
    .record({
      kind: fc.constant(kind),
      channel: fc.constantFrom<string>(
        ...(kind === 'LOAD' ? [...INSTANT_CHANNELS, ...DELAYED_CHANNELS] : WITHDRAWAL_CHANNELS),
      ),
      amountCents: amount,
      offsetMs: offset(windowMs),
      realtime: fc.boolean(),
      bank: fc.oneof(
        { arbitrary: fc.constantFrom<TransactionSpec['bank']>('NONE', 'SETTLED'), weight: 3 },
        { arbitrary: fc.constantFrom<TransactionSpec['bank']>('RETURNED', 'SETTLED_AND_RETURNED'), weight: 1 },
      ),
      bankDiffers: fc.boolean(),
      otherAmountCents: amount,
      otherOffsetMs: offset(windowMs),
    })
    .map(({ bankDiffers, otherAmountCents, otherOffsetMs, ...s }) => ({
      ...s,
      // Every transaction is heard of at least once.
      realtime: s.realtime || s.bank === 'NONE',
      bankAmountCents: bankDiffers ? otherAmountCents : s.amountCents,
      bankOffsetMs: bankDiffers ? otherOffsetMs : s.offsetMs,
    }));

/**
 * A member's transactions (unique ids). Withdrawals are rarer than loads (`withdrawalWeight` in 8), or nearly every
 * member would be disqualified.
 */
export const transactionSpecs = (
  windowMs: number,
  { minLength = 0, maxLength = 7, withdrawalWeight = 1 } = {},
): fc.Arbitrary<TransactionSpec[]> =>
  fc
    .array(
      fc.oneof(
        { arbitrary: spec(windowMs, 'LOAD'), weight: 8 - withdrawalWeight },
        { arbitrary: spec(windowMs, 'WITHDRAWAL'), weight: withdrawalWeight },
      ),
      { minLength, maxLength },
    )
    .map((specs) => specs.map((s, i) => ({ ...s, transactionId: `TX-${i + 1}` })));

const iso = (ms: number): string => new Date(ms).toISOString();

/** Every distinct piece of news about the transactions: the real-time event and the bank's records. */
export function newsOf(specs: readonly TransactionSpec[], memberId: string, enrolledAtMs: number): TransactionEvent[] {
  const news: TransactionEvent[] = [];
  for (const s of specs) {
    const base = {
      transactionId: s.transactionId,
      memberId,
      kind: s.kind,
      channel: s.channel as TransactionEvent['channel'],
      currency: 'AUD' as const,
    };
    const occurredMs = enrolledAtMs + s.offsetMs;
    if (s.realtime) {
      news.push({
        ...base,
        source: 'REALTIME',
        amountCents: s.amountCents,
        occurredAt: iso(occurredMs),
        receivedAt: iso(occurredMs),
      });
    }
    const bankMs = enrolledAtMs + s.bankOffsetMs;
    const record = (status: 'SETTLED' | 'RETURNED'): TransactionEvent => ({
      ...base,
      source: 'SETTLEMENT',
      status,
      amountCents: s.bankAmountCents,
      occurredAt: iso(bankMs),
      settledAt: iso(bankMs + DAY_MS),
      receivedAt: iso(bankMs + 2 * DAY_MS),
    });
    if (s.bank === 'SETTLED' || s.bank === 'SETTLED_AND_RETURNED') news.push(record('SETTLED'));
    if (s.bank === 'RETURNED' || s.bank === 'SETTLED_AND_RETURNED') news.push(record('RETURNED'));
  }
  return news;
}

/** `news` heard in any order, each piece once or a few times (webhook retries, the file posted twice). */
export const heardInAnyOrder = <T>(news: readonly T[]): fc.Arbitrary<T[]> =>
  news.length === 0
    ? fc.constant([])
    : fc.array(fc.nat({ max: news.length - 1 }), { maxLength: news.length }).chain((repeats) => {
        const all = [...news, ...repeats.map((i) => news[i])];
        return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
      });

/**
 * How the campaign's target relates to what the member loads: exactly the counted amount (the `>=` edge), one cent
 * more, or anything. Without it most random members would be far from the target.
 */
export type TargetPick = { kind: 'AT' } | { kind: 'ABOVE' } | { kind: 'ANY'; targetCents: number };
export const targetPick: fc.Arbitrary<TargetPick> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'AT' as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'ABOVE' as const }), weight: 1 },
  {
    arbitrary: fc.integer({ min: 1, max: 150_000 }).map((targetCents) => ({ kind: 'ANY' as const, targetCents })),
    weight: 2,
  },
);
export const targetFor = (pick: TargetPick, countedCents: number): number =>
  pick.kind === 'ANY' ? pick.targetCents : Math.max(1, countedCents) + (pick.kind === 'ABOVE' ? 1 : 0);
