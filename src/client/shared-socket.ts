/**
 * One connection per browser: every tab of an app creates a `SharedSocket` with the same `name`; the tab
 * holding the Web Lock of that name (the leader) owns the one real `ResilientSocket`, the others talk
 * through it over a `BroadcastChannel`. When the leader tab closes — or crashes: the browser releases its
 * lock — the next tab in the lock's queue takes over and connects after a random share of
 * `takeoverJitterMs`, through its own socket's policy. Five tabs cost the server one connection, not five.
 *
 * Wire (BroadcastChannel, structured clone; `name` scopes the channel):
 * follower → leader `{ t: "send", from, id, data }`, answered `{ t: "ack", to, id }` once the leader's socket
 * took it (sent or queued); leader → all `{ t: "message", data }`, `{ t: "state", state }`, `{ t: "leader" }`
 * (a new leader: followers resend what is not acknowledged); follower → leader `{ t: "hello" }`, answered
 * with the state. Anything else on the channel is ignored.
 *
 * @see https://developer.mozilla.org/docs/Web/API/Web_Locks_API
 * @see https://developer.mozilla.org/docs/Web/API/BroadcastChannel
 */
import { describe } from "../describe.js";
import { type Clock, type Random, systemClock, systemRandom, type TimerHandle } from "../env.js";
import { Emitter } from "./emitter.js";
import type { SocketState } from "./events.js";
import type { ResilientSocket } from "./resilient-socket.js";

/** The members of `navigator.locks` used. */
export interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

/** The members of a `BroadcastChannel` used. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

export interface SharedSocketOptions {
  /** The app's shared connection: the Web Lock's and the BroadcastChannel's name. Required. */
  name: string;
  /** Creates the real socket; called in the leader tab only (and again in a tab that takes over). */
  create: () => ResilientSocket;
  /** A tab taking over from a leader that went away connects after a uniform draw in [0, this] ms. Default 1,000. */
  takeoverJitterMs?: number;
  /** Messages a follower keeps until the leader acknowledges them; past it the oldest is dropped. Default 1,000. */
  maxPending?: number;
  /** Default `navigator.locks`. */
  locks?: LockManagerLike;
  /** Default `(name) => new BroadcastChannel(name)`. */
  channel?: (name: string) => BroadcastChannelLike;
  clock?: Clock;
  random?: Random;
}

export type SharedRole = "leader" | "follower" | "closed";

export interface SharedSocketEvents {
  /** The shared connection's state, as the leader's socket reports it. */
  state: (state: SocketState, previous: SocketState) => void;
  /** An inbound message of the shared connection (every tab receives it). */
  message: (data: unknown) => void;
  /** This tab became the leader, or a follower, or closed. */
  role: (role: SharedRole) => void;
  /** A message this follower could not keep (`maxPending` reached while no leader acknowledged). */
  drop: (event: { data: unknown; reason: "overflow" | "closed" }) => void;
}

type Wire =
  | { t: "send"; from: string; id: number; data: unknown }
  | { t: "ack"; to: string; id: number }
  | { t: "message"; data: unknown }
  | { t: "state"; state: SocketState }
  | { t: "leader" }
  | { t: "hello" };

export class SharedSocket extends Emitter<SharedSocketEvents> {
  /** Tells this tab's acknowledgements from the others'. */
  private readonly id: string;
  private currentRole: SharedRole = "follower";
  private currentState: SocketState = "idle";
  private socket: ResilientSocket | undefined;
  private readonly channel: BroadcastChannelLike;
  private readonly abort = new AbortController();
  private releaseLock: (() => void) | undefined;
  private takeoverTimer: TimerHandle | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, unknown>();
  private sawLeader = false;
  private readonly takeoverJitterMs: number;
  private readonly maxPending: number;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(private readonly options: SharedSocketOptions) {
    super();
    if (options === null || typeof options !== "object")
      throw new TypeError(`SharedSocket options must be an object; got ${describe(options)}`);
    const { name, create } = options;
    if (typeof name !== "string" || name === "")
      throw new TypeError(`SharedSocket: name must be a non-empty string; got ${describe(name)}`);
    if (typeof create !== "function")
      throw new TypeError(`SharedSocket: create must be a function; got ${describe(create)}`);
    this.takeoverJitterMs = count("takeoverJitterMs", options.takeoverJitterMs, 1_000);
    this.maxPending = count("maxPending", options.maxPending, 1_000);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.id = this.random().toString(36).slice(2);
    const locks =
      options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    if (locks === undefined)
      throw new TypeError("SharedSocket needs the Web Locks API (navigator.locks) or the locks option");
    const open =
      options.channel ?? ((channelName: string) => new BroadcastChannel(channelName) as BroadcastChannelLike);
    this.channel = open(`resilient-reconnect:${name}`);
    this.channel.onmessage = (event) => this.receive(event.data);
    this.post({ t: "hello" });
    locks
      .request(`resilient-reconnect:${name}`, { signal: this.abort.signal }, () => this.lead())
      .catch(() => {
        // Aborted by close() while waiting for the lock: nothing was held.
      });
  }

