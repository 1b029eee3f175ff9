/** The human format of API answers, from fixed response bodies. */
import {
  formatAccepted,
  formatApiError,
  formatCampaignReport,
  formatCents,
  formatMember,
  formatResolution,
  formatReviews,
  formatSettlementReport,
  formatShare,
  formatTable,
  formatTime,
  type CampaignReport,
  type MemberView,
  type ReviewItem,
  type SettlementReport,
} from '../../src/cli/format';
import { NO_LIFT } from '../support/records';

const member: MemberView = {
  campaignId: 'demo',
  memberId: 'M-1001',
  group: 'TREATMENT',
  state: 'COMPLETED',
  enrolledAt: '2026-11-01T09:30:00.000Z',
  windowEndsAt: '2026-12-01T09:30:00.000Z',
  evaluatesAt: '2026-12-03T09:30:00.000Z',
  targetCents: 50_000,
  countedCents: 55_000,
  instantCents: 30_000,
  settledCents: 25_000,
  pendingCents: 12_345,
  remainingCents: 0,
  reward: {
    status: 'ISSUED',
    points: 2_000,
    idempotencyKey: 'activation:demo:M-1001',
    creditId: 'cr-1',
    issuedAt: '2026-12-03T09:30:01.250Z',
  },
  updatedAt: '2026-12-03T09:30:01.300Z',
};

const review: ReviewItem = {
  id: 'rv-0123456789abcdef',
  campaignId: 'demo',
  memberId: 'M-1001',
  workflowId: 'activation:demo:M-1001',
  kind: 'LATE_LOAD_WOULD_QUALIFY',
  reason: 'late settlement SETTLED LOAD TX-9 of 60000 cents would have made the member eligible',
  createdAt: '2026-12-04T01:00:00.000Z',
  state: 'OPEN',
  details: {},
};

describe('amounts and times', () => {
  it('writes cents as Australian dollars', () => {
    expect(formatCents(0)).toBe('A$0.00');
    expect(formatCents(5)).toBe('A$0.05');
    expect(formatCents(50_000)).toBe('A$500.00');
    expect(formatCents(123_456_789)).toBe('A$1,234,567.89');
    expect(formatCents(-2_050)).toBe('-A$20.50');
  });

  it('writes times to the second in UTC, and leaves what it cannot parse alone', () => {
    expect(formatTime('2026-11-22T09:30:00.000Z')).toBe('2026-11-22 09:30:00 UTC');
    expect(formatTime('2026-11-22T20:30:00.999+11:00')).toBe('2026-11-22 09:30:00 UTC');
    expect(formatTime('soon')).toBe('soon');
  });

  it('writes shares as percent, and n/a when there is nothing to share', () => {
    expect(formatShare(0.3333)).toBe('33.3%');
    expect(formatShare(null)).toBe('n/a');
  });

  it('aligns tables on every column but the last', () => {
    expect(
      formatTable(
        ['A', 'BB', 'C'],
        [
          ['long', 'x', 'free text'],
          ['s', 'yy', ''],
        ],
      ),
    ).toEqual(['A     BB  C', 'long  x   free text', 's     yy']);
  });
});

describe('member view', () => {
  it('shows the state, every amount in A$ and the reward', () => {
    const text = formatMember(member);
    expect(text).toContain('Member M-1001 in campaign demo');
    expect(text).toMatch(/state\s+COMPLETED/);
    expect(text).toMatch(/counted\s+A\$550\.00 of A\$500\.00 target/);
    expect(text).toMatch(/instant\s+A\$300\.00/);
    expect(text).toMatch(/settled\s+A\$250\.00/);
    expect(text).toMatch(/pending\s+A\$123\.45/);
    expect(text).toMatch(/remaining\s+A\$0\.00/);
    expect(text).toMatch(/reward\s+ISSUED: 2,000 points, credit cr-1 at 2026-12-03 09:30:01 UTC/);
    expect(text).toMatch(/evaluates at\s+2026-12-03 09:30:00 UTC/);
    expect(text).not.toContain('disqualified');
  });

  it('says who disqualified the member, and when there is no reward yet', () => {
    const { reward: _reward, ...rest } = member;
    const text = formatMember({
      ...rest,
      state: 'DISQUALIFIED',
      disqualifiedBy: { transactionId: 'TX-9', amountCents: 2_000, channel: 'ATM', occurredAt: '2026-11-05T00:00:00Z' },
    });
    expect(text).toMatch(/reward\s+none yet/);
    expect(text).toMatch(/disqualified\s+by withdrawal TX-9: A\$20\.00 via ATM at 2026-11-05 00:00:00 UTC/);
  });

  it('explains a reward that could not be issued', () => {
    const text = formatMember({
      ...member,
      state: 'MANUAL_REVIEW',
      reward: { status: 'FAILED', points: 2_000, idempotencyKey: 'k', failure: 'points API answered 409' },
    });
    expect(text).toMatch(/reward\s+FAILED: 2,000 points not issued \(points API answered 409\)/);
  });
});

