/** The options, events and roles of {@link SharedSocket} — its typed public surface — and their checks. */
import { type Clock, MAX_TIMER_MS, type Random } from "../env.js";
import type { ResilientReconnectError } from "../errors.js";
import { badOption, functionOption, numberOption, objectOption, rejectUnknown } from "../options-check.js";
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
  rejectUnknown(WHERE, objectOption(WHERE, "options", options), SHARED_KEYS);
  const { name, create } = options;
  if (typeof name !== "string" || name === "") badOption(WHERE, "name", "a non-empty string", name);
  functionOption(WHERE, "create", create, 0);
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (typeof locks?.request !== "function" || typeof locks.query !== "function")
    badOption(
      WHERE,
      "locks",
      "an object with request() and query() (none here: this runtime has no navigator.locks)",
      locks,
    );
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

const WHERE = "SharedSocket";
const SHARED_KEYS = [
  "name",
  "create",
  "takeoverJitterMs",
  "maxPending",
  "ackTimeoutMs",
  "maxInheritedWaitMs",
  "locks",
  "channel",
  "page",
  "clock",
  "random",
];

function count(name: string, value: unknown, fallback: number): number {
  return numberOption(WHERE, name, value, fallback);
}

/** A timer's length: finite and > 0, and within what `setTimeout` can hold (2^31 - 1 ms). */
function positive(name: string, value: unknown, fallback: number): number {
  return numberOption(WHERE, name, value, fallback, { exclusiveMin: true, max: MAX_TIMER_MS });
}

function pageOption(value: unknown): SignalTarget | undefined {
  if (value === false) return undefined;
  if (value === undefined) return isTarget(globalThis) ? globalThis : undefined;
  if (!isTarget(value)) badOption(WHERE, "page", "an EventTarget or false", value);
  return value;
}
