/**
 * A member workflow in miniature, for the tests of what reads audit trails (the proof, the backtest): the reducer's
 * steps (src/domain/enrollment.ts) taken as the workflow takes them, their lines numbered and dated as the recorder
 * does.
 */
import {
  apply,
  enroll,
  evaluate,
  initialEnrollment,
  rewardOutcome,
  scheduleOf,
  windowEnded,
  type EnrollmentState,
  type EnrollmentTerms,
  type Step,
} from '../../src/domain/enrollment';
import { isWindowState } from '../../src/domain/lifecycle';
import { hasVerdict, type TransactionEvent } from '../../src/domain/model';
import type { TrailLine } from '../../src/domain/proof';
import { terms as defaultTerms } from './fixtures';

export class Life {
  e: EnrollmentState = initialEnrollment();
  lines: TrailLine[] = [];
  constructor(readonly terms: EnrollmentTerms = defaultTerms) {
    this.record(enroll(terms, this.e, terms.schedule.enrolledAt), terms.schedule.enrolledAt);
  }
  record(step: Step<unknown>, at: string): this {
    this.e = step.enrollment;
    for (const a of step.audit) {
      const position = this.lines.length + 1;
      this.lines.push({
        position,
        key: `seq:${position}`,
        type: a.type,
        source: a.source,
        occurredAt: at,
        payload: a.payload,
      });
    }
    return this;
  }
  news(ev: TransactionEvent, at = ev.receivedAt): this {
    return this.record(apply(this.terms, this.e, ev, at), at);
  }
  /** The timers: the window's end, then the verdict. */
  deadlines(): this {
    const s = scheduleOf(this.terms, this.e);
    if (!hasVerdict(this.e.state)) this.record(windowEnded(this.terms, this.e, s.windowEndsAt), s.windowEndsAt);
    if (!hasVerdict(this.e.state)) this.record(evaluate(this.terms, this.e, s.evaluatesAt), s.evaluatesAt);
    return this;
  }
  /** The timers that fire by `at` (a deadline at `at` itself has fired), each at its own time. */
  until(at: string): this {
    const t = Date.parse(at);
    const s = () => scheduleOf(this.terms, this.e);
    if (isWindowState(this.e.state) && Date.parse(s().windowEndsAt) <= t) {
      this.record(windowEnded(this.terms, this.e, s().windowEndsAt), s().windowEndsAt);
    }
    if (this.e.state === 'CONFIRMING' && Date.parse(s().evaluatesAt) <= t) {
      this.record(evaluate(this.terms, this.e, s().evaluatesAt), s().evaluatesAt);
    }
    return this;
  }
  rewarded(): this {
    const at = scheduleOf(this.terms, this.e).evaluatesAt;
    return this.record(
      rewardOutcome(this.terms, this.e, { status: 'ISSUED', creditId: 'cr-1', issuedAt: at, alreadyIssued: false }, at),
      at,
    );
  }
}
