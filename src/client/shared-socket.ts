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
 * once, so a takeover neither loses, duplicates nor reorders a tab's messages. A term is the lock holder's:
 * the leader holds a second lock named after it, and a follower adopts a new term only once
 * `navigator.locks.query()` shows both locks held by one context (`shared-term.ts`) — a script posting on the
 * channel cannot make tabs follow a leader that is not there. The protocol is in `shared-wire.ts`, the
 * leader's bookkeeping in `shared-relay.ts`, a follower's unsent messages in `shared-pending.ts`.
 *
 * @see https://developer.mozilla.org/docs/Web/API/Web_Locks_API
 * @see https://developer.mozilla.org/docs/Web/API/BroadcastChannel
 * @see https://web.dev/articles/bfcache (a page holding a Web Lock is not put in the back/forward cache)
 */
import { type Clock, newId, type Random, systemClock, systemRandom, type TimerHandle } from "../env.js";
import { SocketCreateError } from "../errors.js";
import { Emitter } from "./emitter.js";
import type { DropEvent, SendResult, SocketState } from "./events.js";
import type { SharedMessageSocket } from "./message-socket.js";
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
import { PendingSends } from "./shared-pending.js";
import { Relay } from "./shared-relay.js";
import { TermGate, termLockName } from "./shared-term.js";
import { parseWire, type StateWire, type Wire, waitsForTerm } from "./shared-wire.js";

/** The least a tab waits before asking to lead again after its socket failed it (create threw, closed). */
const MIN_REJOIN_MS = 1_000;

