/**
 * The presence hub: holds a roster per space, answers each client's one `sync` with one message (a catch-up
 * diff since the revision it had, or a snapshot), and broadcasts changes to each space's members in
 * batches. Transport-agnostic: it sees {@link PresenceConnection}s; the adapters feed it from `ws` or
 * Socket.IO.
 *
 * A member whose connection drops stays in the roster for `graceMs`; back within it, nobody sees anything
 * (a reconnect storm must not become a presence storm).
 *
 * Under attack (issue 10) every cost is bounded per connection: messages over the rate are dropped before
 * they are parsed, one member's updates merge into one change per batch, a connection that does not read is
 * sent nothing more past `highWaterBytes` (then one snapshot, the latest state per member) and cut after
 * `maxBehindMs`, and seats in their grace period count against the seat limits.
 */
import type { Clock } from "../../env.js";
import {
  type DownMessage,
  encodePresence,
  isPresenceMessage,
  type StateRecord,
  type SyncMessage,
  type UpdateMessage,
} from "../../protocol/presence/messages.js";
import { count, decodeUp, newCounters } from "../../protocol/presence/validate.js";
import { answer } from "./hub-answer.js";
import { type BatchHost, flush } from "./hub-batch.js";
import { type FeedHost, follow } from "./hub-feed.js";
import {
  PRESENCE_CLOSE,
  type PresenceConnection,
  type PresenceHubOptions,
  type ResolvedHubOptions,
  resolveHubOptions,
} from "./hub-options.js";
import {
  type Binding,
  type Conn,
  newSpace,
  type PresenceHubStats,
  type Seat,
  type Space,
  takeToken,
  withMerged,
} from "./hub-state.js";
import { change, mergedUpdate, syncState, type WriteHost } from "./hub-writes.js";
import { authorizeSync } from "./identity.js";
import { deliver } from "./outbox.js";
import { abandonedSpace, SeatLedger, seatKey } from "./seats.js";
import { SpaceQueues, type Step, wait } from "./steps.js";
import { isSharedRosterStore, RosterRefusal, type SharedRosterStore } from "./store.js";

export type { PresenceHubStats } from "./hub-state.js";

let connSeq = 0;

/**
 * The server half of presence: one roster per space, one answer per client sync (a catch-up diff or a
 * snapshot), changes broadcast in batches, a grace period for members whose connection dropped, and every
 * cost bounded per connection. Feed it connections with {@link attachPresenceToWs} or
 * {@link attachPresenceToSocketIo}; options: {@link PresenceHubOptions}; counters: {@link PresenceHub.stats}.
 */
export class PresenceHub {
  private readonly options: ResolvedHubOptions;
  private readonly clock: Clock;
  private readonly spaces = new Map<string, Space>();
  private readonly conns = new Map<PresenceConnection, Conn>();
  /** Connections cut by the hub: anything more they send is ignored until the adapter lets go of them. */
  private readonly cutOff = new WeakSet<PresenceConnection>();
  private readonly ledger: SeatLedger;
  private readonly queues: SpaceQueues;
  /** The store when it is shared by several nodes: the hub then broadcasts what it tells, not its own work. */
  private readonly shared: SharedRosterStore | undefined;
  private readonly unwatch: (() => void) | undefined;
  private readonly feed: FeedHost;
  private readonly batch: BatchHost;
  private readonly writes: WriteHost;
  private readonly counters = newCounters();
  private readonly answers = { snapshot: 0, catchup: 0 };
  private readonly broadcasts = { batches: 0, messages: 0 };
  private readonly cuts = { flood: 0, slow: 0 };
  private readonly count = {
    refused: 0,
    unbound: 0,
    limited: 0,
    coalesced: 0,
    evicted: 0,
    displaced: 0,
    storeErrors: 0,
  };

  /** @throws see {@link resolveHubOptions}. */
  constructor(options: PresenceHubOptions = {}) {
    this.options = resolveHubOptions(options);
    this.clock = this.options.clock;
    this.ledger = new SeatLedger(this.options.maxSeats, this.options.maxSeatsPerIdentity);
    this.queues = new SpaceQueues(() => {
      this.count.storeErrors++;
    });
    const store = this.options.store;
    this.shared = isSharedRosterStore(store) ? store : undefined;
    this.feed = {
      spaces: this.spaces,
      binding: (connection, name) => this.conns.get(connection)?.bindings.get(name),
      schedule: (name) => this.schedule(name),
      checkOwner: (name, member) => this.queues.run(name, () => this.checkOwner(name, member)),
    };
    this.writes = {
      options: this.options,
      shared: this.shared,
      space: (name) => this.space(name),
      schedule: (name) => this.schedule(name),
      moved: (name, member) => this.moved(name, member),
    };
    this.batch = {
      options: this.options,
      spaces: this.spaces,
      shared: this.shared,
      feed: this.feed,
      answers: this.answers,
      broadcasts: this.broadcasts,
      count: this.count,
      binding: this.feed.binding,
      update: (name, member, patch) => mergedUpdate(this.writes, name, member, patch),
      markBehind: (name, space, connection, binding) => this.markBehind(name, space, connection, binding),
      cut: (connection, code, reason) => this.cut(connection, code, reason),
      schedule: (name) => this.schedule(name),
    };
    const nodeId = this.shared?.nodeId ?? "";
    this.unwatch = this.shared?.watch((event) => follow(this.feed, event, nodeId), {
      graceMs: this.options.graceMs,
    });
  }

