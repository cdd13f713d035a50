/**
 * One connection per browser: every tab of an app creates a `SharedSocket` with the same `name`; the tab
 * holding the Web Lock of that name (the leader) owns the one real `ResilientSocket`, the others talk
 * through it over a `BroadcastChannel`. When the leader tab closes — or crashes: the browser releases its
 * lock — the next tab in the lock's queue takes over: it connects no sooner than the old leader's socket
 * would have (a server hint is obeyed across the handover) and after a random share of `takeoverJitterMs`.
 * Five tabs cost the server one connection, not five.
 *
 * Every leader term has an `epoch`; followers tag their sends with it and, when a new one appears, re-send
 * everything not yet acknowledged, in order. The leader ignores other terms' sends and takes each (tab, id)
 * once, so a takeover neither loses, duplicates nor reorders a tab's messages. The protocol is in
 * `shared-wire.ts`, the leader's bookkeeping in `shared-relay.ts`.
 *
 * @see https://developer.mozilla.org/docs/Web/API/Web_Locks_API
 * @see https://developer.mozilla.org/docs/Web/API/BroadcastChannel
 * @see https://web.dev/articles/bfcache (a page holding a Web Lock is not put in the back/forward cache)
 */
import { type Clock, newId, type Random, systemClock, systemRandom, type TimerHandle } from "../env.js";
import { SocketCreateError } from "../errors.js";
import { DEFAULT_MAX_HINT_MS } from "../policy/hints.js";
import { Emitter } from "./emitter.js";
import type { SendResult, SocketState } from "./events.js";
import type { SignalTarget } from "./page-signals.js";
import type { ResilientSocket } from "./resilient-socket.js";
import {
  type BroadcastChannelLike,
  type LockManagerLike,
  resolveSharedOptions,
  type SharedRole,
  type SharedSocketEvents,
  type SharedSocketOptions,
} from "./shared-options.js";
import { Relay } from "./shared-relay.js";
import { parseWire, type StateWire, type Wire } from "./shared-wire.js";

/** The longest a successor waits for its predecessor's next attempt (a hostile tab must not park it). */
const MAX_INHERITED_WAIT_MS = DEFAULT_MAX_HINT_MS;
/** The least a tab waits before asking to lead again after its socket failed it (create threw, closed). */
const MIN_REJOIN_MS = 1_000;

export class SharedSocket extends Emitter<SharedSocketEvents> {
  /** Tells this tab's messages from the others' (never from `random`: a repeating source must not merge tabs). */
  private readonly id = newId();
  private currentRole: SharedRole = "follower";
  private currentState: SocketState = "idle";
  /** The leader's socket and its bookkeeping; only while leading with a socket. */
  private relay: Relay | undefined;
  private readonly channel: BroadcastChannelLike;
  private readonly locks: LockManagerLike;
  private readonly lockName: string;
  /** The lock request in the queue or granted; aborting it leaves the queue. */
  private lockRequest: AbortController | undefined;
  private releaseLock: (() => void) | undefined;
  private takeoverTimer: TimerHandle | undefined;
  private rejoinTimer: TimerHandle | undefined;
  private nextId = 1;
  /** This tab's messages no leader's socket has sent yet, in order. */
  private readonly pending = new Map<number, unknown>();
  /** The leader term this tab follows (its sends are tagged with it); none between leaders. */
  private epoch: string | undefined;
  private sawLeader = false;
  private leaderNextAttemptAt: number | undefined;
  private hidden = false;
  private readonly page: SignalTarget | undefined;
  private readonly onPage = (event: Event) => this.pageEvent(event.type);
  private readonly create: () => ResilientSocket;
  private readonly takeoverJitterMs: number;
  private readonly maxPending: number;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(options: SharedSocketOptions) {
    super();
    const resolved = resolveSharedOptions(options);
    this.create = resolved.create;
    this.takeoverJitterMs = resolved.takeoverJitterMs;
    this.maxPending = resolved.maxPending;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.page = resolved.page;
    this.locks = resolved.locks;
    this.lockName = `resilient-reconnect:${resolved.name}`;
    this.channel = resolved.channel(this.lockName);
    this.channel.onmessage = (event) => this.receive(event.data);
    this.page?.addEventListener("pagehide", this.onPage);
    this.page?.addEventListener("pageshow", this.onPage);
    this.post({ t: "hello" });
    this.requestLock();
  }

  get role(): SharedRole {
    return this.currentRole;
  }

  /** The shared connection's state as last reported by the leader (`closed` once this tab closed). */
  get state(): SocketState {
    return this.currentState;
  }

  /**
   * Leader: the real socket's `send`. Otherwise the message is kept until a leader's socket sent it
   * (`"forwarded"`), so a leader change loses nothing; past `maxPending` it is refused (`"dropped"`).
   */
  send(data: unknown): SendResult | "forwarded" {
    if (this.currentRole === "closed") return this.refuse(data, "closed");
    if (this.relay !== undefined) return this.relay.deliver(data);
    if (this.pending.size >= this.maxPending) return this.refuse(data, "overflow");
    const id = this.nextId++;
    this.pending.set(id, data);
    return this.forward(id, data) ? "forwarded" : "dropped";
  }

