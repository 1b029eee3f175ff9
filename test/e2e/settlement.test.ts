/**
 * Overnight settlement files, late news and the review queue, end to end through HTTP on the stack `npm start`
 * runs (embedded PostgreSQL, the Temporal dev server, the worker, the API, the local points API).
 */
import type { BatchReport } from '../../src/db/settlements';
import { SETTLEMENT_HEADER } from '../../src/domain/settlement';
import { captureHistories } from '../support/histories';
import { eventually, startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ REWARD_RETRY_FOR: 'PT2M' });
}, 180_000);
afterAll(async () => {
  // With CAPTURE_HISTORIES=1: member, settlement batch and reward retry histories become replay fixtures.
  if (stack)
    await captureHistories(
      { address: stack.temporalAddress },
      { group: 'e2e-settlement', capturedFrom: 'test/e2e/settlement.test.ts' },
    );
  await stack?.destroy();
}, 60_000);

/** GET /v1/settlements/{batchId} answers the stored report as is. */
type Report = BatchReport;
interface Member {
  state: string;
  countedCents: number;
  instantCents: number;
  settledCents: number;
  pendingCents: number;
  reward?: { status: string; creditId?: string };
}
interface ReviewItem {
  id: string;
  memberId: string;
  campaignId: string;
  kind: string;
  state: string;
  resolution?: { action: string; note: string };
}

const csv = (rows: string[]) => `${SETTLEMENT_HEADER}\n${rows.join('\n')}\n`;
const row = (
  transactionId: string,
  memberId: string,
  kind: string,
  amountCents: number | string,
  channel: string,
  occurredAt: string,
  status = 'SETTLED',
  currency = 'AUD',
) => [transactionId, memberId, kind, amountCents, currency, channel, occurredAt, occurredAt, status].join(',');

