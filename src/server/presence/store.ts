/**
 * Where the hub keeps rosters: per space, the members' states, a revision that only grows, and a bounded log
 * of the latest changes (so a client that was briefly away catches up with a diff; one that was away longer
 * gets a snapshot). An interface, so a shared store (Redis: `resilient-reconnect/server/redis`) can back
 * many hub nodes; the in-memory store is the zero-set-up one for a single node.
 *
 * An epoch names one life of a space's roster: a roster created afresh (a restarted server, a space that
 * emptied) gets a new epoch, so a client's old revision can never be mistaken for a revision of the new one.
 */
import { type Random, systemRandom } from "../../env.js";
import type { PresenceChange, StateRecord } from "../../presence/protocol.js";

/** A value now, or a promise of it: what every {@link RosterStore} method may return. */
export type Awaitable<T> = T | PromiseLike<T>;

/** A roster's position: its epoch and the revision within it. */
export interface RosterHead {
  readonly epoch: string;
  readonly rev: number;
}

/** How a change reaches the store; only a {@link SharedRosterStore} looks at it. */
export interface ApplyOptions {
  /**
   * The change comes from a member's sync on this node: this node takes the member over (it becomes its
   * owner). Without it a change to a member another node owns is not applied (`apply` gives `undefined`).
   */
  readonly claim?: boolean;
  /**
   * The member's whole state after the change (join and update), which a shared store keeps as is; the
   * hub always gives it to a shared store.
   */
  readonly state?: StateRecord;
}

/**
 * Storage of rosters, one per space. Every method may answer at once (the in-memory store: the hub then
 * works in one synchronous step, as before) or with a promise (a store on the network): the hub serialises
 * its work per space, so the changes of one space are applied and broadcast in order either way.
 *
 * A store that fails (a rejected promise, a throw) never crashes the hub: the sync or update at hand is
 * refused (`store-unavailable`, or the `code` of a {@link RosterRefusal}) and counted in the hub's stats.
 */
export interface RosterStore {
  /** The roster's epoch and revision; creates an empty roster with a fresh epoch when the space has none. */
  head(space: string): Awaitable<RosterHead>;
  /** One member's state, or `undefined`. */
  member(space: string, id: string): Awaitable<StateRecord | undefined>;
  /** Every member and state. */
  members(space: string): Awaitable<Iterable<readonly [string, StateRecord]>>;
  /** Number of members. */
  size(space: string): Awaitable<number>;
  /**
   * Applies one change and logs it; returns the new revision (the old one + 1). A shared store returns
   * `undefined` when it did not apply the change because another node owns the member (see `claim`).
   */
  apply(space: string, change: PresenceChange, options?: ApplyOptions): Awaitable<number | undefined>;
  /**
   * The changes after revision `rev`, oldest first, or `undefined` when the log no longer reaches back that
   * far (or `rev` is ahead of the roster): the caller then sends a snapshot.
   */
  changesSince(space: string, rev: number): Awaitable<readonly PresenceChange[] | undefined>;
  /** Forgets a space (its next use starts a new epoch); a shared store forgets only this node's view. */
  drop(space: string): Awaitable<void>;
}

/** Something that happened to the rosters, told to every hub of a {@link SharedRosterStore}. */
export type RosterEvent =
  | {
      /** A change applied by any node (this one included), in revision order within its space. */
      readonly type: "change";
      /** The space changed. */
      readonly space: string;
      /** The roster's life the revision belongs to. */
      readonly epoch: string;
      /** The revision this change made. */
      readonly rev: number;
      /** The change itself. */
      readonly change: PresenceChange;
      /** Set when the change moved the member to a node (a sync there): its node id. */
      readonly owner?: string;
    }
  | {
      /** A member's sync on `owner` took it over without changing its state (no new revision). */
      readonly type: "owner";
      /** The member's space. */
      readonly space: string;
      /** The member taken over. */
      readonly member: string;
      /** The node that owns it now. */
      readonly owner: string;
    }
  | {
      /**
       * Events may have been lost (the store's connection dropped, or the store restarted empty): every
       * hub answers its connections afresh (one snapshot each) and the store re-publishes what it owns.
       */
      readonly type: "reset";
    };

/** What {@link SharedRosterStore.read} found. */
export interface RosterRead {
  /** The roster's epoch and revision at the read. */
  readonly head: RosterHead;
  /** The changes after `since`, oldest first, when the log had them. */
  readonly changes?: readonly PresenceChange[];
  /** Every member, when asked for and `changes` could not be given. */
  readonly members?: readonly (readonly [string, StateRecord])[];
}

/** Options the hub passes to {@link SharedRosterStore.watch}. */
export interface WatchOptions {
  /** The hub's grace period (ms): a dead node's members leave this long after its ownership expired. */
  readonly graceMs: number;
}

/**
 * A roster store shared by several hubs (nodes): each member is owned by the node its connection is on;
 * changes made anywhere are told to every hub through `watch`, which the hub then broadcasts to its own
 * connections. A hub with such a store broadcasts what `watch` tells it, not what it applied itself.
 */
