/**
 * Enrollments (`npm run bench -- enrollments`): open-loop `POST …/enrollments` for new members, stepped up to the knee,
 * side by side with the raw Temporal client starting the same member workflow (no row, no audit line: what the API
 * adds is one PostgreSQL transaction around the start), interleaved; per round the ack latency from the schedule,
 * history events per enrollment and CPU per 1,000 enrollments.
 */
import { scheduleFor, type CampaignTerms } from '../src/domain/terms';
import type { ActivationInput, memberActivation } from '../src/workflows/member-activation';
import {
  ActivationStateKey,
  CampaignIdKey,
  CountedCentsKey,
  EvaluatesAtKey,
  MemberIdKey,
} from '../src/workflows/search-attributes';
import { childUsage, delay, say, settle } from './lib/common';
import { historyBreakdown, openLoop, stats, type Stats } from './lib/load';
import { api, startProduct, type CodeTree } from './lib/product';

export interface EnrollmentsOptions {
  rates: number[];
  stepMs: number;
  historySample: number;
}

export const ENROLLMENTS_DEFAULTS: EnrollmentsOptions = {
  rates: [10, 20, 40, 60, 90, 130, 180],
  stepMs: 20_000,
  historySample: 20,
};
export const ENROLLMENTS_QUICK: EnrollmentsOptions = { rates: [5, 10], stepMs: 3_000, historySample: 5 };

const TERMS: CampaignTerms = {
  campaignId: 'bench-enroll',
  targetCents: 50_000,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD',
};
const PAST_KNEE_P99_MS = 2_000;
export const ENROLL_KNEE_P99_MS = 200;

export interface EnrollRound {
  path: 'api' | 'raw';
  rate: number;
  offered: number;
  ok: number;
  errors: number;
  firstErrors: string[];
  throughput: number;
  ack: Stats | null;
  eventsPerEnrollment: number;
  eventsByType: Record<string, number>;
  cpuSecondsPer1000: Record<string, number>;
}

export interface EnrollTreeResult {
  tree: { commit: string; label: string };
  rounds: EnrollRound[];
  knee: { api: number | null; raw: number | null };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export async function measureEnrollments(tree: CodeTree, o: EnrollmentsOptions): Promise<EnrollTreeResult> {
  say(`enrollments on ${tree.label}: starting the product…`);
  const product = await startProduct(tree);
  try {
    const { campaignId: _id, ...terms } = TERMS;
    const put = await api(product, 'PUT', `/v1/campaigns/${TERMS.campaignId}`, terms);
    if (put.status !== 201) throw new Error(`PUT campaign answered ${put.status}: ${JSON.stringify(put.body)}`);
    await settle(60_000);
    const rounds: EnrollRound[] = [];
    const past = new Set<string>();
    let n = 0;
    for (const [step, rate] of o.rates.entries()) {
      for (const p of (step % 2 === 0 ? ['api', 'raw'] : ['raw', 'api']) as ('api' | 'raw')[]) {
        if (past.has(p)) continue;
        const tag = `${p}${rate}-${n++}`;
        const ids: string[] = [];
        const since = Date.now();
        const cpu0 = childUsage();
        const r = await openLoop(rate, o.stepMs, async (i) => {
          const memberId = `en-${tag}-${i}`;
          if (p === 'api') {
            const res = await api(product, 'POST', `/v1/campaigns/${TERMS.campaignId}/enrollments`, { memberId });
            if (res.status !== 201) throw new Error(`enroll answered ${res.status}`);
          } else {
            const input: ActivationInput = {
              campaign: TERMS,
              memberId,
              schedule: scheduleFor(TERMS, new Date().toISOString()),
              rewardRetryForMs: 86_400_000,
              // The same run the API starts: only the API's transaction (row, audit line, notification) is left out.
              recordedAtEnrollment: true,
            };
            await product.temporal.workflow.start<typeof memberActivation>('memberActivation', {
              workflowId: `activation:${TERMS.campaignId}:${memberId}`,
              taskQueue: 'member-activation',
              args: [input],
              typedSearchAttributes: [
                { key: CampaignIdKey, value: TERMS.campaignId },
                { key: MemberIdKey, value: memberId },
                { key: ActivationStateKey, value: 'ENROLLED' },
                { key: EvaluatesAtKey, value: new Date(input.schedule.evaluatesAt) },
                { key: CountedCentsKey, value: 0 },
              ],
            });
          }
          ids.push(`activation:${TERMS.campaignId}:${memberId}`);
        });
        // The runs' first workflow tasks (and records) follow the starts; let them finish before counting.
        await settle(120_000);
        await delay(500);
        const cpu1 = childUsage();
        const sample = ids.slice(0, o.historySample);
        const byType = await historyBreakdown(product.temporal, sample, since);
        const total = Object.values(byType).reduce((a, b) => a + b, 0);
        const cpuSecondsPer1000: Record<string, number> = {};
        for (const [name, after] of Object.entries(cpu1?.cpuMs ?? {})) {
          const used = after - (cpu0?.cpuMs[name] ?? 0);
          if (used >= 10) cpuSecondsPer1000[name] = round2(used / Math.max(1, r.ok));
        }
        const round: EnrollRound = {
          path: p,
          rate,
          offered: r.offered,
          ok: r.ok,
          errors: r.errors,
          firstErrors: r.firstErrors,
          throughput: r.throughput,
          ack: stats(r.latencies),
          eventsPerEnrollment: round2(total / Math.max(1, sample.length)),
          eventsByType: Object.fromEntries(
            Object.entries(byType).map(([t, c]) => [t, round2(c / Math.max(1, sample.length))]),
          ),
          cpuSecondsPer1000,
        };
        rounds.push(round);
        say(
          `  ${p} ${rate}/s: ${r.ok}/${r.offered} ok, ${r.throughput}/s, ack p50 ${round.ack?.p50} p99 ${round.ack?.p99} ms, ` +
            `${round.eventsPerEnrollment} events/enrollment, CPU s/1000 ${JSON.stringify(cpuSecondsPer1000)}`,
        );
        if (r.ok < 0.8 * r.offered || (round.ack?.p99 ?? Infinity) > PAST_KNEE_P99_MS) past.add(p);
      }
      if (past.size === 2) break;
    }
    const knee = (p: 'api' | 'raw') => {
      const good = rounds.filter(
        (r) => r.path === p && r.errors === 0 && r.ok === r.offered && (r.ack?.p99 ?? Infinity) <= ENROLL_KNEE_P99_MS,
      );
      return good.length ? Math.max(...good.map((r) => r.rate)) : null;
    };
    return { tree: { commit: tree.commit, label: tree.label }, rounds, knee: { api: knee('api'), raw: knee('raw') } };
  } finally {
    await product.stop();
  }
}
