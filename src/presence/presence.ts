/**
 * Presence sync over a {@link MessageSocket} (a `ResilientSocket`): one `sync` up and one answer down per connection, however
 * many slices there are. Own state can be set at any time; while connected, changes go out as coalesced
 * updates; while disconnected they only change own state, which the next sync carries whole.
 *
 * Diffs that arrive between the sync and its answer are held and applied after it, in order, never to a
 * stale base.
 * @see https://github.com/phoenixframework/phoenix/issues/2255 (diffs applied before the snapshot)
 */

import { Emitter, type Listener, listen } from "../client/emitter.js";
import type { MessageSocket, MessageSocketEvents } from "../client/message-socket.js";
import type { Clock, TimerHandle } from "../env.js";
import { badOption } from "../options-check.js";
import { utf8Length } from "../protocol/json-guard.js";
import {
  type ChangesMessage,
  type DownMessage,
  encodePresence,
  isPresenceMessage,
  PROTOCOL_VERSION,
  type StatePatch,
  type UpMessage,
} from "../protocol/presence/messages.js";
import type { AnySlice, PresenceState } from "../protocol/presence/slices.js";
import { count, decodeDown, newCounters, type PresenceCounters } from "../protocol/presence/validate.js";
import type { MemberEvent, PresenceEvents, PresencePhase, PresenceStats } from "./events.js";
import { type PresenceOptions, type ResolvedPresenceOptions, resolvePresenceOptions } from "./options.js";
import { type Member, type MemberChange, RosterView } from "./roster.js";

/**
 * What {@link Presence} takes: a {@link MessageSocket} that is not shared by tabs and sends the protocol's
 * strings — a `ResilientSocket` over any transport.
 * @deprecated Use `MessageSocket<unknown, string>`; this alias goes in the next major version.
 */
export type PresenceSocket = MessageSocket<unknown, string>;

/**
 * What {@link Presence} and `SharedPresence` share: own state, the roster, the sync and its answer, coalesced
 * updates. A subclass binds it to a connection: it says how an up message goes out ({@link send}) and calls
 * {@link sync} and {@link offline} as the connection opens and closes, and {@link receive} for each message.
 */
export abstract class PresenceCore<
  D extends readonly AnySlice[] = readonly [],
  E extends PresenceEvents<PresenceState<D>> & { [K in keyof E]: Listener } = PresenceEvents<
    PresenceState<D>
  >,