  /**
   * Leader: the real socket's `sendNow` (sent at once, or not at all). Otherwise `false`: never forwarded, never
   * kept — for state the next connection re-sends whole anyway (a presence sync), which must not arrive late.
   */
  sendNow(data: unknown): boolean {
    return this.relay?.socket.sendNow(data) ?? false;
  }

  /**
   * Posts `data` to this app's other tabs, not to the server: each of their `SharedSocket`s emits `broadcast`.
   * A tab's broadcasts reach each other tab in the order it posted them, among its other channel messages —
   * for a leader, among the server's messages it relays. `false` when `data` cannot be cloned or this tab is
   * closed. Any same-origin script can post on the channel: validate what arrives.
   */
  broadcast(data: unknown): boolean {
    return this.currentRole !== "closed" && this.post({ t: "broadcast", data });
  }

  /** Starts the shared connection again when the leader's socket is `stopped` (or `idle`); see `ResilientSocket.connect`. */
  connect(): void {
    if (this.relay !== undefined) this.relay.socket.connect();
    else if (this.currentRole === "follower") this.post({ t: "connect" });
  }

  /** Leaves for good: a leader closes its socket and releases the lock (the next tab takes over). Idempotent. */
  close(): Promise<void> {
    if (this.currentRole === "closed") return Promise.resolve();
    this.setRole("closed");
    this.page?.removeEventListener("pagehide", this.onPage);
    this.page?.removeEventListener("pageshow", this.onPage);
    this.clearTimer("rejoinTimer");
    const own = this.letGo();
    this.channel.onmessage = null;
    try {
      this.channel.close();
    } catch {
      // Nothing is left to release.
    }
    const unsent = [...this.pending.values(), ...own];
    this.pending.clear();
    for (const data of unsent) this.emit("drop", { data, reason: "closed" });
    this.setState("closed");
    this.removeAllListeners();
    return Promise.resolve();
  }

  private requestLock(): void {
    if (this.lockRequest !== undefined || this.hidden || this.currentRole === "closed") return;
    const request = new AbortController();
    this.lockRequest = request;
    const done = () => {
      if (this.lockRequest === request) this.lockRequest = undefined;
    };
    try {
      this.locks
        .request(this.lockName, { signal: request.signal }, () => this.lead(request))
        .then(done, done);
    } catch {
      done();
    }
  }

  private lead(request: AbortController): Promise<void> {
    return new Promise<void>((release) => {
      // Granted after this tab left the queue (closed, hidden): hand it straight on.
      if (request !== this.lockRequest || this.currentRole !== "follower") return release();
      this.releaseLock = release;
      this.epoch = undefined;
      this.setRole("leader");
      // A role listener may have closed this tab (which released the lock) or hidden it.
      if (!this.leading()) return;
      if (!this.sawLeader) return this.start();
      this.setState("waiting");
      if (!this.leading()) return;
      this.takeoverTimer = this.clock.setTimeout(() => {
        this.takeoverTimer = undefined;
        this.start();
      }, this.takeoverDelay());
    });
  }

  /**
   * A successor waits a random share of `takeoverJitterMs`, so that browsers whose leader tabs went away
   * together do not reconnect together — and never less than the old leader's socket was still to wait, so
   * a server's hint survives the handover.
   */
  private takeoverDelay(): number {
    const jitter = this.random() * this.takeoverJitterMs;
    const inherited = (this.leaderNextAttemptAt ?? 0) - this.clock.now();
    return Math.max(jitter, Math.min(inherited, MAX_INHERITED_WAIT_MS));
  }

  private start(): void {
    if (!this.leading() || this.relay !== undefined) return;
    let relay: Relay;
    try {
      relay = new Relay(this.create(), {
        post: (message) => this.post(message),
        dropped: (event) => this.emit("drop", event),
        state: (state) => this.leaderState(state),
        message: (data) => this.emit("message", data),
      });
    } catch (cause) {
      this.emit("error", new SocketCreateError({ cause }));
      if (this.currentRole === "leader") this.stepDown(true);
      return;
    }
    this.relay = relay;
    this.epoch = relay.epoch;
    this.leaderNextAttemptAt = undefined;
    relay.announce();
    // What this tab sent as a follower goes first, in order.
    const own = [...this.pending.values()];
    this.pending.clear();
    for (const data of own) relay.deliver(data);
    if (this.relay === relay) this.leaderState(relay.socket.state);
  }

  private leaderState(state: SocketState): void {
    // This SharedSocket detaches before it closes the socket: `closed` here means someone else closed it.
    if (state === "closed") this.stepDown(true);
    else this.setState(state);
  }

