/**
 * The socket interface code on top of this library binds to: what {@link ResilientSocket} and
 * {@link SharedSocket} both are, and what `Presence` (any `MessageSocket`) and `SharedPresence` (a
 * {@link SharedMessageSocket}) take. Write your own protocol layer against it and it runs over one
 * connection per tab or one shared by every tab of the browser alike.
 */
import type { ResilientReconnectError } from "../errors.js";
import type { DropEvent, SendResult, SocketState } from "./events.js";

/**
 * The events every {@link MessageSocket} emits.
 * @typeParam In - the data of an inbound message (what the transport hands over: a string, a Buffer, or a
 * Socket.IO event's argument). `unknown` unless you narrow it.
 */
export interface MessageSocketEvents<In = unknown> {
  /**
   * The connection's state changed (`previous` → `state`); see {@link SocketState}. A connection opened
   * when `state` is `"open"` and was lost when `previous` was.
   */
  state: (state: SocketState, previous: SocketState) => void;
  /** A message arrived from the server (for a shared socket: in every tab). */
  message: (data: In) => void;
  /** A message given to `send()` will never be sent; the event says which and why. */
  drop: (event: DropEvent) => void;
  /** Something went wrong that the socket handles by itself (it retries); for logging and metrics. */
  error: (error: ResilientReconnectError) => void;
}

/**
 * A reconnecting message socket: one logical connection to one server that comes back by itself, with a
 * bounded queue for what is sent while it is away. {@link ResilientSocket} (one connection) and
 * {@link SharedSocket} (one connection for every tab of the browser) implement it.
 * @typeParam In - the data of inbound messages (`message` event). Default `unknown`.
 * @typeParam Out - what `send` and `sendNow` take. Default: the same as `In`.
 */
export interface MessageSocket<In = unknown, Out = In> {
  /** The connection's current state; see {@link SocketState}. */
  readonly state: SocketState;
  /**
   * `true` when the connection is shared by every tab of the browser ({@link SharedMessageSocket}): per-tab
   * protocols (one presence member per socket) must know.
   */
  readonly shared: boolean;
  /**
   * Sends now when open, else queues (bounded) for the next connection; a shared socket's follower tab
   * forwards to the leader tab (`"forwarded"`). A message that will not go is also reported by `drop`.
   */
  send(data: Out): SendResult | "forwarded";
  /**
   * Sends only if the connection is open here and now, never queues: for state the next connection re-sends
   * whole anyway. Returns whether it went.
   */
  sendNow(data: Out): boolean;
  /** Starts (again) when `idle` or `stopped`; otherwise does nothing. */
  connect(): void;
  /** Final: no reconnect, no timers, no listeners left. */
  close(): Promise<void>;
  /** Adds a listener; returns the socket. */
  on<E extends keyof MessageSocketEvents<In>>(event: E, listener: MessageSocketEvents<In>[E]): this;
  /** Adds a listener that runs at most once; returns the socket. */
  once<E extends keyof MessageSocketEvents<In>>(event: E, listener: MessageSocketEvents<In>[E]): this;
  /** Removes `listener` (without one, every listener of `event`); returns the socket. */
  off<E extends keyof MessageSocketEvents<In>>(event: E, listener?: MessageSocketEvents<In>[E]): this;
}

/** Which part a tab plays in a shared connection: `leader` owns the real socket; `closed` after `close()`. */
export type SharedRole = "leader" | "follower" | "closed";

/** The events of a {@link SharedMessageSocket}: those of every socket, plus the tab channel's. */
export interface SharedMessageSocketEvents<In = unknown> extends MessageSocketEvents<In> {
  /** Another tab's `broadcast(data)` (unvalidated: any same-origin script can post one). */
  broadcast: (data: unknown) => void;
  /** This tab became the leader, or a follower, or closed. */
  role: (role: SharedRole) => void;
}

/**
 * A {@link MessageSocket} whose one connection serves every tab of the browser, with a channel between the
 * tabs: {@link SharedSocket} implements it; `SharedPresence` takes it.
 */
export interface SharedMessageSocket<In = unknown, Out = In> extends MessageSocket<In, Out> {
  readonly shared: true;
  /** This tab's part; see {@link SharedRole}. */
  readonly role: SharedRole;
  /** Posts `data` to the other tabs (not the server); `false` when it cannot be cloned or the tab closed. */
  broadcast(data: unknown): boolean;
  /** Adds a listener; returns the socket. */
  on<E extends keyof SharedMessageSocketEvents<In>>(
    event: E,
    listener: SharedMessageSocketEvents<In>[E],
  ): this;
  /** Adds a listener that runs at most once; returns the socket. */
  once<E extends keyof SharedMessageSocketEvents<In>>(
    event: E,
    listener: SharedMessageSocketEvents<In>[E],
  ): this;
  /** Removes `listener` (without one, every listener of `event`); returns the socket. */
  off<E extends keyof SharedMessageSocketEvents<In>>(
    event: E,
    listener?: SharedMessageSocketEvents<In>[E],
  ): this;
}
