/**
 * The campaign gauges are served from figures at most REPORT_METRICS_MAX_AGE old, so scrapes never run the report's
 * scans more than once per period (pure unit test: the report function and the clock are injected).
 */
import { Registry } from 'prom-client';
import { registerCampaignGauges } from '../../src/api/metrics';
import type { CampaignReport } from '../../src/db/report';
import { NO_LIFT } from '../support/records';

const report = (issued: number): CampaignReport => ({
  campaignId: 'c',
  generatedAt: new Date(0).toISOString(),
  enrollments: issued,
  counts: { COMPLETED: issued },
  rewards: { issued, pointsIssued: issued * 2_000, failed: 0 },
  openReviews: 0,
  settlementDiscrepancies: { thresholdCents: 10_000, afterDays: 7, members: 0, top: [] },
  lateSettlements: { members: 0, share: 0 },
  graceEffectiveness: { delayedLoads: 0, settledBeforeEvaluation: 0, share: null },
  lift: NO_LIFT,
  budget: null,
});

function setup(maxAgeMs: number) {
  let clock = 1_000_000;
  let issued = 0;
  let calls = 0;
  let fail = false;
  const registry = new Registry();
  registerCampaignGauges(
    registry,
    () => {
      calls += 1;
      issued += 1;
      const n = issued;
      // As slow as a real computation, relative to a scrape: a refresh behind a scrape ends after it.
      return new Promise<CampaignReport[]>((resolve, reject) =>
        setTimeout(() => (fail ? reject(new Error('database down')) : resolve([report(n)])), 10),
      );
    },
    maxAgeMs,
    () => clock,
  );
  const value = async (text: string, name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const scrape = async () => {
    const text = await registry.metrics();
    // Let a background refresh started by this scrape finish before the next step of the test.
    await new Promise((r) => setTimeout(r, 30));
    return {
      issued: await value(text, 'activation_rewards_issued'),
      ok: await value(text, 'activation_report_collect_success'),
      age: await value(text, 'activation_report_age_seconds'),
    };
  };
  return {
    scrape,
    tick: (ms: number) => (clock += ms),
    calls: () => calls,
    failNext: (f: boolean) => (fail = f),
  };
}

describe('campaign gauges', () => {
  it('computes once for the first scrape and shares it between all gauges of that scrape', async () => {
    const m = setup(30_000);
    expect(await m.scrape()).toEqual({ issued: 1, ok: 1, age: 0 });
    expect(m.calls()).toBe(1);
  });

  it('serves the last figures until they are older than the max age, then refreshes behind the scrape', async () => {
    const m = setup(30_000);
    await m.scrape();
    m.tick(10_000);
    expect(await m.scrape()).toEqual({ issued: 1, ok: 1, age: 10 });
    m.tick(10_000);
    expect(await m.scrape()).toEqual({ issued: 1, ok: 1, age: 20 });
    expect(m.calls()).toBe(1);
    m.tick(15_000);
    // Stale: this scrape still gets the old figures, and starts the refresh the next one sees.
    expect(await m.scrape()).toEqual({ issued: 1, ok: 1, age: 35 });
    expect(m.calls()).toBe(2);
    m.tick(2_000);
    expect(await m.scrape()).toEqual({ issued: 2, ok: 1, age: 2 });
    expect(m.calls()).toBe(2);
  });

  it('keeps the last good figures when a refresh fails, and says so', async () => {
    const m = setup(1_000);
    await m.scrape();
    m.failNext(true);
    m.tick(5_000);
    await m.scrape(); // starts the failing refresh
    m.tick(1_500);
    expect(await m.scrape()).toMatchObject({ issued: 1, ok: 0 });
  });

  it('reports the failure of the very first computation without failing the scrape', async () => {
    const m = setup(30_000);
    m.failNext(true);
    expect(await m.scrape()).toEqual({ issued: undefined, ok: 0, age: 0 });
  });
});