const postFile = async (body: string, key?: string) => {
  const res = await fetch(`${stack.apiUrl}/v1/settlements`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', ...(key ? { 'Idempotency-Key': key } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as { batchId: string; records?: number; rejected?: number } };
};
const completed = (batchId: string) =>
  eventually(
    async () => {
      const r = await stack.api<Report>('GET', `/v1/settlements/${batchId}`);
      return r.body.state === 'COMPLETED' && r.body;
    },
    60_000,
    `batch ${batchId} to complete`,
  );
const member = async (campaignId: string, memberId: string) =>
  (await stack.api<Member>('GET', `/v1/campaigns/${campaignId}/members/${memberId}`)).body;
const enroll = async (campaignId: string, memberId: string) =>
  expect((await stack.api('POST', `/v1/campaigns/${campaignId}/enrollments`, { memberId })).status).toBe(201);
const realtime = (
  transactionId: string,
  memberId: string,
  amountCents: number,
  channel = 'DEBIT_CARD',
  kind = 'LOAD',
) =>
  stack.api<{ enrollments: unknown[]; late: unknown[] }>('POST', '/v1/transactions', {
    transactionId,
    memberId,
    kind,
    amountCents,
    currency: 'AUD',
    channel,
    occurredAt: new Date().toISOString(),
  });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('settlement files', () => {
  const C = 'settle-month';
  let file: string;

  beforeAll(async () => {
    await stack.api('PUT', `/v1/campaigns/${C}`, { targetCents: 50_000, rewardPoints: 2_000, window: 'P30D' });
    for (const m of ['S-1', 'S-2', 'S-3']) await enroll(C, m);
    await pause(20); // every occurredAt below is after the enrollments
    await realtime('TX-A1', 'S-1', 20_000);
    await realtime('TX-A2', 'S-1', 30_000, 'BPAY');
    await realtime('TX-B1', 'S-2', 10_000);
    await eventually(async () => (await member(C, 'S-1')).pendingCents === 30_000, 10_000, 'S-1 pending load');
    const t = new Date().toISOString();
    file = csv([
      row('TX-A1', 'S-1', 'LOAD', 20_000, 'DEBIT_CARD', t), // 2: instant load settles
      row('TX-A1', 'S-1', 'LOAD', 20_000, 'DEBIT_CARD', t), // 3: the same again
      row('TX-A2', 'S-1', 'LOAD', 30_000, 'BPAY', t), // 4: delayed load settles
      row('TX-B1', 'S-2', 'LOAD', 10_000, 'DEBIT_CARD', t, 'RETURNED'), // 5: instant load returned
      row('TX-B2', 'S-2', 'LOAD', 7_000, 'BANK_TRANSFER', t), // 6: never heard in real time
      row('TX-C1', 'S-3', 'WITHDRAWAL', 5_000, 'ATM', t), // 7: withdrawal in the window
      row('TX-N1', 'S-NONE', 'LOAD', 1_000, 'DEBIT_CARD', t), // 8: no enrollment
      row('TX-BAD', 'S-1', 'LOAD', 'abc', 'BPAY', t), // 9: malformed amount
      row('TX-USD', 'S-1', 'LOAD', 100, 'BPAY', t, 'SETTLED', 'USD'), // 10: another currency
      'TX-SHORT,S-1,LOAD', // 11: too few columns
      row('TX-A3', 'S-1', 'LOAD', 5_000, 'BPAY', t, 'RETURNED'), // 12: a return of a load never heard of
      row('TX-B2', 'S-2', 'LOAD', 7_000, 'BANK_TRANSFER', t, 'RETURNED'), // 13: ... then returned, in file order
    ]);
  }, 60_000);

  it('gives the exact report and member totals', async () => {
    const posted = await postFile(file);
    expect(posted.status).toBe(202);
    expect(posted.body).toMatchObject({ records: 12, rejected: 3 });
    expect(posted.body.batchId).toMatch(/^[0-9a-f]{64}$/);

    const report = await completed(posted.body.batchId);
    expect(report).toMatchObject({
      records: 12,
      processed: 12,
      applied: 7,
      duplicates: 1,
      returned: 3,
      noEnrollment: 1,
      late: 0,
      rejectedCount: 3,
    });
    expect(report.applied + report.duplicates + report.noEnrollment + report.late + report.rejectedCount).toBe(12);
    expect(report.rejected.map((r) => r.line)).toEqual([9, 10, 11]);
    expect(report.rejected[0].reason).toMatch(/amountCents "abc" is not a positive integer/);
    expect(report.rejected[1].reason).toMatch(/currency "USD" is not AUD/);
    expect(report.rejected[2].reason).toMatch(/expected 9 columns, found 3/);

    expect(await member(C, 'S-1')).toMatchObject({
      state: 'GOAL_ACHIEVED',
      countedCents: 50_000,
      settledCents: 50_000,
      pendingCents: 0,
    });
    expect(await member(C, 'S-2')).toMatchObject({ state: 'ENROLLED', countedCents: 0 });
    expect(await member(C, 'S-3')).toMatchObject({ state: 'DISQUALIFIED' });
  });

  it('applies the same file once, however often it is posted', async () => {
    const again = await postFile(file);
    expect(again.status).toBe(200);
    const report = await completed(again.body.batchId);
    expect(report).toMatchObject({ records: 12, applied: 7, duplicates: 1 });
    expect(await member(C, 'S-1')).toMatchObject({ countedCents: 50_000 });

    // With an Idempotency-Key the key is the batch id.
    const keyed = csv([row('TX-A4', 'S-1', 'LOAD', 1_000, 'DEBIT_CARD', new Date().toISOString())]);
    expect(await postFile(keyed, 'nightly-2026-11-22')).toEqual({
      status: 202,
      body: { batchId: 'nightly-2026-11-22', records: 1, rejected: 0 },
    });
    expect((await postFile(keyed, 'nightly-2026-11-22')).status).toBe(200);
    expect(await completed('nightly-2026-11-22')).toMatchObject({ records: 1, applied: 1 });
    expect(await member(C, 'S-1')).toMatchObject({ countedCents: 51_000 });
  });

  it('refuses the same Idempotency-Key with another file (422, naming the batch) and never applies that file', async () => {
    // Before issue 9 the second file answered 200 and silently vanished, never applied.
    const key = 'nightly-reused-key';
    const t = new Date().toISOString();
    const first = csv([row('TX-K1', 'S-1', 'LOAD', 1_000, 'DEBIT_CARD', t)]);
    expect(await postFile(first, key)).toEqual({ status: 202, body: { batchId: key, records: 1, rejected: 0 } });
    expect(await completed(key)).toMatchObject({ records: 1, applied: 1 });
    const before = await member(C, 'S-1');

    const other = csv([
      row('TX-K1', 'S-1', 'LOAD', 1_000, 'DEBIT_CARD', t, 'RETURNED'),
      row('TX-K2', 'S-1', 'LOAD', 9_000, 'DEBIT_CARD', t),
    ]);
    const refused = await postFile(other, key);
    expect(refused).toEqual({
      status: 422,
      body: {
        error: { code: 'IDEMPOTENCY_KEY_REUSED', message: expect.stringContaining(key), details: [{ batchId: key }] },
      },
    });

    // The same key and the same file is a harmless repeat.
    expect((await postFile(first, key)).status).toBe(200);
    await pause(1_000);
    const report = await completed(key);
    expect(report).toMatchObject({ records: 1, processed: 1, applied: 1, returned: 0, rejectedCount: 0 });
    expect(await member(C, 'S-1')).toEqual(before);
    const explanation = await stack.api<{
      counted: { transactionId: string }[];
      excluded: { transactionId: string }[];
    }>('GET', `/v1/campaigns/${C}/members/S-1/explanation`);
    const ids = [...explanation.body.counted, ...explanation.body.excluded].map((e) => e.transactionId);
    expect(ids).toContain('TX-K1');
    expect(ids).not.toContain('TX-K2');
    expect(explanation.body.counted.map((e) => e.transactionId)).toContain('TX-K1');
  });

  it('refuses what is not a settlement file, and changes nothing', async () => {
    const noHeader = await postFile(row('TX-Z', 'S-1', 'LOAD', 1_000, 'DEBIT_CARD', new Date().toISOString()));
    expect(noHeader.status).toBe(400);
    expect(noHeader.body).toMatchObject({ error: { code: 'INVALID_SETTLEMENT_FILE' } });
    const json = await stack.api('POST', '/v1/settlements', { not: 'csv' });
    expect(json.status).toBe(415);
    const unknown = await stack.api('GET', '/v1/settlements/no-such-batch');
    expect(unknown.status).toBe(404);
    expect((await postFile(csv([]), 'bad key!')).status).toBe(400);
  });
});

describe('late news and reviews', () => {
  const C = 'settle-late';

  beforeAll(async () => {
    await stack.api('PUT', `/v1/campaigns/${C}`, {
      targetCents: 50_000,
      rewardPoints: 2_000,
      window: 'PT3S',
      grace: 'PT2S',
    });
  });

  it('records late news, opens the right reviews, RETRY_REWARD never double-credits, and reports it all', async () => {
    for (const m of ['L-1', 'L-2', 'L-3']) await enroll(C, m);
    await pause(20);
    const inWindow = new Date().toISOString();
    await realtime('TX-L1', 'L-1', 60_000); // rewarded, then a late withdrawal
    await realtime('TX-L2', 'L-2', 30_000);
    await realtime('TX-L2B', 'L-2', 25_000, 'BPAY'); // pending at the verdict: NOT_ELIGIBLE
    await realtime('TX-L3', 'L-3', 60_000); // rewarded, then a late withdrawal
    await eventually(
      async () =>
        (await member(C, 'L-1')).state === 'COMPLETED' &&
        (await member(C, 'L-2')).state === 'NOT_ELIGIBLE' &&
        (await member(C, 'L-3')).state === 'COMPLETED',
      30_000,
      'the verdicts',
    );
    const creditsBefore = stack.points!.credits().length;

    const posted = await postFile(
      csv([
        row('TX-L1W', 'L-1', 'WITHDRAWAL', 1_000, 'ATM', inWindow), // 2
        row('TX-L2B', 'L-2', 'LOAD', 25_000, 'BPAY', inWindow), // 3
        row('TX-L3W', 'L-3', 'WITHDRAWAL', 2_000, 'ATM', inWindow), // 4
        row('TX-L1', 'L-1', 'LOAD', 60_000, 'DEBIT_CARD', inWindow), // 5: late, changes nothing
      ]),
    );
    const report = await completed(posted.body.batchId);
    expect(report).toMatchObject({ records: 4, late: 4, applied: 0 });

    const open = await eventually(
      async () => {
        const { body } = await stack.api<{ items: ReviewItem[] }>('GET', '/v1/reviews?state=OPEN');
        const mine = body.items.filter((i) => i.campaignId === C);
        return mine.length === 3 && mine;
      },
      10_000,
      'three open reviews',
    );
    const reviewOf = (m: string) => open.find((i) => i.memberId === m)!;
    expect(reviewOf('L-1').kind).toBe('LATE_WITHDRAWAL_AFTER_REWARD');
    expect(reviewOf('L-2').kind).toBe('LATE_LOAD_WOULD_QUALIFY');
    expect(reviewOf('L-3').kind).toBe('LATE_WITHDRAWAL_AFTER_REWARD');

    // Real-time news for a decided member is late too; it tips nothing further, so no new review.
    const late = await realtime('TX-L1W2', 'L-1', 500, 'ATM', 'WITHDRAWAL');
    expect(late.body).toMatchObject({ enrollments: [], late: [{ campaignId: C }] });

    const dismissed = await stack.api<ReviewItem>('POST', `/v1/reviews/${reviewOf('L-1').id}/resolve`, {
      action: 'DISMISS',
      note: 'withdrawal was a bank error, reversed',
    });
    expect(dismissed).toMatchObject({
      status: 200,
      body: { state: 'RESOLVED', resolution: { action: 'DISMISS', note: 'withdrawal was a bank error, reversed' } },
    });
    const twice = await stack.api('POST', `/v1/reviews/${reviewOf('L-1').id}/resolve`, {
      action: 'DISMISS',
      note: 'again',
    });
    expect(twice).toMatchObject({ status: 409, body: { error: { code: 'REVIEW_ALREADY_RESOLVED' } } });

    for (const m of ['L-2', 'L-3']) {
      const r = await stack.api('POST', `/v1/reviews/${reviewOf(m).id}/resolve`, {
        action: 'RETRY_REWARD',
        note: 'operator decision',
      });
      expect(r.status).toBe(200);
    }
    await eventually(
      async () =>
        (await member(C, 'L-2')).reward?.status === 'ISSUED' && (await member(C, 'L-2')).state === 'COMPLETED',
      20_000,
      'L-2 rewarded on retry',
    );
    await pause(1_000);
    const credits = stack.points!.credits().slice(creditsBefore);
    // L-2 credited once; L-3's credit already happened: the same key is replayed, never repeated.
    expect(credits.map((c) => c.memberId)).toEqual(['L-2']);
    expect(stack.points!.credits().filter((c) => c.memberId === 'L-3')).toHaveLength(1);

    const resolved = await stack.api<{ items: ReviewItem[] }>('GET', '/v1/reviews?state=RESOLVED');
    expect(resolved.body.items.filter((i) => i.campaignId === C)).toHaveLength(3);
    expect((await stack.api('GET', '/v1/reviews?state=MAYBE')).status).toBe(400);
    expect(
      (await stack.api('POST', '/v1/reviews/rv-0000000000000000/resolve', { action: 'DISMISS', note: 'x' })).status,
    ).toBe(404);

    // The campaign report agrees with the member views, also as Prometheus gauges.
    const { status, body } = await stack.api<{
      counts: Record<string, number>;
      rewards: { issued: number; pointsIssued: number };
      lateSettlements: { members: number; share: number };
      graceEffectiveness: { delayedLoads: number; settledBeforeEvaluation: number };
      openReviews: number;
    }>('GET', `/v1/campaigns/${C}/report`);
    expect(status).toBe(200);
    expect(body.counts).toEqual({ COMPLETED: 3 });
    expect(body.rewards).toMatchObject({ issued: 3, pointsIssued: 6_000 });
    expect(body.lateSettlements).toEqual({ members: 3, share: 1 });
    expect(body.graceEffectiveness).toMatchObject({ delayedLoads: 1, settledBeforeEvaluation: 0 });
    expect(body.openReviews).toBe(0);
    expect((await stack.api('GET', '/v1/campaigns/nope/report')).status).toBe(404);

    const metrics = await (await fetch(`${stack.apiUrl}/metrics`)).text();
    expect(metrics).toContain(`activation_points_issued{campaign="${C}"} 6000`);
    expect(metrics).toContain(`activation_enrollments{campaign="${C}",state="COMPLETED"} 3`);
    expect(metrics).toContain(`activation_late_settlement_member_ratio{campaign="${C}"} 1`);
  });
});