> extends Emitter<E> {
  /** @internal */
  protected options: ResolvedPresenceOptions;
  /** @internal */
  protected readonly clock: Clock;
  /** @internal */
  protected view: RosterView<PresenceState<D>>;
  private readonly counters: PresenceCounters = newCounters();
  /** @internal */
  protected readonly own: Record<string, unknown> = {};
  private readonly dirty = new Set<string>();
  /** @internal */
  protected offs: Array<() => void> = [];
  /** @internal */
  protected currentPhase: PresencePhase = "offline";
  private held: ChangesMessage[] = [];
  private heldOverflow = false;
  private flushTimer: TimerHandle | undefined;
  private lastUpdateAt = Number.NEGATIVE_INFINITY;
  private syncs = 0;
  private updates = 0;
  private resyncs = 0;
  private heldTotal = 0;

  /** @throws see {@link resolvePresenceOptions}; TypeError when `initial` has an invalid slice. */
  constructor(options: PresenceOptions<D>) {
    super();
    this.options = resolvePresenceOptions(options);
    this.clock = this.options.clock;
    const { maxMembers, maxRosterBytes: maxBytes } = this.options;
    this.view = new RosterView(this.options.member, { maxMembers, maxBytes });
    for (const [name, value] of Object.entries(options.initial ?? {})) this.store(name, value, "initial");
  }

  /** Sends one up message now, or not at all (never queued); whether it went. @internal */
  protected abstract send(message: UpMessage): boolean;

  /** This member's id. */
  get member(): string {
    return this.options.member;
  }

  /** The space this Presence is in. */
  get space(): string {
    return this.options.space;
  }

  /** See {@link PresencePhase}. */
  get phase(): PresencePhase {
    return this.currentPhase;
  }

  /** Own state, read-only (change it with {@link set} and {@link clear}). */
  get state(): Readonly<PresenceState<D>> {
    return Object.freeze({ ...this.own }) as Readonly<PresenceState<D>>;
  }

  /** The other members of the space as last synced, read-only. */
  get roster(): ReadonlyMap<string, Member<PresenceState<D>>> {
    return this.view.members;
  }

  /** The roster revision last applied, with its epoch (both `undefined` before the first sync). */
  get revision(): {
    /** The roster's epoch (it changes when the server's roster starts over). */
    readonly epoch: string | undefined;
    /** The revision within that epoch. */
    readonly rev: number | undefined;
  } {
    return { epoch: this.view.epoch, rev: this.view.revision };
  }

  /**
   * Sets one slice of own state (merged with the current value by the slice's `merge`). Sent as a coalesced
   * update while connected; otherwise carried by the next sync.
   * @throws TypeError for an unknown slice or an invalid value; RangeError when the value or the whole state
   * is too large (`maxBytes` of the slice, option `maxStateBytes`).
   */
  set<K extends keyof PresenceState<D> & string>(name: K, value: NonNullable<PresenceState<D>[K]>): void {
    if (this.currentPhase === "detached") return;
    this.store(name, value, "set");
    this.changed(name);
  }

  /** Removes one slice of own state (others see it cleared). */
  clear(name: keyof PresenceState<D> & string): void {
    if (this.currentPhase === "detached" || !Object.hasOwn(this.own, name)) return;
    delete this.own[name];
    this.changed(name);
  }

  /** Counters, for dashboards and tests. */
  stats(): PresenceStats {
    const { syncs, updates, resyncs } = this;
    return {
      phase: this.currentPhase,
      syncs,
      updates,
      resyncs,
      held: this.heldTotal,
      overflow: this.view.overflow,
      inbound: this.counters,
    };
  }

  /**
   * Stops following the socket: sends `leave` when connected (option `leaveOnDetach`), clears every timer
   * and removes every listener. Final and idempotent; the socket itself stays as it is.
   */
  detach(): void {
    if (this.currentPhase === "detached") return;
    const connected = this.currentPhase !== "offline";
    this.offline();
    this.currentPhase = "detached";
    for (const off of this.offs) off();
    if (connected && this.options.leaveOnDetach) this.send({ type: "leave", space: this.options.space });
    this.removeAllListeners();
  }

  /** @internal */
  protected store(name: string, value: unknown, what: string): void {
    const slice = this.options.registry.get(name);
    if (slice === undefined)
      throw new TypeError(`Presence.${what}: unknown slice "${name}" (register it in slices)`);
    const merged: unknown = slice.merge(this.own[name], value);
    const problem = this.options.registry.check(name, merged);
    if (problem === "slice-too-large") {
      throw new RangeError(`Presence.${what}: "${name}" is larger than its maxBytes (${slice.maxBytes})`);
    }
    if (problem !== undefined)
      throw new TypeError(`Presence.${what}: invalid value for slice "${name}" (${problem})`);
    const size = utf8Length(JSON.stringify({ ...this.own, [name]: merged }));
    if (size > this.options.maxStateBytes) {
      throw new RangeError(
        `Presence.${what}: own state would be ${size} bytes, over maxStateBytes (${this.options.maxStateBytes})`,
      );
    }
    this.own[name] = merged;
  }

  /** @internal */
  protected changed(name: string): void {
    if (this.currentPhase === "offline" || this.currentPhase === "displaced") return;
    this.dirty.add(name);
    if (this.flushTimer !== undefined) return;
    // Never longer than one interval: a clock set back must not hold updates for as long as it went back.
    const { intervalMs } = this.options;
    const wait = Math.min(intervalMs, Math.max(0, this.lastUpdateAt + intervalMs - this.clock.now()));
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const phase = this.currentPhase;
    if (this.dirty.size === 0 || phase === "offline" || phase === "detached" || phase === "displaced") return;
    const patch: Record<string, unknown> = {};
    for (const name of this.dirty) patch[name] = Object.hasOwn(this.own, name) ? this.own[name] : null;
    this.dirty.clear();
    this.lastUpdateAt = this.clock.now();
    if (this.send({ type: "update", space: this.options.space, state: patch as StatePatch })) this.updates++;
  }

  /** @internal */
  protected sync(): void {
    if (this.currentPhase === "detached") return;
    this.expect();
    const { space, member } = this.options;
    const epoch = this.view.epoch ?? null;
    const rev = this.view.revision ?? null;
    const state = { ...this.own };
    if (this.send({ type: "sync", v: PROTOCOL_VERSION, space, member, epoch, rev, state })) this.syncs++;
  }

  /** Waits for a sync answer: changes to send are dropped (the answer's base carries them), diffs held. @internal */
  protected expect(): void {
    this.cancelFlush();
    this.dirty.clear();
    this.held = [];
    this.heldOverflow = false;
    this.currentPhase = "syncing";
  }

  private resync(): void {
    this.resyncs++;
    this.sync();
  }

  /** @internal */
  protected offline(): void {
    if (this.currentPhase === "detached") return;
    this.cancelFlush();
    this.dirty.clear();
    this.held = [];
    this.currentPhase = "offline";
  }

  /** @internal */
  protected receive(data: unknown): void {
    const phase = this.currentPhase;
    if (!isPresenceMessage(data) || phase === "offline" || phase === "detached" || phase === "displaced")
      return;
    const decoded = decodeDown(data, this.options.registry, this.options.limits);
    count(this.counters, decoded);
    if (!decoded.ok || decoded.message.space !== this.options.space) return;
    this.handle(decoded.message);
  }

  private handle(message: DownMessage): void {
    if (message.type === "refused") {
      this.fire("refused", { reason: message.reason });
      return;
    }
    if (message.type === "displaced") {
      // Not offline: the socket is open, but this roster gets nothing more; say so rather than look synced.
      this.cancelFlush();
      this.dirty.clear();
      this.held = [];
      this.currentPhase = "displaced";
      this.fire("displaced", { space: message.space });
      return;
    }
    if (message.type === "diff" && this.currentPhase === "syncing") {
      this.heldTotal++;
      if (this.held.length < this.options.maxHeldDiffs) this.held.push(message);
      else this.heldOverflow = true;
      return;
    }
    const out: MemberChange<PresenceState<D>>[] = [];
    let inStep = true;
    if (message.type === "snapshot") out.push(...this.view.applySnapshot(message));
    else inStep = this.apply(message, out);
    if (message.type === "diff") {
      this.emitChanges(out);
      if (!inStep) this.resync();
      return;
    }
    const held = this.held;
    this.held = [];
    if (this.heldOverflow) inStep = false;
    for (const diff of held) if (inStep) inStep = this.apply(diff, out);
    this.currentPhase = "synced";
    this.emitChanges(out);
    if (this.currentPhase !== "synced") return;
    // Not at a base this roster can build on (a catch-up from elsewhere, a gap among the held diffs): the
    // changes applied so far are real, but the rest must come from a fresh answer.
    if (!inStep) {
      this.resync();
      return;
    }
    const { epoch, revision } = this.view;
    if (epoch === undefined || revision === undefined) return;
    this.synced();
    this.fire("sync", {
      full: message.type === "snapshot",
      epoch,
      revision,
      members: this.view.members.size,
    });
  }

  /** The roster is current again (called before the `sync` event). @internal */
  protected synced(): void {}

  /** Applies a catch-up or diff; false when it does not follow on from this roster (a gap, another epoch). */
  private apply(message: ChangesMessage, out: MemberChange<PresenceState<D>>[]): boolean {
    const outcome = this.view.applyChanges(message.epoch, message.from, message.rev, message.changes, out);
    return outcome === "applied" || outcome === "stale";
  }

  private emitChanges(changes: readonly MemberChange<PresenceState<D>>[]): void {
    for (const { kind, member, slices } of changes) {
      const event: MemberEvent<PresenceState<D>> = { member, slices };
      this.fire(kind, event);
      if (this.currentPhase === "detached") return;
    }
  }

  private cancelFlush(): void {
    if (this.flushTimer !== undefined) this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** `emit` for the events every presence has (a subclass's event map may add its own). @internal */
  protected fire<K extends keyof PresenceEvents<PresenceState<D>>>(
    event: K,
    ...args: Parameters<PresenceEvents<PresenceState<D>>[K]>
  ): void {
    (this.emit as (event: K, ...args: Parameters<PresenceEvents<PresenceState<D>>[K]>) => void).call(
      this,
      event,
      ...args,
    );
  }
}

/**
 * One member's presence over one {@link MessageSocket} (a `ResilientSocket`; for a `SharedSocket`, use
 * `SharedPresence`): own state set with {@link Presence.set}, the other members of the space read from
 * {@link Presence.roster} and followed through `join`, `update`, `leave` and `sync` events.
 * @typeParam D - the custom slices (see `defineSlice`) beside the built-in `room`, `emoji` and `layout`.
 */
export class Presence<D extends readonly AnySlice[] = readonly []> extends PresenceCore<D> {
  private readonly socket: MessageSocket<unknown, string>;

  /**
   * Attaches to `socket` (already open or not) and starts following it.
   * @throws see {@link resolvePresenceOptions}; TypeError when `socket` is not a ResilientSocket (a
   * `SharedSocket` takes `SharedPresence`) or `initial` has an invalid slice.
   */
  constructor(socket: MessageSocket<unknown, string>, options: PresenceOptions<D>) {
    if (socket === null || typeof socket !== "object" || typeof socket.on !== "function")
      badOption("Presence", "socket", "a MessageSocket (a ResilientSocket, or a socket of your own)", socket);
    if (socket.shared)
      badOption("Presence", "socket", "an unshared socket (for a SharedSocket, use SharedPresence)", socket);
    super(options);
    this.socket = socket;
    this.offs = [
      listen<MessageSocketEvents, "state">(socket, "state", (state, previous) => {
        if (state === "open") this.sync();
        else if (previous === "open") this.offline();
      }),
      listen<MessageSocketEvents, "message">(socket, "message", (data) => this.receive(data)),
    ];
    if (socket.state === "open") this.sync();
  }

  /**
   * Syncs again after `displaced` (taking the seat back from the other connection); does nothing in any
   * other phase. A reconnect of the socket does the same by itself.
   */
  rejoin(): void {
    if (this.currentPhase === "displaced" && this.socket.state === "open") this.sync();
  }

  /**
   * Presence never waits in the socket's queue: a change that cannot go now is carried by the next sync, and
   * a queued message would reach the next connection ahead of (and older than) that sync.
   * @internal
   */
  protected send(message: UpMessage): boolean {
    return this.socket.sendNow(encodePresence(message));
  }
}
