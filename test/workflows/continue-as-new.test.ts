/**
 * Continue-as-new on a real Temporal dev server, with a tiny history limit that forces it every few events: the
 * state it carries through a whole (short) life, and signals and updates racing it. Nothing heard may be lost or
 * counted twice, and every update gets its answer. These run on the dev server, in real time, because the
 * time-skipping test server's clock wedges around continue-as-new (a leaked time-skipping lock, see
 * temporalio/sdk-java#1537): its timers then never fire.
 */
import { auditTrail } from '../../src/db/audit';
import { getEnrollment } from '../../src/db/enrollments';
import type { TransactionEvent } from '../../src/domain/model';
import { scheduleFor } from '../../src/domain/terms';
import { notificationsOf } from '../../src/db/notifications';
import { applyTransactionUpdate, cancelUpdate } from '../../src/workflows/messages';
import { HOUR, TERMS, createBench, eventually, type Bench } from './harness';

let bench: Bench;
beforeAll(async () => {
  bench = await createBench({ server: 'dev' });
});
afterAll(async () => {
  await bench?.teardown();
});

describe('continue-as-new', () => {
  it('carries the state through the whole life: seen ids, counts, the outbox', () =>
    bench.withWorker(async () => {
      // A campaign of seconds. The loads happened in the window (occurredAt) whenever they are heard, and the grace
      // period is long: 12 loads, each awaited until counted, once took longer than a 15 s window on a busy CI
      // machine, and news heard before the verdict (30 s after enrollment) counts.
      const campaign = { ...TERMS, window: 'PT15S', grace: 'PT15S' };
      const schedule = scheduleFor(campaign, new Date().toISOString());
      const m = await bench.enroll('long-history', { campaign, schedule, historyEventLimit: 40 });
      const occurredAt = new Date(Date.parse(schedule.enrolledAt) + 1_000).toISOString();
      const loads = [];
      for (let i = 0; i < 12; i++) {
        loads.push(await m.send({ amountCents: 1_000, occurredAt }));
        await eventually(async () => (await m.view()).countedCents === 1_000 * (i + 1));
      }
      await eventually(async () => (await m.handle.describe()).runId !== m.handle.firstExecutionRunId);
      // Ids seen before continue-as-new are still known after it.
      for (const l of loads.slice(0, 3)) await m.send(l);
      expect((await m.view()).countedCents).toBe(12_000);

      const result = await m.handle.result();
      expect(result).toMatchObject({ state: 'NOT_ELIGIBLE', verdict: { countedCents: 12_000 } });
      const trail = await auditTrail(bench.db, m.handle.workflowId);
      expect(trail.filter((a) => a.type === 'CONTINUED_AS_NEW').length).toBeGreaterThan(0);
      expect(trail.filter((a) => a.type === 'TRANSACTION_RECEIVED')).toHaveLength(15);
      expect(new Set(trail.map((a) => a.eventKey)).size).toBe(trail.length);
      expect(trail.filter((a) => a.type === 'TRANSITION').map((a) => a.payload.to)).toEqual([
        'ACTIVE',
        'CONFIRMING',
        'NOT_ELIGIBLE',
      ]);
      const notified = await notificationsOf(bench.db, TERMS.campaignId, 'long-history');
      expect(notified.map((n) => n.type).sort()).toEqual(['ENROLLED', 'NOT_ELIGIBLE']);
      expect(await getEnrollment(bench.db, TERMS.campaignId, 'long-history')).toMatchObject({
        state: 'NOT_ELIGIBLE',
        countedCents: 12_000,
      });
    }));

  it('loses no signal and no update, and counts each transaction once', () =>
    bench.withWorker(async () => {
      const m = await bench.enroll('racing', { historyEventLimit: 30 });
      const load = (i: number): Partial<TransactionEvent> & { amountCents: number } => ({
        transactionId: `RACE-${i}`,
        amountCents: 100 + i,
        occurredAt: m.at(HOUR + i * 1_000),
      });

      // 40 distinct loads as signals and 20 through the update, all at once, plus 20 duplicates of the signals.
      const signals = Array.from({ length: 40 }, (_, i) => m.send(load(i)));
      const updates = Array.from({ length: 20 }, (_, i) =>
        m.handle.executeUpdate(applyTransactionUpdate, {
          args: [
            {
              source: 'REALTIME',
              memberId: 'racing',
              kind: 'LOAD',
              channel: 'DEBIT_CARD',
              currency: 'AUD',
              receivedAt: new Date().toISOString(),
              transactionId: `RACE-${40 + i}`,
              amountCents: 100 + 40 + i,
              occurredAt: m.at(HOUR + (40 + i) * 1_000),
            },
          ],
        }),
      );
      const duplicates = Array.from({ length: 20 }, (_, i) => m.send(load(i)));
      await Promise.all([...signals, ...duplicates]);
      expect(await Promise.all(updates)).toEqual(Array(20).fill('APPLIED'));

      const expectedCents = Array.from({ length: 60 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0);
      await eventually(async () => (await m.view()).countedCents === expectedCents, 30_000);
      expect((await m.handle.describe()).runId).not.toBe(m.handle.firstExecutionRunId);

      const view = await m.handle.executeUpdate(cancelUpdate, { args: [{ reason: 'test over' }] });
      expect(view).toMatchObject({ state: 'CANCELLED', countedCents: expectedCents });
      expect(await m.handle.result()).toMatchObject({ state: 'CANCELLED' });
      const row = await getEnrollment(bench.db, TERMS.campaignId, 'racing');
      expect(row).toMatchObject({ state: 'CANCELLED', countedCents: expectedCents });

      // The audit trail (written by the recorder across runs; lines of news within a state wait for the next durable
      // record, the verdict's at the latest) holds each delivery once: 60 + 20 duplicates.
      const received = await eventually(async () => {
        const trail = await auditTrail(bench.db, m.handle.workflowId);
        const r = trail.filter((a) => a.type === 'TRANSACTION_RECEIVED');
        return r.length === 80 && trail;
      }, 30_000);
      expect(new Set(received.map((a) => a.eventKey)).size).toBe(received.length);
      expect(received.filter((a) => a.type === 'CONTINUED_AS_NEW').length).toBeGreaterThan(1);
      const outcomes = received.filter((a) => a.type === 'TRANSACTION_RECEIVED').map((a) => a.payload.outcome);
      expect(outcomes.filter((o) => o === 'DUPLICATE')).toHaveLength(20);
    }));
});
