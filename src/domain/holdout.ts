/**
 * The holdout group and the campaign's lift. A campaign may keep a share of its enrollments (`holdoutPercent`) as a
 * holdout: tracked exactly like the others, never rewarded and never told. The lift is what the campaign adds: the
 * activation rate of the treated members against the holdout's, with its 95% confidence interval, and what each
 * member activated because of the campaign cost in points. Pure.
 */

export const EXPERIMENT_GROUPS = ['TREATMENT', 'HOLDOUT'] as const;
export type ExperimentGroup = (typeof EXPERIMENT_GROUPS)[number];

/** The largest holdout a campaign may keep: at least half of its members are treated. */
export const MAX_HOLDOUT_PERCENT = 50;

/** A member's bucket is one of 10,000: fine enough that every whole percentage is exactly a share of them. */
const BUCKETS = 10_000;

/**
 * A 32-bit hash of a string: FNV-1a over its UTF-16 code units, then murmur3's finaliser so that ids differing in
 * their last character spread over all buckets. Plain arithmetic: the same in the API, the workflow and the tests.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The member's bucket in the campaign, 0 to 9,999: fixed by the two ids alone. */
export const bucketOf = (campaignId: string, memberId: string): number =>
  hash32(`${campaignId}\u0000${memberId}`) % BUCKETS;

/**
 * The member's group: HOLDOUT when its bucket falls in the first `holdoutPercent` of them. The same member always lands
 * in the same group of a campaign (across retries, replays, API instances); a campaign without a holdout treats all.
 */
export function assignGroup(campaignId: string, memberId: string, holdoutPercent: number | undefined): ExperimentGroup {
  const percent = holdoutPercent ?? 0;
  if (percent <= 0) return 'TREATMENT';
  return bucketOf(campaignId, memberId) < Math.round(percent * (BUCKETS / 100)) ? 'HOLDOUT' : 'TREATMENT';
}

/** One group's decided enrollments and how many of them activated (reached the target in the window). */
export interface GroupOutcome {
  members: number;
  activated: number;
}

export interface GroupRate extends GroupOutcome {
  /** activated / members; null with no members. */
  rate: number | null;
}

export interface Lift {
  treatment: GroupRate;
  holdout: GroupRate;
  /** Treatment's rate minus the holdout's: the share of members the campaign activated; null without both groups. */
  difference: number | null;
  /** Its 95% confidence interval (normal approximation, unpooled); null without both groups. */
  confidenceInterval: { low: number; high: number; level: 0.95 } | null;
  /** Members of the treatment group activated because of the campaign: difference × treated members. */
  incrementalActivated: number | null;
  /** Points issued to the treatment group per incremental activated member; null when the campaign added none. */
  pointsPerIncrementalActivation: number | null;
}

/** z for a two-sided 95% interval. */
const Z95 = 1.959963984540054;

const rateOf = (g: GroupOutcome): GroupRate => ({ ...g, rate: g.members === 0 ? null : g.activated / g.members });

/** Rounds a share for reading (six decimals: a tenth of a basis point's hundredth). */
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * The lift of a campaign from its two groups' outcomes and the points issued to the treated members. The interval is
 * Wald's for a difference of two proportions: p_t − p_h ± z·√(p_t(1−p_t)/n_t + p_h(1−p_h)/n_h).
 */
export function liftOf(treatment: GroupOutcome, holdout: GroupOutcome, pointsIssued: number): Lift {
  const t = rateOf(treatment);
  const h = rateOf(holdout);
  if (t.rate === null || h.rate === null) {
    return {
      treatment: t,
      holdout: h,
      difference: null,
      confidenceInterval: null,
      incrementalActivated: null,
      pointsPerIncrementalActivation: null,
    };
  }
  const difference = t.rate - h.rate;
  const se = Math.sqrt((t.rate * (1 - t.rate)) / t.members + (h.rate * (1 - h.rate)) / h.members);
  const incremental = difference * t.members;
  return {
    treatment: { ...t, rate: round6(t.rate) },
    holdout: { ...h, rate: round6(h.rate) },
    difference: round6(difference),
    confidenceInterval: { low: round6(difference - Z95 * se), high: round6(difference + Z95 * se), level: 0.95 },
    incrementalActivated: Math.round(incremental * 100) / 100,
    pointsPerIncrementalActivation: incremental > 0 ? Math.round(pointsIssued / incremental) : null,
  };
}
