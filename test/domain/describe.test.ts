import { aud, currentDetails, enrollmentSummary } from '../../src/domain/describe';
import { schedule } from './fixtures';

describe('the member in words (Web UI)', () => {
  const t = { countedCents: 30_000, instantCents: 20_000, settledCents: 10_000, pendingCents: 5_000 };

  it('formats cents as Australian dollars', () => {
    expect(aud(0)).toBe('AUD 0.00');
    expect(aud(123_456)).toBe('AUD 1234.56');
  });

  it('summarises the enrollment once', () => {
    expect(enrollmentSummary('M-1', 'cold-activation', 50_000, 2_000, schedule)).toBe(
      `Member M-1 in cold-activation: load AUD 500.00 by ${schedule.windowEndsAt}, no withdrawal → 2000 points after ${schedule.evaluatesAt}`,
    );
  });

  it('says where the member stands, and the verdict once there is one', () => {
    const active = currentDetails('ACTIVE', t, 50_000, schedule);
    expect(active).toContain('**ACTIVE** — loading, below the target');
    expect(active).toContain('counted AUD 300.00 of AUD 500.00 (AUD 200.00 to go)');
    expect(active).toContain(`window ends ${schedule.windowEndsAt}`);
    const done = currentDetails('NOT_ELIGIBLE', t, 50_000, schedule, {
      outcome: 'NOT_ELIGIBLE',
      decidedAt: schedule.evaluatesAt,
      countedCents: 30_000,
      targetCents: 50_000,
      reason: 'below the target',
    });
    expect(done).toContain(`verdict NOT_ELIGIBLE at ${schedule.evaluatesAt}: below the target`);
  });
});
