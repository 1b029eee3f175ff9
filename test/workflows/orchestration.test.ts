/**
 * The member workflow's orchestration with its activities mocked (the time-skipping test server, no PostgreSQL): what
 * it asks the activities to do and when. The rules themselves are tested without Temporal (test/domain/enrollment),
 * the activities with real PostgreSQL (test/activities, test/db), the whole in test/e2e.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { ErrorType } from '../../src/domain/errors';
import type { ProgressRecord, RewardReceipt, RewardRequest } from '../../src/domain/records';
import { scheduleFor } from '../../src/domain/terms';
import type { MemberActivities } from '../../src/workflows/activity-contracts';
import type { ActivationInput, memberActivation } from '../../src/workflows/member-activation';
import { transactionSignal } from '../../src/workflows/messages';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal';
import { DAY, TERMS } from './harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

interface Mocks {
  records: ProgressRecord[];
  rewards: RewardRequest[];
  activities: MemberActivities;
}

function mocks(issue: (req: RewardRequest) => Promise<RewardReceipt>): Mocks {
  const records: ProgressRecord[] = [];
  const rewards: RewardRequest[] = [];
  return {
    records,
    rewards,
    activities: {
      recordProgress: async (r) => {
        records.push(r);
      },
      issueReward: async (req) => {
        rewards.push(req);
        return issue(req);
      },
      recordRetriedReward: async () => undefined,
      notify: async () => ({ delivered: true }),
    },
  };
}

async function run<T>(m: Mocks, fn: (start: (memberId: string) => Promise<Started>) => Promise<T>): Promise<T> {
  const taskQueue = `orchestration-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities: m.activities,
  });
  return worker.runUntil(() =>
    fn(async (memberId) => {
      const now = new Date(await env.currentTimeMs()).toISOString();
      const input: ActivationInput = {
        campaign: TERMS,
        memberId,
        schedule: scheduleFor(TERMS, now),
        rewardRetryForMs: DAY,
      };
      const handle = await env.client.workflow.start<typeof memberActivation>('memberActivation', {
        workflowId: `activation:${TERMS.campaignId}:${memberId}`,
        taskQueue,
        args: [input],
      });
      return { handle, input };
    }),
  );
}
type Started = {
  handle: Awaited<ReturnType<TestWorkflowEnvironment['client']['workflow']['start']>>;
  input: ActivationInput;
};

let tx = 0;
const loadOf = (memberId: string, amountCents: number, occurredAt: string, kind: 'LOAD' | 'WITHDRAWAL' = 'LOAD') => ({
  source: 'REALTIME' as const,
  transactionId: `ORCH-${++tx}`,
  memberId,
  kind,
  channel: kind === 'LOAD' ? ('DEBIT_CARD' as const) : ('ATM' as const),
  amountCents,
  currency: 'AUD' as const,
  occurredAt,
  receivedAt: occurredAt,
});

const allAudit = (m: Mocks) => m.records.flatMap((r) => r.audit);

it('an eligible member: one reward request with the idempotency key, and every audit line written before the end', async () => {
  const m = mocks(async () => ({ creditId: 'cr-1', issuedAt: new Date().toISOString(), alreadyIssued: false }));
  await run(m, async (start) => {
    const { handle, input } = await start('orch-ok');
    await handle.signal(transactionSignal, loadOf('orch-ok', 60_000, input.schedule.enrolledAt));
    expect(await handle.result()).toMatchObject({ state: 'COMPLETED' });
  });
  expect(m.rewards).toEqual([expect.objectContaining({ idempotencyKey: `activation:${TERMS.campaignId}:orch-ok` })]);
  const keys = allAudit(m).map((a) => a.key);
  expect(keys).toEqual(keys.map((_, i) => `seq:${i + 1}`)); // numbered without gaps, each written once
  expect(allAudit(m).map((a) => a.type)).toContain('REWARD_OUTCOME');
  expect(m.records[m.records.length - 1].view.state).toBe('COMPLETED');
});

it('a refused reward: MANUAL_REVIEW, and the record carries the review item typed, naming its audit line', async () => {
  const m = mocks(async () => {
    throw ApplicationFailure.create({ type: ErrorType.REWARD_REJECTED, message: 'HTTP 400', nonRetryable: true });
  });
  await run(m, async (start) => {
    const { handle, input } = await start('orch-refused');
    await handle.signal(transactionSignal, loadOf('orch-refused', 60_000, input.schedule.enrolledAt));
    expect(await handle.result()).toMatchObject({ state: 'MANUAL_REVIEW' });
  });
  const outcome = allAudit(m).find((a) => a.type === 'REWARD_OUTCOME')!;
  const reviews = m.records.flatMap((r) => r.reviews ?? []);
  expect(reviews).toEqual([expect.objectContaining({ kind: 'REWARD_FAILED', causeKey: outcome.key })]);
  expect(m.rewards).toHaveLength(1); // not retried
});

it('late news while the reward is in flight is recorded as late, with its review, and never reaches the ledger', async () => {
  let release: () => void = () => undefined;
  const credited = new Promise<void>((resolve) => (release = resolve));
  let started: () => void = () => undefined;
  const issuing = new Promise<void>((resolve) => (started = resolve));
  const m = mocks(async () => {
    started();
    await credited;
    return { creditId: 'cr-2', issuedAt: new Date().toISOString(), alreadyIssued: false };
  });
  await run(m, async (start) => {
    const { handle, input } = await start('orch-late');
    await handle.signal(transactionSignal, loadOf('orch-late', 60_000, input.schedule.enrolledAt));
    const result = handle.result();
    await issuing;
    const inWindow = new Date(Date.parse(input.schedule.enrolledAt) + DAY).toISOString();
    await handle.signal(transactionSignal, loadOf('orch-late', 500, inWindow, 'WITHDRAWAL'));
    release();
    expect(await result).toMatchObject({ state: 'COMPLETED' });
  });
  const late = allAudit(m).find((a) => a.type === 'LATE_EVENT')!;
  expect(m.records.flatMap((r) => r.reviews ?? [])).toEqual([
    expect.objectContaining({ kind: 'LATE_WITHDRAWAL_AFTER_REWARD', causeKey: late.key }),
  ]);
  expect(m.records.flatMap((r) => r.entries).every((e) => e.kind === 'LOAD')).toBe(true);
});