  /**
   * Handles one message from `connection`. Returns false (and does nothing) for a message that is not
   * presence protocol text, so the app can handle its own messages on the same socket; true otherwise,
   * whether the message was accepted or counted and dropped. Never throws on input.
   */
  receive(connection: PresenceConnection, data: unknown): boolean {
    if (!isPresenceMessage(data)) return false;
    if (this.cutOff.has(connection)) return true;
    const conn = this.conn(connection);
    // The rate is checked before anything is parsed: a flood costs a prefix check per message.
    if (!takeToken(conn, this.clock.now(), this.options)) {
      this.count.limited++;
      if (++conn.excess >= this.options.cutAfterExcess) {
        this.cut(connection, PRESENCE_CLOSE.flood, "presence: message rate");
      }
      return true;
    }
    conn.excess = 0;
    const decoded = decodeUp(data, this.options.registry, this.options.limits);
    count(this.counters, decoded);
    if (!decoded.ok) return true;
    const message = decoded.message;
    const name = message.space;
    if (message.type === "sync") {
      if (!this.queues.run(name, () => this.sync(connection, conn, message), true)) {
        this.refuse(connection, name, "busy");
      }
      return true;
    }
    const binding = conn.bindings.get(name);
    if (binding === undefined) this.count.unbound++;
    else if (message.type === "update") this.update(message, binding.member);
    // Optional work: past the queue's bound (a store that hangs) a leave is dropped; the close still comes.
    else this.queues.run(name, () => this.remove(name, binding.member), true);
    return true;
  }

  /** The connection closed: each of its members gets its grace period before others see it leave. */
  disconnect(connection: PresenceConnection): void {
    const conn = this.conns.get(connection);
    this.conns.delete(connection);
    if (conn === undefined) return;
    for (const [name, { member }] of conn.bindings) {
      const space = this.spaces.get(name);
      space?.behind.delete(connection);
      space?.awaiting.delete(connection);
      const seat = space?.seats.get(member);
      if (seat === undefined || seat.connection !== connection) continue;
      seat.connection = undefined;
      this.ledger.leave(seatKey(name, member), { space: name, member, identity: seat.identity });
      // Only if still away when its turn comes: behind a slow shared store, a sync that brought the member
      // back here may have been queued before this leave and run first.
      const leave = () => this.queues.run(name, () => this.remove(name, member, seat));
      if (this.options.graceMs === 0) leave();
      else seat.grace = this.clock.setTimeout(leave, this.options.graceMs);
    }
  }

  /**
   * The roster of `space` (members and states, grace-period members included, updates of the current batch
   * applied), read-only.
   * @throws TypeError when the store reads asynchronously (a shared store): use {@link readRoster} then.
   */
  roster(space: string): ReadonlyMap<string, StateRecord> {
    const current = this.spaces.get(space);
    if (current === undefined) return new Map();
    const members = this.options.store.members(space);
    if (!(Symbol.iterator in members)) {
      throw new TypeError("PresenceHub.roster: the store reads asynchronously; use readRoster()");
    }
    return withMerged(members, current.merged);
  }

  /** The roster of `space` as {@link roster} gives it, for any store (a shared store: every node's members). */
  async readRoster(space: string): Promise<ReadonlyMap<string, StateRecord>> {
    const members = await this.options.store.members(space);
    return withMerged(members, this.spaces.get(space)?.merged ?? new Map());
  }

  /** Counters, for dashboards and tests. */
  stats(): PresenceHubStats {
    return {
      spaces: this.spaces.size,
      connections: this.conns.size,
      seats: this.ledger.seats,
      away: this.ledger.away,
      answers: { ...this.answers },
      broadcasts: { ...this.broadcasts },
      ...this.count,
      cut: { ...this.cuts },
      inbound: this.counters,
    };
  }

  /**
   * Stops every timer (grace periods, pending batches, which are not sent) and stops following a shared
   * store. The rosters stay in the store (a shared store's members of this node leave when its ownership
   * expires, unless the store is closed with a goodbye).
   */
  close(): void {
    this.unwatch?.();
    for (const space of this.spaces.values()) {
      if (space.flush !== undefined) this.clock.clearTimeout(space.flush);
      space.flush = undefined;
      for (const seat of space.seats.values()) this.clearGrace(seat);
    }
  }

