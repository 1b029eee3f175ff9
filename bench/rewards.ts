/**
 * Reward burst (`npm run bench -- rewards`): N eligible members whose verdicts fall due in the same second, against a
 * points API that answers each credit in `latencyMs` and refuses more than `limit` at once (429). The worker keeps at
 * most `limit` credits in flight (POINTS_API_MAX_CONCURRENT), so by Little's law the credits cannot go faster than
 * limit / latency; the benchmark measures how close the burst comes, and checks that none is lost (every member
 * COMPLETED) and none doubled (one credit per member in the points API's ledger).
 */
import { startPointsApi } from '../src/dev/points-api';
import { delay, pool, say, settle } from './lib/common';
import { api, startProduct, type CodeTree } from './lib/product';

export interface RewardsOptions {
  members: number;
  latencyMs: number;
  limit: number;
  /** Give up waiting for the burst after this long. */
  timeoutMs: number;
  /** The verdicts fall due at least this long after the enrolling starts (more for many members). */
  minLeadMs: number;
}

export const REWARDS_DEFAULTS: RewardsOptions = {
  members: 10_000,
  latencyMs: 100,
  limit: 10,
  timeoutMs: 30 * 60_000,
  minLeadMs: 60_000,
};
export const REWARDS_QUICK: RewardsOptions = {
  members: 40,
  latencyMs: 100,
  limit: 5,
  timeoutMs: 5 * 60_000,
  minLeadMs: 10_000,
};

const CAMPAIGN = 'bench-rewards';
const DAY = 86_400_000;

export interface RewardsResult {
  tree: { commit: string; label: string };
  enrollMs: number;
  enrollPerSecond: number;
  dueAt: string;
  /** From the due time to the first and to the last COMPLETED (ms). */
  firstMs: number | null;
  lastMs: number | null;
  rewardsPerSecond: number | null;
  /** limit / latency: what Little's law allows. */
  boundPerSecond: number;
  completed: number;
  credits: number;
  distinctCreditedMembers: number;
  /** Credit attempts the points API refused for its limit (429), from the audit trail. */
  refusedAttempts: number;
  /** Completed per second, sampled every second from the due time. */
  series: number[];
}

export async function measureRewards(tree: CodeTree, o: RewardsOptions): Promise<RewardsResult> {
  const points = await startPointsApi({ port: 0, behaviour: { latencyMs: o.latencyMs, maxConcurrent: o.limit } });
  say(`rewards on ${tree.label}: points API at ${points.url} (${o.latencyMs} ms a credit, ${o.limit} at once)`);
  const product = await startProduct(tree, {
    env: { POINTS_API_URL: points.url, POINTS_API_MAX_CONCURRENT: String(o.limit), REWARD_RETRY_FOR: 'PT2H' },
  });
  try {
    await api(product, 'PUT', `/v1/campaigns/${CAMPAIGN}`, {
      targetCents: 1_000,
      rewardPoints: 100,
      window: 'P30D',
      grace: 'PT48H',
    });
    // Every enrollment is backdated so that it falls due at the same instant, once all are enrolled: the window has
    // ended (CONFIRMING at once), and a load dated inside it counts during the grace period.
    const leadMs = Math.max(o.minLeadMs, o.members * 40);
    const due = Date.now() + leadMs;
    const enrolledAt = new Date(due - 32 * DAY).toISOString();
    const occurredAt = new Date(due - 3 * DAY).toISOString();
    const members = Array.from({ length: o.members }, (_, i) => `rw-${String(i).padStart(6, '0')}`);
    const t0 = Date.now();
    let done = 0;
    await pool(members.length, 24, async (i) => {
      const memberId = members[i];
      const e = await api(product, 'POST', `/v1/campaigns/${CAMPAIGN}/enrollments`, { memberId, enrolledAt });
      if (e.status !== 201 && e.status !== 200) throw new Error(`enroll ${memberId}: ${e.status}`);
      const t = await api(product, 'POST', '/v1/transactions', {
        transactionId: `TX-${memberId}`,
        memberId,
        kind: 'LOAD',
        amountCents: 5_000,
        currency: 'AUD',
        channel: 'DEBIT_CARD',
        occurredAt,
      });
      if (t.status !== 202) throw new Error(`load ${memberId}: ${t.status}`);
      done += 1;
      if (done % 1000 === 0) say(`  enrolled and loaded ${done}/${members.length}`);
    });
    const enrollMs = Date.now() - t0;
    if (Date.now() > due) say(`  enrolling took longer than the lead (${leadMs} ms): some verdicts fell due already`);
    say(
      `  ${members.length} enrolled in ${(enrollMs / 1000).toFixed(1)} s; the burst is due in ${Math.max(0, due - Date.now())} ms`,
    );
    await settle(Math.max(0, due - Date.now()));
    while (Date.now() < due) await delay(50);

    const series: number[] = [];
    let first: number | null = null;
    let last: number | null = null;
    let completed = 0;
    const deadline = due + o.timeoutMs;
    while (completed < members.length && Date.now() < deadline) {
      await delay(1_000);
      const { rows } = await product.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM enrollments WHERE campaign_id = $1 AND state = 'COMPLETED'`,
        [CAMPAIGN],
      );
      const n = rows[0].n;
      series.push(n - completed);
      if (n > 0 && first === null) first = Date.now() - due;
      if (n > completed) last = Date.now() - due;
      completed = n;
    }
    const credits = points.credits().filter((c) => c.campaignId === CAMPAIGN);
    const { rows: refused } = await product.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_events
       WHERE campaign_id = $1 AND type = 'REWARD_ATTEMPT' AND payload->>'detail' LIKE 'HTTP 429%'`,
      [CAMPAIGN],
    );
    const result: RewardsResult = {
      tree: { commit: tree.commit, label: tree.label },
      enrollMs,
      enrollPerSecond: Math.round((members.length * 10_000) / enrollMs) / 10,
      dueAt: new Date(due).toISOString(),
      firstMs: first,
      lastMs: last,
      rewardsPerSecond:
        first !== null && last !== null && last > first
          ? Math.round((completed * 10_000) / (last - Math.max(0, first - 1_000))) / 10
          : null,
      boundPerSecond: Math.round((o.limit * 1000) / o.latencyMs),
      completed,
      credits: credits.length,
      distinctCreditedMembers: new Set(credits.map((c) => c.memberId)).size,
      refusedAttempts: refused[0].n,
      series,
    };
    say(
      `  ${completed}/${members.length} COMPLETED, first after ${first} ms, last after ${last} ms: ` +
        `${result.rewardsPerSecond} rewards/s (bound ${result.boundPerSecond}/s); credits ${credits.length} ` +
        `(${result.distinctCreditedMembers} members), 429s ${result.refusedAttempts}`,
    );
    return result;
  } finally {
    await product.stop();
    await points.stop();
  }
}
