/**
 * News that arrives as a member's run reaches its verdict and completes, on the real dev server: the API sees the
 * verdict in the read model and records the news as late, while the workflow may still be finishing (a signal in its
 * last workflow task makes the server refuse the completion and hand the task back with the news). Whichever way
 * the race goes, every transaction the API acknowledged ends in the audit trail: counted before the verdict, or late.
 * (A first cut of the lean recording wrote the verdict speculatively from a local activity; the refused completion
 * then replayed with the news first and the late news vanished.)
 */
import { auditTrail } from '../../src/db/audit';
import { createPool, type Db } from '../../src/db/pool';
import { eventually, startTestStack, type TestStack } from '../support/stack';

jest.setTimeout(120_000);

let stack: TestStack;
let db: Db;

beforeAll(async () => {
  stack = await startTestStack();
  db = createPool(stack.databaseUrl, 2);
  // A window of a second that closed an hour ago: each enrollment reaches NOT_ELIGIBLE in its first workflow task.
  const put = await stack.api('PUT', '/v1/campaigns/late-race', {
    targetCents: 1_000,
    rewardPoints: 10,
    window: 'PT1S',
    grace: 'PT0S',
  });
  expect(put.status).toBe(201);
});
afterAll(async () => {
  await db?.end();
  await stack?.destroy();
});

it('records every transaction heard as the run completes: counted before the verdict, or late', async () => {
  const enrolledAt = new Date(Date.now() - 3_600_000).toISOString();
  const members = Array.from({ length: 10 }, (_, i) => `RACE-${i}`);
  for (const memberId of members) {
    expect((await stack.api('POST', '/v1/campaigns/late-race/enrollments', { memberId, enrolledAt })).status).toBe(201);
    // As soon as the verdict shows, a load dated inside the window: news that would have qualified the member.
    await eventually(
      async () => {
        const { body } = await stack.api<{ state: string }>('GET', `/v1/campaigns/late-race/members/${memberId}`);
        return body.state !== 'ENROLLED' && body.state !== 'CONFIRMING';
      },
      20_000,
      `a verdict for ${memberId}`,
    );
    const posted = await stack.api('POST', '/v1/transactions', {
      transactionId: `TX-${memberId}`,
      memberId,
      kind: 'LOAD',
      amountCents: 5_000,
      currency: 'AUD',
      channel: 'DEBIT_CARD',
      occurredAt: new Date(Date.parse(enrolledAt) + 100).toISOString(),
    });
    expect(posted.status).toBe(202);
  }
  for (const memberId of members) {
    const trail = await eventually(
      async () => {
        const t = await auditTrail(db, `activation:late-race:${memberId}`);
        return t.some((a) => JSON.stringify(a.payload).includes(`TX-${memberId}`)) && t;
      },
      30_000,
      `${memberId}'s transaction in its audit trail`,
    );
    const news = trail.filter(
      (a) =>
        ['LATE_EVENT', 'TRANSACTION_RECEIVED'].includes(a.type) && JSON.stringify(a.payload).includes(`TX-${memberId}`),
    );
    expect(news).toHaveLength(1);
    // Late, it would have made the member eligible: a review item says so.
    if (news[0].type === 'LATE_EVENT') expect(trail.map((a) => a.type)).toContain('REVIEW_OPENED');
    // The audit trail agrees with itself: at most one verdict, and no two lines for one key.
    expect(trail.filter((a) => a.type === 'VERDICT')).toHaveLength(1);
    expect(new Set(trail.map((a) => a.eventKey)).size).toBe(trail.length);
  }
});
