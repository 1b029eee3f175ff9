/**
 * POST /v1/campaigns/{id}/backtest: a campaign's recorded enrollments replayed under other terms (domain/backtest.ts),
 * side by side with what actually happened. Read-only and streamed: one page of enrollments in memory at a time (the
 * next page is read while this one is replayed), so a million enrollments take the memory a thousand do.
 */
import { backtestPage, countForBacktest, type BacktestEnrollment } from '../db/backtest';
import { rewardTotals } from '../db/rewards';
import { snapshotOf, type Campaign } from '../db/campaigns';
import type { Queryable } from '../db/queryable';
import { CallerGone } from './errors';
import {
  backtestMember,
  BacktestTally,
  historyOf,
  termsWith,
  type BacktestSide,
  type BacktestSummary,
  type WhatIfTerms,
} from '../domain/backtest';
import { scheduleFor, type CampaignTerms } from '../domain/terms';

/** Enrollments per page: a few tens of thousands of audit lines, read in well under the statement timeout. */
export const BACKTEST_PAGE = 1_000;

export interface BacktestRequest extends WhatIfTerms {
  includeOpen?: boolean;
}

type Terms = Pick<CampaignTerms, 'targetCents' | 'rewardPoints' | 'window' | 'grace' | 'maxRewards'>;

export interface BacktestReport extends Omit<BacktestSummary, 'actual'> {
  campaignId: string;
  generatedAt: string;
  includeOpen: boolean;
  terms: { actual: Terms; whatIf: Terms };
  actual: BacktestSide & { pointsIssued: number };
  durationMs: number;
}

export interface BacktestProgress {
  done: number;
  total: number;
}

const termsOf = (c: CampaignTerms): Terms => ({
  targetCents: c.targetCents,
  rewardPoints: c.rewardPoints,
  window: c.window,
  grace: c.grace,
  ...(c.maxRewards !== undefined ? { maxRewards: c.maxRewards } : {}),
});

export async function runBacktest(
  db: Queryable,
  campaign: Campaign,
  request: BacktestRequest,
  opts: { signal?: AbortSignal; onProgress?: (p: BacktestProgress) => void; now?: Date } = {},
): Promise<BacktestReport> {
  const started = Date.now();
  const now = (opts.now ?? new Date()).toISOString();
  const includeOpen = request.includeOpen === true;
  const actualTerms = snapshotOf(campaign);
  const whatIfTerms = termsWith(actualTerms, request);
  const total = await countForBacktest(db, campaign.campaignId, includeOpen);
  const tally = new BacktestTally();
  let done = 0;
  opts.onProgress?.({ done, total });

  const read = (after?: string): Promise<BacktestEnrollment[]> =>
    backtestPage(db, campaign.campaignId, {
      ...(after !== undefined ? { after } : {}),
      limit: BACKTEST_PAGE,
      includeOpen,
    });
  let next: Promise<BacktestEnrollment[]> | undefined = read();
  while (next) {
    const page: BacktestEnrollment[] = await next;
    // Read ahead: PostgreSQL fetches the next page while this one is replayed.
    next = page.length === BACKTEST_PAGE ? read(page[page.length - 1].memberId) : undefined;
    if (opts.signal?.aborted) {
      next?.catch(() => undefined);
      throw new CallerGone('backtest');
    }
    for (const e of page) {
      const schedule = scheduleFor(actualTerms, e.enrolledAt);
      tally.add(
        backtestMember({
          actualTerms,
          whatIfTerms,
          memberId: e.memberId,
          enrolledAt: e.enrolledAt,
          group: e.group,
          history: historyOf(e.memberId, schedule, e.lines, e.ledger),
          ...(e.recorded ? { recorded: e.recorded } : {}),
          now,
        }),
      );
    }
    done += page.length;
    opts.onProgress?.({ done, total: Math.max(total, done) });
  }
  const summary = tally.summary(actualTerms, whatIfTerms);
  return {
    campaignId: campaign.campaignId,
    generatedAt: now,
    includeOpen,
    terms: { actual: termsOf(actualTerms), whatIf: termsOf(whatIfTerms) },
    ...summary,
    actual: { ...summary.actual, pointsIssued: (await rewardTotals(db, campaign.campaignId)).pointsIssued },
    durationMs: Date.now() - started,
  };
}
