/**
 * The proof of an enrollment's verdict: its audit trail's hash chain checked line by line, the trail replayed through
 * the rules (domain/proof.ts), and what the replay reaches held against what the read model recorded. Read-only; one
 * member (GET …/proof) or a page of a campaign's decided members (GET …/proofs, which the verifier walks).
 */
import { checkChain, type ChainCheck } from '../db/audit-chain';
import { trailsOf, type StoredLine } from '../db/audit';
import type { Enrollment } from '../db/enrollments';
import type { Queryable } from '../db/queryable';
import { outcomeProblem, replayTrail, type Replay } from '../domain/proof';

export interface Proof {
  campaignId: string;
  memberId: string;
  workflowId: string;
  /** The chain holds, the replay agrees with every claim, and it reaches what was recorded. */
  verified: boolean;
  lines: number;
  chain: ChainCheck;
  replay: Replay;
  /** What the read model recorded, and whether the replay reaches it. */
  recorded: {
    state: Enrollment['state'];
    countedCents: number;
    verdict?: Enrollment['verdict'];
    agrees: boolean;
    problem?: string;
  };
}

export function proveTrail(e: Enrollment, trail: readonly StoredLine[]): Proof {
  const chain = checkChain(trail);
  const replay = replayTrail(e.memberId, trail);
  const problem = outcomeProblem(replay, {
    state: e.state,
    countedCents: e.countedCents,
    ...(e.verdict ? { verdict: e.verdict } : {}),
  });
  return {
    campaignId: e.campaignId,
    memberId: e.memberId,
    workflowId: e.workflowId,
    verified: chain.intact && replay.agrees && problem === undefined,
    lines: trail.length,
    chain,
    replay,
    recorded: {
      state: e.state,
      countedCents: e.countedCents,
      ...(e.verdict ? { verdict: e.verdict } : {}),
      agrees: problem === undefined,
      ...(problem ? { problem } : {}),
    },
  };
}

/** The proofs of some enrollments, their trails read in one query. */
export async function proveEnrollments(db: Queryable, enrollments: readonly Enrollment[]): Promise<Proof[]> {
  const trails = await trailsOf(
    db,
    enrollments.map((e) => e.workflowId),
  );
  return enrollments.map((e) => proveTrail(e, trails.get(e.workflowId) ?? []));
}

/** A proof in one line of a page: enough for the verifier to count and name it. */
export interface ProofSummary {
  memberId: string;
  verified: boolean;
  state: Enrollment['state'];
  chainIntact: boolean;
  replayAgrees: boolean;
  outcomeAgrees: boolean;
  /** What is wrong, in words, when not verified. */
  problem?: string;
}

export function summary(p: Proof): ProofSummary {
  const problem = !p.chain.intact
    ? `chain broken at line ${p.chain.brokenAt!.position} (${p.chain.brokenAt!.type}): ${p.chain.brokenAt!.problem}`
    : !p.replay.agrees
      ? `diverges at line ${p.replay.divergence!.position} (${p.replay.divergence!.type}): ${p.replay.divergence!.problem}`
      : p.recorded.problem;
  return {
    memberId: p.memberId,
    verified: p.verified,
    state: p.recorded.state,
    chainIntact: p.chain.intact,
    replayAgrees: p.replay.agrees,
    outcomeAgrees: p.recorded.agrees,
    ...(problem ? { problem } : {}),
  };
}
