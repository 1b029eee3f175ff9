/**
 * The audit trail's hash chain, computed again outside the database: the same text and hash as the migration's
 * `audit_chain_text` / `audit_chain_hash` (migrations/1764892800000_audit-hash-chain.sql), over the values as stored.
 * A trail is intact when its places run 1, 2, 3, … without a gap, each line names the hash of the one before it, and
 * each line's hash is that of its own content: an edit changes a hash, a deletion leaves a gap or a broken link.
 */
import { createHash } from 'node:crypto';

/** The hash a trail starts from. */
export const GENESIS_HASH = '0'.repeat(64);

/** One stored line as the chain sees it: its content as PostgreSQL renders it (`payload::text`, UTC microseconds). */
export interface ChainedLine {
  workflowId: string;
  position: number;
  key: string;
  type: string;
  source: string;
  /** `occurred_at` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  occurredText: string;
  /** `payload::text`: jsonb's own canonical rendering. */
  payloadText: string;
  prevHash: string;
  hash: string;
}

export const chainText = (prevHash: string, l: Omit<ChainedLine, 'prevHash' | 'hash'>): string =>
  [prevHash, l.workflowId, String(l.position), l.key, l.type, l.source, l.occurredText, l.payloadText].join('\n');

export const chainHash = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export interface ChainCheck {
  intact: boolean;
  /** The hash of the trail's last line: what the trail amounts to. */
  head?: string;
  /** The first line where the chain does not hold. */
  brokenAt?: { position: number; key: string; type: string; problem: string };
}

/** Checks one trail's chain (its lines in place order). */
export function checkChain(lines: readonly ChainedLine[]): ChainCheck {
  let prev = GENESIS_HASH;
  let expectedPosition = 1;
  for (const l of lines) {
    const broken = (problem: string): ChainCheck => ({
      intact: false,
      brokenAt: { position: l.position, key: l.key, type: l.type, problem },
    });
    if (l.position !== expectedPosition) {
      return broken(
        l.position > expectedPosition
          ? `line ${expectedPosition}${l.position - expectedPosition > 1 ? `–${l.position - 1}` : ''} is missing`
          : `line ${l.position} appears twice`,
      );
    }
    if (l.prevHash !== prev) return broken(`the line before this one is not the one it was chained to`);
    if (chainHash(chainText(prev, l)) !== l.hash) return broken(`the line was changed after it was written`);
    prev = l.hash;
    expectedPosition += 1;
  }
  return { intact: true, ...(lines.length > 0 ? { head: prev } : {}) };
}
