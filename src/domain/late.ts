/**
 * News that arrives after the verdict is never applied to the ledger the verdict was made on; it is recorded as
 * late, and when it would have changed the verdict a person reviews it. Pure, so the member workflow (late news
 * while it still runs) and the settlement batch (news for enrollments whose workflow has closed) judge alike.
 */
import { decideVerdict, inWindow, type Verdict, type VerdictOutcome } from './evaluation';
import type { ExperimentGroup } from './holdout';
import { applyEvent, type Ledger } from './ledger';
import type { TransactionEvent } from './model';
import type { EnrollmentSchedule } from './terms';

export const REVIEW_KINDS = [
  'LATE_WITHDRAWAL_AFTER_REWARD',
  'LATE_LOAD_WOULD_QUALIFY',
  'LATE_NEWS_CHANGES_VERDICT',
  'REWARD_FAILED',
] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

export interface LateImpact {
  /** The verdict the enrollment would have had, had all late news (this one included) come in time. */
  wouldBe: VerdictOutcome;
  actual: VerdictOutcome;
  /**
   * Set when the news changes the verdict of a treated member: a review is opened with this kind and reason. Never
   * for a holdout member (whose verdict no money rides on), however the news would have changed it.
   */
  review?: { kind: ReviewKind; reason: string };
}

/**
 * Judges one late event against the ledger the verdict was made on plus the late news heard before it.
 * A cancelled enrollment is never reopened. Only the first late event that tips the verdict opens a review;
 * later ones that keep it tipped do not open another. A HOLDOUT member's late news is judged alike (`wouldBe`), and
 * opens no review: the member is never rewarded, so there is nothing for a person to put right.
 */
export function lateImpact(
  ledger: Ledger,
  earlierLate: readonly TransactionEvent[],
  event: TransactionEvent,
  schedule: EnrollmentSchedule,
  targetCents: number,
  verdict: Verdict,
  group?: ExperimentGroup,
): LateImpact {
  const actual = verdict.outcome;
  const before = withEvents(ledger, earlierLate);
  const after = withEvents(before, [event]);
  const at = verdict.decidedAt;
  const wasTipped = decideVerdict(before, schedule, targetCents, at).outcome;
  const wouldBe = decideVerdict(after, schedule, targetCents, at).outcome;
  if (group === 'HOLDOUT' || actual === 'CANCELLED' || wouldBe === actual || wasTipped !== actual) {
    return { wouldBe, actual };
  }

  const what = `${event.source === 'SETTLEMENT' ? `settlement ${event.status}` : 'real-time'} ${event.kind} ${event.transactionId}`;
  if (actual === 'ELIGIBLE' && event.kind === 'WITHDRAWAL' && inWindow(event.occurredAt, schedule)) {
    return {
      wouldBe,
      actual,
      review: {
        kind: 'LATE_WITHDRAWAL_AFTER_REWARD',
        reason: `late ${what} of ${event.amountCents} cents on ${event.occurredAt} is inside the window of a rewarded member`,
      },
    };
  }
  if (actual === 'NOT_ELIGIBLE' && wouldBe === 'ELIGIBLE') {
    return {
      wouldBe,
      actual,
      review: {
        kind: 'LATE_LOAD_WOULD_QUALIFY',
        reason: `late ${what} of ${event.amountCents} cents would have made the member eligible`,
      },
    };
  }
  return {
    wouldBe,
    actual,
    review: {
      kind: 'LATE_NEWS_CHANGES_VERDICT',
      reason: `late ${what} would have changed the verdict from ${actual} to ${wouldBe}`,
    },
  };
}

function withEvents(ledger: Ledger, events: readonly TransactionEvent[]): Ledger {
  const next: Ledger = { ...ledger };
  for (const ev of events) next[ev.transactionId] = applyEvent(next[ev.transactionId], ev).entry;
  return next;
}