describe('reviews', () => {
  it('lists review items as a table with a count', () => {
    const resolved: ReviewItem = {
      ...review,
      id: 'rv-fedcba9876543210',
      state: 'RESOLVED',
      resolution: { action: 'DISMISS', note: 'paid by hand', resolvedAt: '2026-12-05T00:00:00Z' },
    };
    const lines = formatReviews({ items: [review, resolved] }).split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+CAMPAIGN\s+MEMBER\s+KIND\s+CREATED\s+REASON$/);
    expect(lines[1]).toMatch(/^rv-0123456789abcdef\s+OPEN\s+demo\s+M-1001\s+LATE_LOAD_WOULD_QUALIFY\s+2026-12-04/);
    expect(lines[1]).toContain('would have made the member eligible');
    expect(lines[2]).toMatch(/^rv-fedcba9876543210\s+RESOLVED \(DISMISS\)/);
    expect(lines.at(-1)).toBe('2 review items');
    // Columns line up.
    expect(lines[1].indexOf('demo')).toBe(lines[0].indexOf('CAMPAIGN'));
  });

  it('says so when there are none', () => {
    expect(formatReviews({ items: [] })).toBe('No review items.');
    expect(formatReviews({ items: [] }, 'OPEN')).toBe('No OPEN review items.');
  });

  it('shows a resolution with its note and the retry workflow', () => {
    const text = formatResolution({
      ...review,
      state: 'RESOLVED',
      resolution: {
        action: 'RETRY_REWARD',
        note: 'eligible after all',
        resolvedBy: 'ops-7',
        resolvedAt: '2026-12-05T00:00:00Z',
        retryWorkflowId: 'review:rv-0123456789abcdef',
      },
    });
    expect(text.split('\n')[0]).toBe('Review rv-0123456789abcdef RESOLVED: RETRY_REWARD');
    expect(text).toMatch(/note\s+eligible after all/);
    expect(text).toMatch(/resolved\s+2026-12-05 00:00:00 UTC by ops-7/);
    expect(text).toMatch(/retry\s+workflow review:rv-0123456789abcdef issues the reward again/);
  });
});

describe('campaign report', () => {
  const report: CampaignReport = {
    campaignId: 'demo',
    generatedAt: '2026-12-10T00:00:00Z',
    enrollments: 3,
    counts: { ACTIVE: 1, COMPLETED: 2, ENROLLED: 0 },
    rewards: { issued: 2, pointsIssued: 4_000, failed: 0 },
    openReviews: 1,
    settlementDiscrepancies: {
      thresholdCents: 10_000,
      afterDays: 7,
      members: 1,
      top: [{ memberId: 'M-7', instantCents: 30_000, settledCents: 0, differenceCents: 30_000 }],
    },
    lateSettlements: { members: 1, share: 0.3333 },
    graceEffectiveness: { delayedLoads: 4, settledBeforeEvaluation: 3, share: 0.75 },
    lift: NO_LIFT,
    budget: null,
  };

  it('shows states with members, rewards, reviews and the settlement monitoring figures', () => {
    const text = formatCampaignReport(report);
    expect(text).toMatch(/^Campaign demo \(report of 2026-12-10 00:00:00 UTC\)/);
    expect(text).toMatch(/enrollments\s+3/);
    expect(text).toMatch(/ACTIVE\s+1/);
    expect(text).toMatch(/COMPLETED\s+2/);
    expect(text).not.toContain('ENROLLED');
    expect(text).toMatch(/rewards issued\s+2 \(4,000 points\)/);
    expect(text).toMatch(/open reviews\s+1/);
    expect(text).toContain('1 member with instant loads above settled by more than A$100.00, 7 days after the load');
    expect(text).toMatch(/late settlements\s+1 member \(33\.3% of enrollments\)/);
    expect(text).toMatch(/grace period\s+3 of 4 in-window delayed loads settled before evaluation \(75\.0%\)/);
    expect(text).toMatch(/M-7\s+A\$300\.00\s+A\$0\.00\s+A\$300\.00/);
    expect(text).toMatch(/lift\s+no holdout group \(holdoutPercent 0\)/);
  });

  it('shows the lift against the holdout: both rates, the difference with its interval, the incremental cost', () => {
    const text = formatCampaignReport({
      ...report,
      lift: {
        holdoutPercent: 20,
        pointsIssued: 600_000,
        treatment: { members: 1_000, activated: 300, rate: 0.3 },
        holdout: { members: 250, activated: 50, rate: 0.2 },
        difference: 0.1,
        confidenceInterval: { low: 0.042857, high: 0.157143, level: 0.95 },
        incrementalActivated: 100,
        pointsPerIncrementalActivation: 6_000,
      },
    });
    expect(text).toMatch(/activation, treated\s+30\.0% \(300 of 1,000 ended enrollments\)/);
    expect(text).toMatch(/activation, holdout 20%\s+20\.0% \(50 of 250 ended enrollments\)/);
    expect(text).toMatch(/lift\s+10\.0 pp \(95% CI 4\.3 pp to 15\.7 pp\), 100 incremental activations/);
    expect(text).toMatch(/incremental cost\s+6,000 points per incremental activation/);
    const early = formatCampaignReport({
      ...report,
      lift: { ...report.lift, holdoutPercent: 20, treatment: { members: 3, activated: 1, rate: 0.3333 } },
    });
    expect(early).toMatch(/lift\s+not yet: both groups need ended enrollments/);
  });

  it('shows the budget: slots taken and left, and the eligible members who found none', () => {
    expect(formatCampaignReport(report)).not.toMatch(/budget/);
    const text = formatCampaignReport({
      ...report,
      budget: { maxRewards: 50_000, reserved: 50_000, remaining: 0, exhausted: 1_234 },
    });
    expect(text).toMatch(/budget\s+50,000 of 50,000 rewards taken, 0 left; 1,234 eligible members found none left/);
  });
});

