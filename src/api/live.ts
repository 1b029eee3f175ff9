/**
 * Live member views (GET …/members/{m}/events): everyone following a member hears each new version of its view, read
 * from the read model when PostgreSQL says it changed (db/view-changes.ts). One listening connection per API process,
 * however many streams are open; one read of the view per change of a followed member, however many follow it; nothing
 * written anywhere but where it already is. A follower that already has a version hears only newer ones.
 */
import type { ClientConfig } from 'pg';
import type { Enrollment } from '../db/enrollments';
import { listenForViewChanges, type ViewChange } from '../db/view-changes';

/** One open stream. */
export interface Follower {
  /** The newest version this follower has (its Last-Event-ID, then each version sent). */
  version: number;
  send(view: Enrollment): void;
}

export interface LiveViews {
  /**
   * Follows a member: from now on `follower.send` hears each newer version. Resolves once the database listens (so no
   * change after it is missed); rejects, following nothing, when PostgreSQL is away.
   */
  follow(campaignId: string, memberId: string, follower: Follower): Promise<() => void>;
  /** Streams open now. */
  readonly followers: number;
  close(): Promise<void>;
}

export interface LiveViewsDeps {
  /** The connection settings of the listening connection (the pool's). */
  connection: ClientConfig;
  /** Reads the member's view as it stands; undefined if there is none. */
  read(campaignId: string, memberId: string): Promise<Enrollment | undefined>;
  onError?(err: Error): void;
  /** How long a new stream waits for the listening connection before it is a 503. */
  listenTimeoutMs?: number;
}

const keyOf = (campaignId: string, memberId: string) => `${campaignId} ${memberId}`;

export function createLiveViews(deps: LiveViewsDeps): LiveViews {
  const byMember = new Map<string, { campaignId: string; memberId: string; followers: Set<Follower> }>();
  /** Members whose view is being read, and whether another change came meanwhile (read again after). */
  const reading = new Map<string, { again: boolean }>();
  let count = 0;

  const refresh = (campaignId: string, memberId: string): void => {
    const key = keyOf(campaignId, memberId);
    const busy = reading.get(key);
    if (busy) {
      busy.again = true;
      return;
    }
    const state = { again: false };
    reading.set(key, state);
    void (async () => {
      try {
        do {
          state.again = false;
          const entry = byMember.get(key);
          if (!entry) return;
          const view = await deps.read(campaignId, memberId);
          if (!view) continue;
          for (const f of byMember.get(key)?.followers ?? []) {
            if (view.version > f.version) {
              f.version = view.version;
              f.send(view);
            }
          }
        } while (state.again);
      } catch (err) {
        // PostgreSQL away for a moment: the listener's resync reads every followed view again once it is back.
        deps.onError?.(err as Error);
      } finally {
        reading.delete(key);
      }
    })();
  };

  const listener = listenForViewChanges(deps.connection, {
    onChange: (c: ViewChange) => {
      const entry = byMember.get(keyOf(c.campaignId, c.memberId));
      if (entry && [...entry.followers].some((f) => c.version > f.version)) refresh(c.campaignId, c.memberId);
    },
    onResync: () => {
      for (const { campaignId, memberId } of byMember.values()) refresh(campaignId, memberId);
    },
    ...(deps.onError ? { onError: deps.onError } : {}),
  });

  return {
    async follow(campaignId, memberId, follower) {
      await listener.ready(deps.listenTimeoutMs ?? 3_000);
      const key = keyOf(campaignId, memberId);
      const entry = byMember.get(key) ?? { campaignId, memberId, followers: new Set<Follower>() };
      byMember.set(key, entry);
      entry.followers.add(follower);
      count += 1;
      // What the view is now, for this follower and any other behind it.
      refresh(campaignId, memberId);
      let followed = true;
      return () => {
        if (!followed) return;
        followed = false;
        count -= 1;
        entry.followers.delete(follower);
        if (entry.followers.size === 0 && byMember.get(key) === entry) byMember.delete(key);
      };
    },
    get followers() {
      return count;
    },
    close: () => listener.close(),
  };
}
