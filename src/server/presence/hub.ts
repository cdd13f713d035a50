/**
 * The presence hub: holds a roster per space, answers each client's one `sync` with one message (a catch-up
 * diff since the revision it had, or a snapshot), and broadcasts changes to each space's members in
 * batches. Transport-agnostic: it sees {@link PresenceConnection}s; the adapters feed it from `ws` or
 * Socket.IO.
 *
 * A member whose connection drops stays in the roster for `graceMs`; back within it, nobody sees anything
 * (a reconnect storm must not become a presence storm).
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
} from "../../presence/protocol.js";
import { count, decodeUp, newCounters } from "../../presence/validate.js";
import {
  type PresenceConnection,
  type PresenceHubOptions,
  type ResolvedHubOptions,
  resolveHubOptions,
} from "./hub-options.js";
import type { Binding, PresenceHubStats, Seat, Space } from "./hub-state.js";

export type { PresenceHubStats } from "./hub-state.js";

const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

export class PresenceHub {
  private readonly options: ResolvedHubOptions;
  private readonly clock: Clock;
  private readonly spaces = new Map<string, Space>();
  private readonly bindings = new Map<PresenceConnection, Map<string, Binding>>();
  private readonly counters = newCounters();
  private readonly answers = { snapshot: 0, catchup: 0 };
  private readonly broadcasts = { batches: 0, messages: 0 };
  private refused = 0;
  private unbound = 0;
  private away = 0;

  /** @throws see {@link resolveHubOptions}. */
  constructor(options: PresenceHubOptions = {}) {
    this.options = resolveHubOptions(options);
    this.clock = this.options.clock;
  }

  /**
   * Handles one message from `connection`. Returns false (and does nothing) for a message that is not
   * presence protocol text, so the app can handle its own messages on the same socket; true otherwise,
   * whether the message was accepted or counted and dropped. Never throws on input.
   */
  receive(connection: PresenceConnection, data: unknown): boolean {
    if (!isPresenceMessage(data)) return false;
    const decoded = decodeUp(data, this.options.registry, this.options.limits);
    count(this.counters, decoded);
    if (!decoded.ok) return true;
    const message = decoded.message;
    if (message.type === "sync") this.sync(connection, message);
    else {
      const binding = this.bindings.get(connection)?.get(message.space);
      if (binding === undefined) this.unbound++;
      else if (message.type === "update") this.update(message, binding.member);
      else this.remove(message.space, binding.member);
    }
    return true;
  }

  /** The connection closed: each of its members gets its grace period before others see it leave. */
  disconnect(connection: PresenceConnection): void {
    const bound = this.bindings.get(connection);
    this.bindings.delete(connection);
    if (bound === undefined) return;
    for (const [name, { member }] of bound) {
      const seat = this.spaces.get(name)?.seats.get(member);
      if (seat === undefined || seat.connection !== connection) continue;
      seat.connection = undefined;
      this.away++;
      if (this.options.graceMs === 0) this.remove(name, member);
      else seat.grace = this.clock.setTimeout(() => this.remove(name, member), this.options.graceMs);
    }
  }

  /** The roster of `space` (members and states, grace-period members included), read-only. */
  roster(space: string): ReadonlyMap<string, StateRecord> {
    if (!this.spaces.has(space)) return new Map();
    return new Map(this.options.store.members(space));
  }

  /** Counters, for dashboards and tests. */
  stats(): PresenceHubStats {
    return {
      spaces: this.spaces.size,
      connections: this.bindings.size,
      away: this.away,
      answers: { ...this.answers },
      broadcasts: { ...this.broadcasts },
      refused: this.refused,
      unbound: this.unbound,
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

  private sync(connection: PresenceConnection, message: SyncMessage): void {
    const { space: name, member } = message;
    let bound = this.bindings.get(connection);
    const already = bound?.get(name);
    const full =
      bound !== undefined && already === undefined && bound.size >= this.options.maxSpacesPerConnection;
    if (full || this.options.authorize?.(connection, { space: name, member }) === false) {
      this.refused++;
      const reason = full ? "too-many-spaces" : "unauthorized";
      this.send(connection, { type: "refused", space: name, reason });
      return;
    }
    // The same connection as another member of this space (a changed member id): the old one leaves now.
    if (already !== undefined && already.member !== member) this.remove(name, already.member);
    const space = this.space(name);
    const seat = space.seats.get(member) ?? { connection: undefined, grace: undefined };
    space.seats.set(member, seat);
    if (seat.grace !== undefined) {
      this.clearGrace(seat);
      this.away--;
    }
    // Another connection claims the same member (a new tab, a reconnect the server has not noticed yet).
    if (seat.connection !== undefined && seat.connection !== connection) {
      this.bindings.get(seat.connection)?.delete(name);
    }
    seat.connection = connection;
    if (bound === undefined) {
      bound = new Map();
      this.bindings.set(connection, bound);
    }
    const binding: Binding = { member, seen: 0 };
    bound.set(name, binding);
    const before = this.options.store.member(name, member);
    if (before === undefined) this.change(name, { op: "join", id: member, state: message.state });
    else this.patch(name, member, before, message.state, true);
    this.answer(connection, binding, message);
  }

  private answer(connection: PresenceConnection, binding: Binding, message: SyncMessage): void {
    const { store } = this.options;
    const name = message.space;
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
    const space = this.space(name);
    space.flush ??= this.clock.setTimeout(() => this.flush(name), this.options.batchMs);
    if (space.snapshotInBatch) {
      space.awaiting.set(connection, binding);
      return;
    }
    space.snapshotInBatch = true;
    this.answers.snapshot++;
    this.deliver(connection, this.snapshot(name));
  }

  private snapshot(name: string): string {
    const { store } = this.options;
    const { epoch, rev } = store.head(name);
    const members = [...store.members(name)].map(([id, state]) => ({ id, state }));
    return encodePresence({ type: "snapshot", space: name, epoch, rev, members });
  }

  private update(message: UpdateMessage, member: string): void {
    const before = this.options.store.member(message.space, member);
    if (before !== undefined) this.patch(message.space, member, before, message.state, false);
  }

  /** Records the slices of `next` that differ from `before` (with `whole`, slices missing from it clear). */
  private patch(space: string, member: string, before: StateRecord, next: StateRecord, whole: boolean): void {
    const patch: Record<string, unknown> = {};
    let changed = false;
    for (const [slice, value] of Object.entries(next)) {
      if (value === null ? Object.hasOwn(before, slice) : !same(before[slice], value)) {
        patch[slice] = value;
        changed = true;
      }
    }
    if (whole) {
      for (const slice of Object.keys(before)) {
        if (Object.hasOwn(next, slice)) continue;
        patch[slice] = null;
        changed = true;
      }
    }
    if (changed) this.change(space, { op: "update", id: member, state: patch });
  }

  /** The member leaves the space now (grace period over, or an explicit `leave`). */
  private remove(name: string, member: string): void {
    const space = this.spaces.get(name);
    const seat = space?.seats.get(member);
    if (space === undefined || seat === undefined) return;
    if (seat.grace !== undefined || seat.connection === undefined) this.away--;
    this.clearGrace(seat);
    if (seat.connection !== undefined) this.bindings.get(seat.connection)?.delete(name);
    space.seats.delete(member);
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

  /** Sends a space's pending changes as one diff text to every connected member that lacks them. */
  private flush(name: string): void {
    const space = this.spaces.get(name);
    if (space === undefined) return;
    space.flush = undefined;
    space.snapshotInBatch = false;
    if (space.awaiting.size > 0) {
      const text = this.snapshot(name);
      const rev = this.options.store.head(name).rev;
      for (const [connection, binding] of space.awaiting) {
        // Only if the connection is still that member here (not gone, not re-synced elsewhere).
        if (this.bindings.get(connection)?.get(name) !== binding) continue;
        binding.seen = rev;
        this.answers.snapshot++;
        this.deliver(connection, text);
      }
      space.awaiting.clear();
    }
    const changes = space.pending;
    space.pending = [];
    if (changes.length === 0) return;
    const from = space.pendingFrom;
    const rev = from + changes.length;
    const text = encodePresence({ type: "diff", space: name, epoch: space.pendingEpoch, from, rev, changes });
    this.broadcasts.batches++;
    for (const seat of space.seats.values()) {
      const connection = seat.connection;
      const binding = connection === undefined ? undefined : this.bindings.get(connection)?.get(name);
      // A member whose sync answer already covered this batch is not sent it again.
      if (connection === undefined || binding === undefined || binding.seen >= rev) continue;
      binding.seen = rev;
      this.broadcasts.messages++;
      this.deliver(connection, text);
    }
  }

  private space(name: string): Space {
    let space = this.spaces.get(name);
    if (space === undefined) {
      space = {
        seats: new Map(),
        pending: [],
        pendingFrom: 0,
        pendingEpoch: "",
        flush: undefined,
        snapshotInBatch: false,
        awaiting: new Map(),
      };
      this.spaces.set(name, space);
    }
    return space;
  }

  private clearGrace(seat: Seat): void {
    if (seat.grace !== undefined) this.clock.clearTimeout(seat.grace);
    seat.grace = undefined;
  }

  private send(connection: PresenceConnection, message: DownMessage): void {
    this.deliver(connection, encodePresence(message));
  }

  private deliver(connection: PresenceConnection, text: string): void {
    try {
      connection.send(text);
    } catch {
      // A socket closing under us: its disconnect starts the grace period; nothing to do here.
    }
  }
}