  get role(): SharedRole {
    return this.currentRole;
  }

  /** The shared connection's state as last reported by the leader. */
  get state(): SocketState {
    return this.currentState;
  }

  /**
   * Leader: the real socket's `send`. Follower: hands the message to the leader (`"forwarded"`), kept until
   * acknowledged so a leader change loses nothing.
   */
  send(data: unknown): "sent" | "queued" | "dropped" | "forwarded" {
    if (this.currentRole === "closed") {
      this.emit("drop", { data, reason: "closed" });
      return "dropped";
    }
    if (this.socket !== undefined) return this.socket.send(data);
    const id = this.nextId++;
    this.pending.set(id, data);
    if (this.pending.size > this.maxPending) {
      const [oldest, value] = this.pending.entries().next().value as [number, unknown];
      this.pending.delete(oldest);
      this.emit("drop", { data: value, reason: "overflow" });
    }
    this.post({ t: "send", from: this.id, id, data });
    return "forwarded";
  }

  /** Leaves: a leader closes its socket and releases the lock (the next tab takes over). Final. */
  async close(): Promise<void> {
    if (this.currentRole === "closed") return;
    const wasLeader = this.currentRole === "leader";
    this.setRole("closed");
    this.abort.abort();
    if (this.takeoverTimer !== undefined) this.clock.clearTimeout(this.takeoverTimer);
    const socket = this.socket;
    this.socket = undefined;
    await socket?.close();
    this.channel.onmessage = null;
    this.channel.close();
    this.releaseLock?.();
    for (const data of this.pending.values()) this.emit("drop", { data, reason: "closed" });
    this.pending.clear();
    if (wasLeader) this.setState("closed");
    this.removeAllListeners();
  }

  private lead(): Promise<void> {
    return new Promise<void>((release) => {
      if (this.currentRole === "closed") return release();
      this.releaseLock = release;
      const takingOver = this.sawLeader;
      this.setRole("leader");
      const start = () => {
        this.takeoverTimer = undefined;
        if (this.currentRole !== "leader") return;
        this.startSocket();
        // Now that there is a socket to take them, followers resend what no leader acknowledged.
        this.post({ t: "leader" });
      };
      // The first leader connects at once; a successor waits a random share so that a crowd of browsers
      // whose leader tabs went away together does not reconnect together.
      if (takingOver)
        this.takeoverTimer = this.clock.setTimeout(start, this.random() * this.takeoverJitterMs);
      else start();
    });
  }

  private startSocket(): void {
    const socket = this.options.create();
    this.socket = socket;
    socket.on("state", (state) => {
      this.setState(state);
      this.post({ t: "state", state });
    });
    socket.on("message", (data) => {
      this.emit("message", data);
      this.post({ t: "message", data });
    });
    this.setState(socket.state);
    this.post({ t: "state", state: socket.state });
    // What this tab sent as a follower goes first, in order.
    for (const data of this.pending.values()) socket.send(data);
    this.pending.clear();
  }

  private receive(raw: unknown): void {
    if (raw === null || typeof raw !== "object" || this.currentRole === "closed") return;
    const message = raw as Wire;
    switch (message.t) {
      case "send":
        if (this.socket === undefined || typeof message.from !== "string") return;
        this.socket.send(message.data);
        this.post({ t: "ack", to: message.from, id: message.id });
        return;
      case "ack":
        if (message.to === this.id) this.pending.delete(message.id);
        return;
      case "message":
        if (this.currentRole === "follower") this.emit("message", message.data);
        return;
      case "state":
        this.sawLeader = true;
        if (this.currentRole === "follower" && typeof message.state === "string")
          this.setState(message.state);
        return;
      case "leader":
        this.sawLeader = true;
        if (this.currentRole !== "follower") return;
        for (const [id, data] of this.pending) this.post({ t: "send", from: this.id, id, data });
        return;
      case "hello":
        if (this.socket !== undefined) this.post({ t: "state", state: this.socket.state });
        return;
    }
  }

  private post(message: Wire): void {
    try {
      this.channel.postMessage(message);
    } catch {
      // A message that cannot be cloned (a function, say) is the sender's bug; the leader's own send() reports it.
    }
  }

  private setRole(role: SharedRole): void {
    if (role === this.currentRole) return;
    this.currentRole = role;
    this.emit("role", role);
  }

  private setState(state: SocketState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    this.emit("state", state, previous);
  }
}

function count(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new RangeError(`SharedSocket: ${name} must be a finite number >= 0; got ${describe(value)}`);
  return value;
}