  private conn(connection: PresenceConnection): Conn {
    let conn = this.conns.get(connection);
    if (conn === undefined) {
      const tokens = this.options.messageBurst;
      conn = { bindings: new Map(), key: `#${++connSeq}`, tokens, refilledAt: this.clock.now(), excess: 0 };
      this.conns.set(connection, conn);
    }
    return conn;
  }

  private *sync(connection: PresenceConnection, conn: Conn, message: SyncMessage): Step {
    const { space: name, member } = message;
    const already = conn.bindings.get(name);
    const decision = authorizeSync(this.options.authorize, connection, message, conn.key);
    if (typeof decision === "string") {
      this.refuse(connection, name, decision);
      return;
    }
    if (already === undefined && conn.bindings.size >= this.options.maxSpacesPerConnection) {
      this.refuse(connection, name, "too-many-spaces");
      return;
    }
    let space = this.spaces.get(name);
    // A repeated sync in the batch it was answered in: its state is taken, its answer waits for the flush
    // (a snapshot, shared): a sync flood costs one answer per batch, not one per sync.
    if (space !== undefined && already?.member === member && already.answered === space.batch) {
      space.merged.delete(member);
      this.markBehind(name, space, connection, already);
      yield* syncState(this.writes, name, member, message.state, false);
      return;
    }
    if (space === undefined && this.spaces.size >= this.options.maxSpaces && !this.freeAbandonedSpace()) {
      this.refuse(connection, name, "hub-full");
      return;
    }
    // The same connection as another member of this space (a changed member id): the old one leaves now.
    if (already !== undefined && already.member !== member) yield* this.remove(name, already.member);
    const identity = decision.identity;
    const key = seatKey(name, member);
    let seat = this.spaces.get(name)?.seats.get(member);
    if (seat === undefined || seat.identity !== identity) {
      const room = this.ledger.makeRoom(identity);
      if (typeof room === "string") {
        this.refuse(connection, name, room);
        return;
      }
      for (const away of room) {
        this.count.evicted++;
        if (away.space === name) yield* this.remove(away.space, away.member);
        else this.queues.run(away.space, () => this.remove(away.space, away.member));
      }
      seat = this.spaces.get(name)?.seats.get(member);
      if (seat !== undefined) this.ledger.release(seat.identity, key);
      this.ledger.add(identity);
      seat ??= { connection: undefined, grace: undefined, identity };
      seat.identity = identity;
      this.space(name).seats.set(member, seat);
    }
    space = this.space(name);
    if (seat.grace !== undefined || seat.connection === undefined) {
      this.clearGrace(seat);
      this.ledger.back(identity, key);
    }
    // Another connection claims the same member (a new tab, an impostor, a reconnect the server has not
    // noticed yet): the one displaced is told, so it does not sit on a frozen roster believing it is synced.
    const previous = seat.connection;
    if (previous !== undefined && previous !== connection) this.displace(name, space, previous);
    seat.connection = connection;
    // A repeated sync keeps its binding: a connection behind stays behind (its clock keeps running).
    const binding: Binding =
      already?.member === member ? already : { member, seen: 0, answered: 0, behindSince: undefined };
    binding.answered = space.batch;
    conn.bindings.set(name, binding);
    space.merged.delete(member);
    try {
      yield* syncState(this.writes, name, member, message.state, true);
    } catch (error) {
      this.count.storeErrors++;
      if (error instanceof RosterRefusal) {
        this.drop(name, member);
        this.refuse(connection, name, error.code);
        return;
      }
      // The store is unreachable: the seat is kept here and this connection answered when it is back.
      this.markBehind(name, space, connection, binding);
      return;
    }
    yield* answer(this.batch, space, connection, binding, message);
  }

  /**
   * At `maxSpaces`, a space whose every member is away (the trail of grace-period churn) makes room for a
   * new one, so churn cannot lock others out of new spaces. Looks at the 64 longest-away seats at most.
   */
  private freeAbandonedSpace(): boolean {
    const name = abandonedSpace(this.ledger, this.spaces);
    const space = name === undefined ? undefined : this.spaces.get(name);
    if (name === undefined || space === undefined) return false;
    for (const member of [...space.seats.keys()]) {
      this.count.evicted++;
      this.queues.run(name, () => this.remove(name, member));
    }
    return true;
  }

  private refuse(connection: PresenceConnection, space: string, reason: string): void {
    this.count.refused++;
    this.send(connection, { type: "refused", space, reason });
  }

  /** One member's updates within a batch merge into one change (the latest value of each slice wins). */
  private update(message: UpdateMessage, member: string): void {
    const space = this.spaces.get(message.space);
    if (space === undefined) return;
    let merged = space.merged.get(member);
    if (merged === undefined) {
      merged = {};
      space.merged.set(member, merged);
    }
    for (const [slice, value] of Object.entries(message.state)) merged[slice] = value;
    this.schedule(message.space);
  }

