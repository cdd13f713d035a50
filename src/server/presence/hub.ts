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
  type PresenceChange,
  type StateRecord,
  type SyncMessage,
  type UpdateMessage,
} from "../../protocol/presence/messages.js";
import { count, decodeUp, newCounters } from "../../protocol/presence/validate.js";
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
  statePatch,
  takeToken,
  withMerged,
} from "./hub-state.js";
import { authorizeSync } from "./identity.js";
import { deliver, isSlow } from "./outbox.js";
import { abandonedSpace, SeatLedger, seatKey } from "./seats.js";

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
  private readonly counters = newCounters();
  private readonly answers = { snapshot: 0, catchup: 0 };
  private readonly broadcasts = { batches: 0, messages: 0 };
  private readonly cuts = { flood: 0, slow: 0 };
  private readonly count = { refused: 0, unbound: 0, limited: 0, coalesced: 0, evicted: 0, displaced: 0 };

  /** @throws see {@link resolveHubOptions}. */
  constructor(options: PresenceHubOptions = {}) {
    this.options = resolveHubOptions(options);
    this.clock = this.options.clock;
    this.ledger = new SeatLedger(this.options.maxSeats, this.options.maxSeatsPerIdentity);
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
    if (message.type === "sync") this.sync(connection, conn, message);
    else {
      const binding = conn.bindings.get(message.space);
      if (binding === undefined) this.count.unbound++;
      else if (message.type === "update") this.update(message, binding.member);
      else this.remove(message.space, binding.member);
    }
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
      if (this.options.graceMs === 0) this.remove(name, member);
      else seat.grace = this.clock.setTimeout(() => this.remove(name, member), this.options.graceMs);
    }
  }

  /**
   * The roster of `space` (members and states, grace-period members included, updates of the current batch
   * applied), read-only.
   */
  roster(space: string): ReadonlyMap<string, StateRecord> {
    const current = this.spaces.get(space);
    if (current === undefined) return new Map();
    return withMerged(this.options.store.members(space), current.merged);
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

  /** Stops every timer (grace periods, pending batches, which are not sent). The rosters stay in the store. */
  close(): void {
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

  private sync(connection: PresenceConnection, conn: Conn, message: SyncMessage): void {
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
      const before = this.options.store.member(name, member);
      space.merged.delete(member);
      if (before !== undefined) this.patch(name, member, before, message.state, true);
      this.markBehind(name, space, connection, already);
      return;
    }
    if (space === undefined && this.spaces.size >= this.options.maxSpaces && !this.freeAbandonedSpace()) {
      this.refuse(connection, name, "hub-full");
      return;
    }
    // The same connection as another member of this space (a changed member id): the old one leaves now.
    if (already !== undefined && already.member !== member) this.remove(name, already.member);
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
        this.remove(away.space, away.member);
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
    if (previous !== undefined && previous !== connection) {
      this.conns.get(previous)?.bindings.delete(name);
      space.behind.delete(previous);
      space.awaiting.delete(previous);
      this.count.displaced++;
      this.send(previous, { type: "displaced", space: name });
    }
    seat.connection = connection;
    // A repeated sync keeps its binding: a connection behind stays behind (its clock keeps running).
    const binding: Binding =
      already?.member === member ? already : { member, seen: 0, answered: 0, behindSince: undefined };
    binding.answered = space.batch;
    conn.bindings.set(name, binding);
    space.merged.delete(member);
    const before = this.options.store.member(name, member);
    if (before === undefined) this.change(name, { op: "join", id: member, state: message.state });
    else this.patch(name, member, before, message.state, true);
    this.answer(connection, binding, message);
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
      this.remove(name, member);
    }
    return true;
  }

  private refuse(connection: PresenceConnection, space: string, reason: string): void {
    this.count.refused++;
    this.send(connection, { type: "refused", space, reason });
  }

  private answer(connection: PresenceConnection, binding: Binding, message: SyncMessage): void {
    const { store } = this.options;
    const name = message.space;
    const space = this.space(name);
    if (binding.behindSince !== undefined || this.slow(connection)) {
      this.markBehind(name, space, connection, binding);
      return;
    }
    const head = store.head(name);
    const changes =
      message.epoch === head.epoch && message.rev !== null
        ? store.changesSince(name, message.rev)
        : undefined;
    binding.seen = head.rev;
    if (changes !== undefined && message.rev !== null && changes.length <= store.size(name)) {
      this.answers.catchup++;
      const { epoch, rev } = head;
      this.send(connection, { type: "catchup", space: name, epoch, from: message.rev, rev, changes });
      return;
    }
    // A snapshot costs O(members) to encode; in a restart storm every sync needs one, which is O(N²) over
    // the storm. So at most one is encoded per space per batch: later syncs of the batch share the next.
    space.flush ??= this.clock.setTimeout(() => this.flush(name), this.options.batchMs);
    if (space.snapshotInBatch) {
      space.awaiting.set(connection, binding);
      return;
    }
    space.snapshotInBatch = true;
    this.answers.snapshot++;
    deliver(connection, this.snapshot(name));
  }

  private snapshot(name: string): string {
    const { store } = this.options;
    const { epoch, rev } = store.head(name);
    const members = [...store.members(name)].map(([id, state]) => ({ id, state }));
    return encodePresence({ type: "snapshot", space: name, epoch, rev, members });
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
    space.flush ??= this.clock.setTimeout(() => this.flush(message.space), this.options.batchMs);
  }

  /** Records the slices of `next` that differ from `before` (with `whole`, slices missing from it clear). */
  private patch(space: string, member: string, before: StateRecord, next: StateRecord, whole: boolean): void {
    const patch = statePatch(before, next, whole);
    if (patch !== undefined) this.change(space, { op: "update", id: member, state: patch });
  }

  /** The member leaves the space now (grace period over, eviction, or an explicit `leave`). */
  private remove(name: string, member: string): void {
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
    this.change(name, { op: "leave", id: member });
    if (space.seats.size > 0) return;
    // Nobody left to tell: forget the space (a later sync starts a new epoch and gets a snapshot).
    if (space.flush !== undefined) this.clock.clearTimeout(space.flush);
    this.spaces.delete(name);
    this.options.store.drop(name);
  }

  private change(name: string, change: PresenceChange): void {
    const space = this.space(name);
    const { store, batchMs } = this.options;
    if (space.pending.length === 0) {
      const head = store.head(name);
      space.pendingFrom = head.rev;
      space.pendingEpoch = head.epoch;
    }
    store.apply(name, change);
    space.pending.push(change);
    space.flush ??= this.clock.setTimeout(() => this.flush(name), batchMs);
  }

  /**
   * Ends a batch: merged updates become changes, waiting and behind connections that can take it get one
   * snapshot, and every other connected member that lacks them gets the batch's one diff text.
   */
  private flush(name: string): void {
    const space = this.spaces.get(name);
    if (space === undefined) return;
    for (const [member, state] of space.merged) {
      const before = this.options.store.member(name, member);
      if (before !== undefined) this.patch(name, member, before, state, false);
    }
    space.merged.clear();
    space.flush = undefined;
    space.snapshotInBatch = false;
    space.batch++;
    const rev = this.options.store.head(name).rev;
    let snapshot: string | undefined;
    const catchUp = (connection: PresenceConnection, binding: Binding) => {
      binding.seen = rev;
      binding.behindSince = undefined;
      this.answers.snapshot++;
      snapshot ??= this.snapshot(name);
      deliver(connection, snapshot);
    };
    for (const [connection, binding] of space.awaiting) {
      // Only if the connection is still that member here (not gone, not re-synced elsewhere).
      if (this.conns.get(connection)?.bindings.get(name) !== binding) continue;
      if (this.slow(connection)) this.markBehind(name, space, connection, binding);
      else catchUp(connection, binding);
    }
    space.awaiting.clear();
    const now = this.clock.now();
    for (const [connection, binding] of space.behind) {
      if (this.conns.get(connection)?.bindings.get(name) !== binding) space.behind.delete(connection);
      else if (!this.slow(connection)) {
        space.behind.delete(connection);
        catchUp(connection, binding);
      } else if (now - (binding.behindSince ?? now) >= this.options.maxBehindMs) {
        this.cut(connection, PRESENCE_CLOSE.slow, "presence: not reading");
      }
    }
    this.broadcast(name, space);
    // A connection still behind is looked at again next batch, changes or not.
    if (space.behind.size > 0) {
      space.flush ??= this.clock.setTimeout(() => this.flush(name), this.options.batchMs);
    }
  }

  private broadcast(name: string, space: Space): void {
    const changes = space.pending;
    space.pending = [];
    if (changes.length === 0) return;
    const from = space.pendingFrom;
    const rev = from + changes.length;
    const text = encodePresence({ type: "diff", space: name, epoch: space.pendingEpoch, from, rev, changes });
    this.broadcasts.batches++;
    for (const seat of space.seats.values()) {
      const connection = seat.connection;
      const binding = connection === undefined ? undefined : this.conns.get(connection)?.bindings.get(name);
      // A member whose sync answer already covered this batch is not sent it again.
      if (connection === undefined || binding === undefined || binding.seen >= rev) continue;
      if (binding.behindSince !== undefined) continue;
      if (this.slow(connection)) {
        this.markBehind(name, space, connection, binding);
        continue;
      }
      binding.seen = rev;
      this.broadcasts.messages++;
      deliver(connection, text);
    }
  }

  /** Nothing more goes to this connection here until it drains; then one snapshot replaces what it missed. */
  private markBehind(name: string, space: Space, connection: PresenceConnection, binding: Binding): void {
    this.count.coalesced++;
    binding.behindSince ??= this.clock.now();
    space.behind.set(connection, binding);
    space.flush ??= this.clock.setTimeout(() => this.flush(name), this.options.batchMs);
  }

  private slow(connection: PresenceConnection): boolean {
    return isSlow(connection, this.options.highWaterBytes);
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
