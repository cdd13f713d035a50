/**
 * The in-memory store of the Deduplicator: the highest processed sequence number per session, bounded per
 * owner and in total, so that one owner's traffic never pushes out another owner's sessions.
 *
 * Forgetting a session is what turns a resend into a second effect, so who may cause it matters: an owner
 * past its own quota forgets its own least recently used session; when the store as a whole is full, the
 * session forgotten is the least recently used one of the owner holding the most (ties: the one that grew
 * there first). A victim with a handful of sessions is therefore never the one to lose a session while any
 * owner holds more than it does — an attacker with 100,000 one-message sessions only cycles through its own
 * quota.
 */
import { describe } from "../describe.js";

/** Where the highest processed sequence number of each session is kept. May be async (a database). */
export interface DedupeStore {
  /**
   * The last processed sequence number of `sessionId` (the Deduplicator's key: `<owner length>:<owner>:<sid>`
   * when the connection has an owner, else the sid), or undefined. `owner` is that connection's owner, for
   * stores that keep owners apart.
   */
  get(sessionId: string, owner?: string): number | undefined | Promise<number | undefined>;
  /** Records `seq` as the last processed sequence number of `sessionId` (of `owner`). */
  set(sessionId: string, seq: number, owner?: string): void | Promise<void>;
  /**
   * For a store shared by several Deduplicators (several nodes): atomically, either `seq` was processed
   * already (`duplicate`), or another holder is processing a message of the session now (`busy`, ask again
   * in `retryInMs`), or the caller now holds the session until it commits or releases (`claimed`), or until
   * the store's lease runs out. With `claim`, `commit` and `release` the Deduplicator never runs the effect
   * of one (session, seq) on two nodes at once; without them it reads, runs and writes (one holder per store).
   */
  claim?(sessionId: string, seq: number, owner?: string): DedupeClaim | Promise<DedupeClaim>;
  /** Records `seq` as processed (never lowering what is recorded) and ends the claim `token`. */
  commit?(sessionId: string, seq: number, token: string, owner?: string): void | Promise<void>;
  /** Ends the claim `token` without recording anything (the effect failed). */
  release?(sessionId: string, token: string, owner?: string): void | Promise<void>;
}

/** The answer of {@link DedupeStore.claim}. */
export type DedupeClaim =
  /** The caller holds the session: run the effect, then `commit` (or `release` if it failed). */
  | {
      /** The caller holds the session. */
      readonly status: "claimed";
      /** The claim's token, for `commit` and `release`. */
      readonly token: string;
    }
  /** `seq` is at or below `last`, the highest processed: do not run the effect again. */
  | {
      /** Processed before. */
      readonly status: "duplicate";
      /** The highest sequence number processed (what the acknowledgement carries). */
      readonly last: number;
    }
  /** Another holder is processing a message of this session: ask again after `retryInMs`. */
  | {
      /** Another holder is processing the session. */
      readonly status: "busy";
      /** How long the holder's claim still holds (ms): ask again before then, it may commit sooner. */
      readonly retryInMs: number;
    };

/** Options of {@link memoryDedupeStore} beyond the total. */
export interface MemoryDedupeStoreOptions {
  /**
   * Sessions one owner may have remembered (an integer ≥ 1). Default 1,000. Past it the owner's own least
   * recently used session is forgotten. Sessions of connections without an owner count as one owner whose
   * quota is the total (`maxSessions`): pass owners to keep clients apart.
   */
  maxSessionsPerOwner?: number;
}

function count(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new RangeError(`${name} must be an integer >= 1; got ${describe(value)}`);
  }
  return value as number;
}

/** The in-memory store, which also tells how many sessions it remembers. */
export interface MemoryDedupeStore extends DedupeStore {
  /** Sessions remembered now, across all owners (never more than `maxSessions`). */
  readonly size: number;
}

/** The sessions of connections without an owner (no owner string can be undefined, so none collides). */
const UNOWNED = Symbol("unowned");
type OwnerId = string | typeof UNOWNED;

/**
 * An in-memory {@link DedupeStore} remembering at most `maxSessions` sessions in total and
 * `maxSessionsPerOwner` per owner, least recently used out first, never another owner's while the owner
 * asking holds more (see the module comment).
 */
export function memoryDedupeStore(
  maxSessions = 100_000,
  options: MemoryDedupeStoreOptions = {},
): MemoryDedupeStore {
  if (!Number.isInteger(maxSessions) || maxSessions < 1) {
    throw new RangeError(`maxSessions must be an integer >= 1; got ${describe(maxSessions)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`memoryDedupeStore: options must be an object; got ${describe(options)}`);
  }
  const perOwner = count("maxSessionsPerOwner", options.maxSessionsPerOwner, 1_000);
  const owners = new Map<OwnerId, Map<string, number>>();
  // Owners by how many sessions they hold, so the largest is found in O(1) when the store is full.
  const bySize = new Map<number, Set<OwnerId>>();
  let largest = 0;
  let total = 0;

  const resize = (owner: OwnerId, from: number, to: number) => {
    bySize.get(from)?.delete(owner);
    if (from > 0 && bySize.get(from)?.size === 0) bySize.delete(from);
    if (to > 0) {
      const set = bySize.get(to) ?? new Set<OwnerId>();
      bySize.set(to, set);
      set.add(owner);
    }
    if (to > largest) largest = to;
    while (largest > 0 && !bySize.has(largest)) largest--;
  };
  const forgetOldest = (owner: OwnerId) => {
    const sessions = owners.get(owner);
    if (sessions === undefined) return;
    sessions.delete(sessions.keys().next().value as string);
    total--;
    resize(owner, sessions.size + 1, sessions.size);
    if (sessions.size === 0) owners.delete(owner);
  };
  const ownerOf = (owner: string | undefined): OwnerId => (typeof owner === "string" ? owner : UNOWNED);

  return {
    get size() {
      return total;
    },
    // Reading counts as use: a session that is only ever resent to must not be the first forgotten.
    get(sessionId, owner) {
      const sessions = owners.get(ownerOf(owner));
      const seq = sessions?.get(sessionId);
      if (sessions !== undefined && seq !== undefined) {
        sessions.delete(sessionId);
        sessions.set(sessionId, seq);
      }
      return seq;
    },
    set(sessionId, seq, owner) {
      const id = ownerOf(owner);
      const sessions = owners.get(id) ?? new Map<string, number>();
      owners.set(id, sessions);
      if (sessions.delete(sessionId)) {
        sessions.set(sessionId, seq);
        return;
      }
      const quota = id === UNOWNED ? maxSessions : perOwner;
      if (sessions.size >= quota) forgetOldest(id);
      else if (total >= maxSessions) {
        const biggest = bySize.get(largest)?.values().next().value as OwnerId;
        // The asker itself when it is (one of) the largest: it never takes from an owner holding less.
        forgetOldest(sessions.size >= largest ? id : biggest);
      }
      const before = sessions.size;
      sessions.set(sessionId, seq);
      total++;
      if (!owners.has(id)) owners.set(id, sessions);
      resize(id, before, sessions.size);
    },
  };
}