export interface SharedRosterStore extends RosterStore {
  /** This node's id (owner of the members whose connections are here). */
  readonly nodeId: string;
  /** The node that owns `member` now, or `undefined`. */
  owner(space: string, member: string): Awaitable<string | undefined>;
  /**
   * One consistent read for an answer: the head, and the changes since `since` when the log reaches back to
   * it (same epoch) and they are no more than the members; else, when `members` is true, every member.
   */
  read(space: string, since: RosterHead | undefined, members: boolean): Awaitable<RosterRead>;
  /** Starts telling `listener` every {@link RosterEvent}; returns the function that stops it. */
  watch(listener: (event: RosterEvent) => void, options: WatchOptions): () => void;
}

/** True when `store` is shared by several hubs (it has `watch`, `read`, `owner` and a `nodeId`). */
export function isSharedRosterStore(store: RosterStore): store is SharedRosterStore {
  const shared = store as Partial<SharedRosterStore>;
  return (
    typeof shared.watch === "function" &&
    typeof shared.read === "function" &&
    typeof shared.owner === "function" &&
    typeof shared.nodeId === "string"
  );
}

/**
 * A store's refusal of one change (the space is full, the state is too large): the hub refuses the sync
 * with `code` as the reason instead of `store-unavailable`.
 */
export class RosterRefusal extends Error {
  /** `"RosterRefusal"`. */
  override readonly name = "RosterRefusal";
  /** The reason sent to the client in its `refused` message. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Options of {@link InMemoryRosterStore}. */
export interface InMemoryRosterStoreOptions {
  /** Changes kept per space for catch-up diffs. Default 256. */
  maxLogEntries?: number;
  /** Randomness for epochs. Default `Math.random`. */
  random?: Random;
}

interface Roster {
  readonly epoch: string;
  rev: number;
  readonly members: Map<string, StateRecord>;
  log: PresenceChange[];
}

/** Default number of changes kept per space. */
export const DEFAULT_MAX_LOG_ENTRIES = 256;

/**
 * Rosters in this process's memory.
 * @throws RangeError when `maxLogEntries` is not an integer >= 0; TypeError when `random` is not a function.
 */
export class InMemoryRosterStore implements RosterStore {
  private readonly rosters = new Map<string, Roster>();
  private readonly maxLog: number;
  private readonly random: Random;
  private epochs = 0;

  constructor(options: InMemoryRosterStoreOptions = {}) {
    const maxLog = options.maxLogEntries ?? DEFAULT_MAX_LOG_ENTRIES;
    if (!Number.isInteger(maxLog) || maxLog < 0) {
      throw new RangeError(
        `InMemoryRosterStore: maxLogEntries must be an integer >= 0; got ${String(maxLog)}`,
      );
    }
    const random = options.random ?? systemRandom;
    if (typeof random !== "function") throw new TypeError("InMemoryRosterStore: random must be a function");
    this.maxLog = maxLog;
    this.random = random;
  }

  head(space: string): RosterHead {
    const { epoch, rev } = this.roster(space);
    return { epoch, rev };
  }

  member(space: string, id: string): StateRecord | undefined {
    return this.rosters.get(space)?.members.get(id);
  }

  members(space: string): Iterable<readonly [string, StateRecord]> {
    return this.rosters.get(space)?.members ?? [];
  }

  size(space: string): number {
    return this.rosters.get(space)?.members.size ?? 0;
  }

  apply(space: string, change: PresenceChange, _options?: ApplyOptions): number {
    const roster = this.roster(space);
    if (change.op === "leave") roster.members.delete(change.id);
    else if (change.op === "join") roster.members.set(change.id, change.state);
    else {
      const next: Record<string, unknown> = { ...roster.members.get(change.id) };
      for (const [name, value] of Object.entries(change.state)) {
        if (value === null) delete next[name];
        else next[name] = value;
      }
      roster.members.set(change.id, next);
    }
    if (this.maxLog > 0) {
      roster.log.push(change);
      // Trim in halves, not one by one: amortised O(1) per change at the cost of up to 1.5× the entries.
      if (roster.log.length >= this.maxLog * 1.5) roster.log = roster.log.slice(-this.maxLog);
    }
    roster.rev++;
    return roster.rev;
  }

  changesSince(space: string, rev: number): readonly PresenceChange[] | undefined {
    const roster = this.rosters.get(space);
    if (roster === undefined || rev > roster.rev) return undefined;
    const behind = roster.rev - rev;
    if (behind > Math.min(roster.log.length, this.maxLog)) return undefined;
    return behind === 0 ? [] : roster.log.slice(-behind);
  }

  drop(space: string): void {
    this.rosters.delete(space);
  }

  private roster(space: string): Roster {
    let roster = this.rosters.get(space);
    if (roster === undefined) {
      const epoch = `${Math.floor(this.random() * 2 ** 32).toString(36)}-${(++this.epochs).toString(36)}`;
      roster = { epoch, rev: 0, members: new Map(), log: [] };
      this.rosters.set(space, roster);
    }
    return roster;
  }
}