export class SharedSocket<In = unknown, Out = In>
  extends Emitter<SharedSocketEvents<In>>
  implements SharedMessageSocket<In, Out>
{
  /** Tells this tab's messages from the others' (never from `random`: a repeating source must not merge tabs). */
  private readonly id = newId();
  private currentRole: SharedRole = "follower";
  private currentState: SocketState = "idle";
  /** The leader's socket and its bookkeeping; only while leading with a socket. */
  private relay: Relay | undefined;
  private readonly channel: BroadcastChannelLike;
  private readonly locks: LockManagerLike;
  private readonly name: string;
  private readonly lockName: string;
  /** The lock request in the queue or granted; aborting it leaves the queue. */
  private lockRequest: AbortController | undefined;
  private releaseLock: (() => void) | undefined;
  /** While leading: this term's lock, requested or held (its name carries the term). */
  private term:
    | { readonly epoch: string; readonly request: AbortController; release?: () => void }
    | undefined;
  /** Holds the channel's messages while a new term is checked. */
  private readonly gate: TermGate<Wire>;
  private takeoverTimer: TimerHandle | undefined;
  private rejoinTimer: TimerHandle | undefined;
  private nextId = 1;
  /** This tab's messages no leader's socket has sent yet, in order. */
  private readonly pending: PendingSends;
  /** The leader term this tab follows (its sends are tagged with it); none between leaders. */
  private epoch: string | undefined;
  private sawLeader = false;
  private leaderNextAttemptAt: number | undefined;
  private hidden = false;
  private readonly page: SignalTarget | undefined;
  private readonly onPage = (event: Event) => this.pageEvent(event.type);
  private readonly create: () => ResilientSocket<In, Out>;
  private readonly takeoverJitterMs: number;
  private readonly maxPending: number;
  private readonly maxInheritedWaitMs: number;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(options: SharedSocketOptions<In, Out>) {
    super();
    const resolved = resolveSharedOptions(options);
    this.create = resolved.create;
    this.takeoverJitterMs = resolved.takeoverJitterMs;
    this.maxPending = resolved.maxPending;
    this.maxInheritedWaitMs = resolved.maxInheritedWaitMs;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.pending = new PendingSends(this.clock, resolved.ackTimeoutMs, (data) =>
      this.emit("drop", { data, reason: "expired" }),
    );
    this.page = resolved.page;
    this.locks = resolved.locks;
    this.name = resolved.name;
    this.lockName = `resilient-reconnect:${resolved.name}`;
    this.channel = resolved.channel(this.lockName);
    this.gate = new TermGate<Wire>(
      this.locks,
      this.lockName,
      this.name,
      (message) => this.receive(message),
      (message) => waitsForTerm(message, this.epoch),
    );
    this.channel.onmessage = (event) => {
      const message = parseWire(event.data);
      if (message !== undefined) this.gate.arrive(message);
    };
    this.page?.addEventListener("pagehide", this.onPage);
    this.page?.addEventListener("pageshow", this.onPage);
    this.post({ t: "hello" });
    this.requestLock();
  }

  /** This tab's part in the shared connection; see {@link SharedRole}. */
  get role(): SharedRole {
    return this.currentRole;
  }

  /** The shared connection's state as last reported by the leader (`closed` once this tab closed). */
  get state(): SocketState {
    return this.currentState;
  }

  /** Always `true`: one connection for every tab of the browser. */
  get shared(): true {
    return true;
  }

  /**
   * Leader: the real socket's `send`. Otherwise the message is kept until a leader's socket sent it
   * (`"forwarded"`), so a leader change loses nothing; past `maxPending` it is refused (`"dropped"`). A
   * forwarded message not acknowledged within `ackTimeoutMs` is given up: a `drop` event, reason `expired`.
   */
  send(data: Out): SendResult | "forwarded" {
    if (this.currentRole === "closed") return this.refuse(data, "closed");
    if (this.relay !== undefined) return this.relay.deliver(data);
    if (this.pending.size >= this.maxPending) return this.refuse(data, "overflow");
    const id = this.nextId++;
    this.pending.add(id, data);
    return this.forward(id) ? "forwarded" : "dropped";
  }

  /**
   * Leader: the real socket's `sendNow` (sent at once, or not at all). Otherwise `false`: never forwarded, never
   * kept — for state the next connection re-sends whole anyway (a presence sync), which must not arrive late.
   */
  sendNow(data: Out): boolean {
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
    this.gate.close();
    try {
      this.channel.close();
    } catch {
      // Nothing is left to release.
    }
    const unsent = [...this.pending.takeAll(), ...own];
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
    // The request settling while this tab still leads on it: the lock was taken from it (`steal: true`).
    const lost = () => {
      if (this.lockRequest === request && this.releaseLock !== undefined && this.leading())
        this.stepDown(true);
      done();
    };
    try {
      this.locks
        .request(this.lockName, { signal: request.signal }, () => this.lead(request))
        .then(lost, lost);
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
      if (this.leading()) this.holdTerm();
    });
  }

  /** Takes the lock that proves this tab's term; the term begins (and is announced) only once it is held. */
  private holdTerm(): void {
    const term: NonNullable<SharedSocket["term"]> = { epoch: newId(), request: new AbortController() };
    this.term = term;
    const ours = () => this.term === term && this.leading();
    const begin = () =>
      new Promise<void>((release) => {
        if (!ours()) return release();
        term.release = release;
        this.termHeld();
      });
    // Denied or taken away while leading: followers cannot prove this term, so another tab had better lead.
    const lost = () => {
      if (ours()) this.stepDown(true);
    };
    try {
      this.locks
        .request(termLockName(term.epoch, this.name), { signal: term.request.signal }, begin)
        .then(lost, lost);
    } catch {
      lost();
    }
  }

  private termHeld(): void {
    if (!this.sawLeader) {
      this.start();
      return;
    }
    this.setState("waiting");
    if (!this.leading()) return;
    this.takeoverTimer = this.clock.setTimeout(() => {
      this.takeoverTimer = undefined;
      this.start();
    }, this.takeoverDelay());
  }

  /**
   * A successor waits a random share of `takeoverJitterMs`, so that browsers whose leader tabs went away
   * together do not reconnect together — and never less than the old leader's socket was still to wait, so
   * a server's hint survives the handover.
   */
  private takeoverDelay(): number {
    const jitter = this.random() * this.takeoverJitterMs;
    const inherited = (this.leaderNextAttemptAt ?? 0) - this.clock.now();
    return Math.max(jitter, Math.min(inherited, this.maxInheritedWaitMs));
  }

  private start(): void {
    const epoch = this.term?.epoch;
    if (!this.leading() || this.relay !== undefined || epoch === undefined) return;
    let relay: Relay;
    try {
      const host = {
        post: (message: Wire) => this.post(message),
        dropped: (event: DropEvent) => this.emit("drop", event),
        state: (state: SocketState) => this.leaderState(state),
        message: (data: unknown) => this.emit("message", data as In),
      };
      relay = new Relay(this.create(), host, epoch);
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
    for (const data of this.pending.takeAll()) relay.deliver(data);
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
    for (const data of this.letGo()) this.pending.add(this.nextId++, data);
    this.sawLeader = true;
    this.setRole("follower");
    this.setState("waiting");
    if (!rejoin || this.currentRole !== "follower") return;
    const delayMs = Math.max(this.takeoverJitterMs, MIN_REJOIN_MS) * (1 + this.random());
    // One may be set already (pageshow asked for the lock before it fired): only the last one is cleared later.
    this.clearTimer("rejoinTimer");
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
    // The term's lock goes first: no moment shows this term held without the app's lock.
    const term = this.term;
    this.term = undefined;
    term?.request.abort();
    term?.release?.();
    this.lockRequest?.abort();
    this.lockRequest = undefined;
    const release = this.releaseLock;
    this.releaseLock = undefined;
    release?.();
    return own;
  }

  private receive(message: Wire): void {
    if (this.currentRole === "closed") return;
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
        if (message.to === this.id) this.pending.settle(message.id, message.epoch);
        return;
      case "drop": {
        const settled = message.to === this.id ? this.pending.settle(message.id, message.epoch) : undefined;
        if (settled !== undefined) this.emit("drop", { data: settled.data, reason: message.reason });
        return;
      }
      case "message":
        if (this.currentRole === "follower" && message.epoch === this.epoch)
          this.emit("message", message.data as In);
        return;
      case "broadcast":
        this.emit("broadcast", message.data);
        return;
      case "state":
        if (this.currentRole !== "follower") return;
        if (message.epoch === this.epoch) this.follow(message);
        else this.check(message);
        return;
      case "leaving":
        if (this.currentRole === "follower" && message.epoch === this.epoch) this.leaving(message.epoch);
        return;
    }
  }

  /**
   * Anyone can post a `leaving`: the term ends for this tab only once the lock manager no longer shows it held,
   * so a script cannot make followers drop the live leader's messages. A real one may still show held (the
   * leader's release races its message): the next leader's state ends it then.
   */
  private leaving(epoch: string): void {
    this.gate.check(epoch, (term) => {
      if (term === epoch || this.currentRole !== "follower" || this.epoch !== epoch) return;
      this.epoch = undefined;
      this.setState("waiting");
      this.post({ t: "hello" });
    });
  }

  /** A term this tab does not follow: adopted only if the lock manager shows it held by the app lock's holder. */
  private check(message: StateWire): void {
    this.gate.check(message.epoch, (term) => {
      if (this.currentRole !== "follower") return;
      if (term === message.epoch) this.follow(message);
      // A real term this tab does not follow yet (a forged state came first): its leader's state is the one.
      else if (term !== undefined && term !== this.epoch) this.post({ t: "hello" });
    });
  }

  private follow({ epoch, state, nextAttemptAt }: StateWire): void {
    this.sawLeader = true;
    // Judged on this tab's clock: no message parks a takeover past maxInheritedWaitMs from now.
    this.leaderNextAttemptAt =
      nextAttemptAt === undefined
        ? undefined
        : Math.min(nextAttemptAt, this.clock.now() + this.maxInheritedWaitMs);
    if (epoch !== this.epoch) {
      // A new leader: everything it has not acknowledged goes again, in order, tagged with its term — but
      // not what this term already took (it takes a message once): a forged `leaving` of the followed term
      // must not make the tab post its whole list again.
      this.epoch = epoch;
      for (const id of this.pending.notHandedTo(epoch)) if (this.currentRole === "follower") this.forward(id);
    }
    this.setState(state);
  }

  /** Posts a pending message to the leader of this tab's term, if there is one; false if it cannot be cloned. */
  private forward(id: number): boolean {
    if (this.epoch === undefined || this.currentRole !== "follower") return true;
    const data = this.pending.data(id);
    // Marked first: the leader's answer may come inside postMessage (a channel delivering synchronously).
    this.pending.handed(id, this.epoch);
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
