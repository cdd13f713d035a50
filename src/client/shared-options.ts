/** The options, events and roles of {@link SharedSocket} — its typed public surface — and their checks. */
import { describe } from "../describe.js";
import type { Clock, Random } from "../env.js";
import type { ResilientReconnectError } from "../errors.js";
import type { DropEvent, SocketState } from "./events.js";
import type { SharedRole } from "./message-socket.js";
import { isTarget, type SignalTarget } from "./page-signals.js";
import type { ResilientSocket } from "./resilient-socket.js";
import type { LockSnapshotLike } from "./shared-term.js";

/** The members of `navigator.locks` used. */
export interface LockManagerLike {
  /** Asks for the exclusive lock `name`; `callback` runs while it is held, and releasing is its promise settling. */
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
  /** Who holds which lock: how a tab checks that a leader term is the lock holder's (see `shared-term.ts`). */
  query(): Promise<LockSnapshotLike>;
}

/** The members of a `BroadcastChannel` used. */
export interface BroadcastChannelLike {
  /** Posts a structured-cloneable message to every other tab on the channel. */
  postMessage(message: unknown): void;
  /** Leaves the channel (on `close()` of the socket). */
  close(): void;
  /** Set by the socket to receive the other tabs' messages. */
  onmessage: ((event: MessageEvent) => void) | null;
}

export type { SharedRole } from "./message-socket.js";

/**
 * Options of {@link SharedSocket}: `name` and `create` are required, every other one has a default.
 * @typeParam In - the data of inbound messages, as of the socket `create` makes.
 * @typeParam Out - what `send` takes, as of the socket `create` makes.
 */
export interface SharedSocketOptions<In = unknown, Out = In> {
  /** The app's shared connection: the Web Lock's and the BroadcastChannel's name. Required. */
  name: string;
  /** Creates the real socket; called in the leader tab only (and again in a tab that takes over). */
  create: () => ResilientSocket<In, Out>;
  /**
   * A tab taking over from a leader that went away connects after a uniform draw in [0, this] ms — or later,
   * when the old leader's socket was waiting longer (a server hint). Default 1,000.
   */
  takeoverJitterMs?: number;
  /** Messages a follower keeps until the leader's socket sent them; past it new ones are refused. Default 1,000. */
  maxPending?: number;
  /**
   * Longest a follower's message waits for the leader's acknowledgement (or drop) before this tab gives up on it:
   * a `drop` event with reason `expired`, so a `"forwarded"` never hangs for ever (no live leader, a leader that
   * never answers). Counted from `send()`, and again from each hand-over to a new leader term. Keep it above
   * the leader socket's `queue.ttlMs`, so the leader's socket reports an expiry first. Default 120,000.
   */
  ackTimeoutMs?: number;
  /**
   * Longest a tab taking over waits for the old leader's next attempt (`nextAttemptAt` heard on the channel,
   * which any same-origin script can post). Raise it towards the socket's `maxDelayMs` to carry longer server
   * hints across a handover. Default 60,000.
   */
  maxInheritedWaitMs?: number;
  /** Default `navigator.locks`. */
  locks?: LockManagerLike;
  /** Default `(name) => new BroadcastChannel(name)`. */
  channel?: (name: string) => BroadcastChannelLike;
  /** Fires `pagehide` and `pageshow`. Default `globalThis` in a browser; `false` for none. */
  page?: SignalTarget | false;
  /** The clock for this tab's timers (takeover, rejoin, acknowledgement). Default: the system clock. */
  clock?: Clock;
  /** The source of the takeover draw. Default: `Math.random`. */
  random?: Random;
}

/**
 * Event map of {@link SharedSocket}.
 * @typeParam In - the data of an inbound message. Default `unknown`.
 */
export interface SharedSocketEvents<In = unknown> {
  /** The shared connection's state, as the leader's socket reports it; `closed` only after this tab's `close()`. */
  state: (state: SocketState, previous: SocketState) => void;
  /** An inbound message of the shared connection (every tab receives it). */
  message: (data: In) => void;
  /** Another tab's {@link SharedSocket.broadcast} (unvalidated: any same-origin script can post one). */
  broadcast: (data: unknown) => void;
  /** This tab became the leader, or a follower, or closed. */
  role: (role: SharedRole) => void;
  /**
   * A message of this tab will not be sent: refused (`maxPending`), dropped by the leader's socket, not
   * acknowledged within `ackTimeoutMs` (`expired`), or closed.
   */
  drop: (event: DropEvent) => void;
  /** `create` threw (a {@link SocketCreateError}); this tab stepped down and asks to lead again later. */
  error: (error: ResilientReconnectError) => void;
}

/** Checks the options (throwing a `TypeError` or `RangeError` that names the option) and fills in defaults. */
export function resolveSharedOptions<In, Out>(options: SharedSocketOptions<In, Out>) {
  if (options === null || typeof options !== "object")
    throw new TypeError(`SharedSocket options must be an object; got ${describe(options)}`);
  const { name, create } = options;
  if (typeof name !== "string" || name === "")
    throw new TypeError(`SharedSocket: name must be a non-empty string; got ${describe(name)}`);
  if (typeof create !== "function")
    throw new TypeError(`SharedSocket: create must be a function; got ${describe(create)}`);
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (locks === undefined)
    throw new TypeError("SharedSocket needs the Web Locks API (navigator.locks) or the locks option");
  if (typeof locks.request !== "function" || typeof locks.query !== "function")
    throw new TypeError(`SharedSocket: locks must have request() and query(); got ${describe(locks)}`);
  return {
    name,
    create,
    takeoverJitterMs: count("takeoverJitterMs", options.takeoverJitterMs, 1_000),
    maxPending: count("maxPending", options.maxPending, 1_000),
    ackTimeoutMs: positive("ackTimeoutMs", options.ackTimeoutMs, 120_000),
    maxInheritedWaitMs: count("maxInheritedWaitMs", options.maxInheritedWaitMs, 60_000),
    locks,
    channel:
      options.channel ?? ((channelName: string) => new BroadcastChannel(channelName) as BroadcastChannelLike),
    page: pageOption(options.page),
  };
}

function count(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new RangeError(`SharedSocket: ${name} must be a finite number >= 0; got ${describe(value)}`);
  return value;
}

/** A timer's length: finite and > 0, and within what `setTimeout` can hold (2^31 - 1 ms). */
function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > 2_147_483_647)
    throw new RangeError(`SharedSocket: ${name} must be a number in (0, 2147483647]; got ${describe(value)}`);
  return value;
}

function pageOption(value: unknown): SignalTarget | undefined {
  if (value === false) return undefined;
  if (value === undefined) return isTarget(globalThis) ? globalThis : undefined;
  if (!isTarget(value))
    throw new TypeError(`SharedSocket: page must be an EventTarget or false; got ${describe(value)}`);
  return value;
}