  /** Hands the leadership on: the socket went, `create` threw, or the page is hidden. */
  private stepDown(rejoin: boolean): void {
    // Own messages the socket still held go to the next leader, like any follower's.
    for (const data of this.letGo()) this.pending.set(this.nextId++, data);
    this.sawLeader = true;
    this.setRole("follower");
    this.setState("waiting");
    if (!rejoin || this.currentRole !== "follower") return;
    const delayMs = Math.max(this.takeoverJitterMs, MIN_REJOIN_MS) * (1 + this.random());
    this.rejoinTimer = this.clock.setTimeout(() => {
      this.rejoinTimer = undefined;
      this.requestLock();
    }, delayMs);
  }

  /** Stops leading or waiting to lead. Returns this tab's own messages the socket still held. */
  private letGo(): unknown[] {
    this.clearTimer("takeoverTimer");
    const relay = this.relay;
    this.relay = undefined;
    let own: unknown[] = [];
    if (relay !== undefined) {
      own = relay.detach();
      this.post({ t: "leaving", epoch: relay.epoch });
      try {
        void relay.socket.close();
      } catch {
        // Not our socket's bug to report: nothing of it is held any more.
      }
    }
    this.epoch = undefined;
    this.lockRequest?.abort();
    this.lockRequest = undefined;
    const release = this.releaseLock;
    this.releaseLock = undefined;
    release?.();
    return own;
  }

  private receive(raw: unknown): void {
    if (this.currentRole === "closed") return;
    const message = parseWire(raw);
    if (message === undefined) return;
    const relay = this.relay;
    switch (message.t) {
      case "send":
        relay?.take(message);
        return;
      case "connect":
        relay?.socket.connect();
        return;
      case "hello":
        relay?.announce();
        return;
      case "ack":
        if (message.to === this.id) this.pending.delete(message.id);
        return;
      case "drop": {
        const data = this.pending.get(message.id);
        if (message.to !== this.id || !this.pending.delete(message.id)) return;
        this.emit("drop", { data, reason: message.reason });
        return;
      }
      case "message":
        if (this.currentRole === "follower") this.emit("message", message.data);
        return;
      case "broadcast":
        this.emit("broadcast", message.data);
        return;
      case "state":
        if (this.currentRole === "follower") this.follow(message);
        return;
      case "leaving":
        if (this.currentRole !== "follower" || message.epoch !== this.epoch) return;
        this.epoch = undefined;
        this.setState("waiting");
        return;
    }
  }

  private follow({ epoch, state, nextAttemptAt }: StateWire): void {
    this.sawLeader = true;
    this.leaderNextAttemptAt = nextAttemptAt;
    if (epoch !== this.epoch) {
      // A new leader: everything it has not acknowledged goes again, in order, tagged with its term.
      this.epoch = epoch;
      for (const [id, data] of [...this.pending]) if (this.currentRole === "follower") this.forward(id, data);
    }
    this.setState(state);
  }

  /** Posts a pending message to the leader of this tab's term, if there is one; false if it cannot be cloned. */
  private forward(id: number, data: unknown): boolean {
    if (this.epoch === undefined || this.currentRole !== "follower") return true;
    if (this.post({ t: "send", from: this.id, id, epoch: this.epoch, data })) return true;
    this.pending.delete(id);
    this.emit("drop", { data, reason: "unsendable" });
    return false;
  }

  private pageEvent(type: string): void {
    if (this.currentRole === "closed") return;
    if (type === "pageshow") {
      this.hidden = false;
      this.post({ t: "hello" });
      this.requestLock();
      return;
    }
    if (type !== "pagehide") return;
    // A page holding (or queued for) a Web Lock is kept out of the back/forward cache, and a frozen leader
    // would leave every other tab without a connection: leave until the page is shown again.
    this.hidden = true;
    this.clearTimer("rejoinTimer");
    if (this.currentRole === "leader") this.stepDown(false);
    else this.letGo();
  }

  private refuse(data: unknown, reason: "closed" | "overflow"): "dropped" {
    this.emit("drop", { data, reason });
    return "dropped";
  }

  private post(message: Wire): boolean {
    try {
      this.channel.postMessage(message);
      return true;
    } catch {
      // A message that cannot be cloned (a function, say), or a channel already closed.
      return false;
    }
  }

  /** A method, not a field read: listeners run in between, and the compiler must not narrow it away. */
  private leading(): boolean {
    return this.currentRole === "leader";
  }

  private clearTimer(name: "takeoverTimer" | "rejoinTimer"): void {
    const handle = this[name];
    if (handle !== undefined) this.clock.clearTimeout(handle);
    this[name] = undefined;
  }

  private setRole(role: SharedRole): void {
    if (role === this.currentRole) return;
    this.currentRole = role;
    this.emit("role", role);
  }

  private setState(state: SocketState): void {
    const previous = this.currentState;
    if (previous === state || previous === "closed") return;
    this.currentState = state;
    this.emit("state", state, previous);
  }
}