describe('settlement batch report', () => {
  const batch: SettlementReport = {
    batchId: 'nightly-1',
    state: 'COMPLETED',
    records: 7,
    processed: 7,
    applied: 3,
    duplicates: 1,
    returned: 1,
    noEnrollment: 1,
    late: 1,
    rejected: [{ line: 6, reason: 'expected 9 columns, found 5' }],
    rejectedCount: 1,
    startedAt: '2026-11-22T02:00:00.000Z',
    completedAt: '2026-11-22T02:00:01.500Z',
  };

  it('shows every count and the rejected lines with their reasons', () => {
    const text = formatSettlementReport(batch);
    expect(text.split('\n')[0]).toBe('Settlement batch nightly-1: COMPLETED');
    expect(text).toMatch(/records\s+7\n/);
    expect(text).toMatch(/applied\s+3 \(1 returned\)/);
    expect(text).toMatch(/duplicates\s+1/);
    expect(text).toMatch(/no enrollment\s+1/);
    expect(text).toMatch(/late\s+1/);
    expect(text).toMatch(/rejected\s+1/);
    expect(text).toMatch(/completed\s+2026-11-22 02:00:01 UTC \(took 1\.5 s\)/);
    expect(text).toContain('Rejected lines:\n  line 6: expected 9 columns, found 5');
    expect(text).not.toContain('processed');
  });

  it('shows progress while running, the failure, and how many rejected lines are not listed', () => {
    const { completedAt: _completedAt, ...running } = batch;
    expect(formatSettlementReport({ ...running, state: 'RUNNING', processed: 4 })).toMatch(/processed\s+4 of 7/);
    const failed = formatSettlementReport({
      ...batch,
      state: 'FAILED',
      failure: 'database gone',
      rejectedCount: 1_500,
    });
    expect(failed).toMatch(/failure\s+database gone/);
    expect(failed).toContain('… and 1,499 more (the API lists the first 1)');
  });

  it('tells where to follow a batch that was only submitted', () => {
    expect(formatAccepted({ batchId: 'b1', records: 1_200, rejected: 2 }, true, 'npm run cli -- batch b1 --wait')).toBe(
      'Settlement batch b1 accepted: 1,200 records, 2 rejected at staging.\nFollow it with: npm run cli -- batch b1 --wait',
    );
    expect(formatAccepted({ batchId: 'b1' }, false, 'hint')).toBe(
      'Settlement batch b1 was submitted before; it is applied once.\nFollow it with: hint',
    );
  });
});

describe('API errors', () => {
  it('shows the code and message, and details the message does not already say', () => {
    expect(formatApiError({ code: 'NOT_FOUND', message: 'review rv-1 not found', details: [] })).toBe(
      'NOT_FOUND: review rv-1 not found',
    );
    expect(
      formatApiError({
        code: 'VALIDATION_FAILED',
        message: 'invalid request body: body.note: note must say why',
        details: [
          { path: 'body.note', code: 'too_small', message: 'note must say why' },
          { path: 'body.action', code: 'invalid_value', message: 'bad action' },
        ],
      }),
    ).toBe('VALIDATION_FAILED: invalid request body: body.note: note must say why\n  body.action: bad action');
    expect(formatApiError({ code: 'REVIEW_ALREADY_RESOLVED', message: 'done', details: [{ action: 'DISMISS' }] })).toBe(
      'REVIEW_ALREADY_RESOLVED: done\n  {"action":"DISMISS"}',
    );
  });
});