  /**
   * The member leaves the space now (grace period over, eviction, or an explicit `leave`). With `away` (a
   * grace period's end) only if that seat is still away.
   */
  private *remove(name: string, member: string, away?: Seat): Step {
    const space = this.spaces.get(name);
    const seat = space?.seats.get(member);
    if (space === undefined || seat === undefined) return;
    if (away !== undefined && (seat !== away || seat.connection !== undefined)) return;
    this.drop(name, member);
    try {
      yield* change(this.writes, name, { op: "leave", id: member });
    } catch {
      // The store is unreachable: a shared store makes its owned roster true again once it is back.
      this.count.storeErrors++;
    }
    if (space.seats.size > 0 || this.spaces.get(name) !== space) return;
    // Nobody left to tell: forget the space (a later sync starts a new epoch and gets a snapshot).
    if (space.flush !== undefined) this.clock.clearTimeout(space.flush);
    this.spaces.delete(name);
    try {
      yield* wait(this.options.store.drop(name));
    } catch {
      this.count.storeErrors++;
    }
  }

  /** Lets the member's seat go here without telling anyone (it left, or moved to another node). */
  private drop(name: string, member: string): void {
    const space = this.spaces.get(name);
    const seat = space?.seats.get(member);
    if (space === undefined || seat === undefined) return;
    this.clearGrace(seat);
    this.ledger.release(seat.identity, seatKey(name, member));
    if (seat.connection !== undefined) {
      this.conns.get(seat.connection)?.bindings.delete(name);
      space.behind.delete(seat.connection);
      space.awaiting.delete(seat.connection);
    }
    space.seats.delete(member);
    space.merged.delete(member);
  }

  /** Tells `connection` another connection took its member's seat here, and stops serving it there. */
  private displace(name: string, space: Space, connection: PresenceConnection): void {
    this.conns.get(connection)?.bindings.delete(name);
    space.behind.delete(connection);
    space.awaiting.delete(connection);
    this.count.displaced++;
    this.send(connection, { type: "displaced", space: name });
  }

  /** A shared store said another node took `member`: if it still owns it, this node lets it go quietly. */
  private *checkOwner(name: string, member: string): Step {
    const shared = this.shared;
    if (shared === undefined || this.spaces.get(name)?.seats.get(member) === undefined) return;
    const owner = yield* wait(shared.owner(name, member));
    if (owner !== shared.nodeId) this.moved(name, member);
  }

  /** The member is another node's now: its connection here (if any) is displaced, and nobody sees a leave. */
  private moved(name: string, member: string): void {
    const space = this.spaces.get(name);
    const seat = space?.seats.get(member);
    if (space === undefined || seat === undefined) return;
    if (seat.connection !== undefined) this.displace(name, space, seat.connection);
    seat.connection = undefined;
    this.drop(name, member);
    if (space.seats.size > 0) return;
    if (space.flush !== undefined) this.clock.clearTimeout(space.flush);
    this.spaces.delete(name);
  }

  private schedule(name: string): void {
    const space = this.spaces.get(name);
    if (space === undefined) return;
    // The handle stays set until the flush has taken the batch's changes: none of them starts another timer.
    space.flush ??= this.clock.setTimeout(
      () => this.queues.run(name, () => flush(this.batch, name)),
      this.options.batchMs,
    );
  }

  /** Nothing more goes to this connection here until it drains; then one snapshot replaces what it missed. */
  private markBehind(name: string, space: Space, connection: PresenceConnection, binding: Binding): void {
    this.count.coalesced++;
    binding.behindSince ??= this.clock.now();
    space.behind.set(connection, binding);
    this.schedule(name);
  }

  /** Ends a connection the hub will not serve any more; its members get their grace period. */
  private cut(connection: PresenceConnection, code: number, reason: string): void {
    if (this.cutOff.has(connection)) return;
    this.cutOff.add(connection);
    if (code === PRESENCE_CLOSE.flood) this.cuts.flood++;
    else this.cuts.slow++;
    this.disconnect(connection);
    try {
      connection.close?.(code, reason);
    } catch {
      // Already closing: the disconnect above is all the hub needed.
    }
  }

  private space(name: string): Space {
    let space = this.spaces.get(name);
    if (space === undefined) {
      space = newSpace();
      this.spaces.set(name, space);
    }
    return space;
  }

  private clearGrace(seat: Seat): void {
    if (seat.grace !== undefined) this.clock.clearTimeout(seat.grace);
    seat.grace = undefined;
  }

  private send(connection: PresenceConnection, message: DownMessage): void {
    deliver(connection, encodePresence(message));
  }
}
