/** The states, events and stats of {@link ResilientSocket} — its typed public surface. */
import type { ResilientReconnectError } from "../errors.js";
import type { CircuitState } from "../policy/circuit-breaker.js";
import type { RetryHint } from "../policy/hints.js";
import type { RetryCause } from "../policy/planner.js";
import type { CloseInfo } from "../transports/types.js";
import type { DropReason } from "./queue.js";

/**
 * - `idle`: constructed, not started (`autoConnect: false`, or before the first microtask).
 * - `connecting`: an attempt is in flight.
 * - `open`: connected.
 * - `waiting`: a retry is scheduled (backoff or server hint).
 * - `circuit-open`: the breaker is open; no attempt until its probe time.
 * - `paused`: the browser is offline, the page is in the back/forward cache, or hidden under
 *   `signals.whenHidden: "pause"`; no attempt until that ends (then one, after a small random delay).
 * - `stopped`: not retrying — the server closed deliberately, refused us, or `maxAttempts` ran out.
 *   `connect()` starts again.
 * - `closed`: `close()` was called or the signal aborted. Final.
 */
export type SocketState =
  | "idle"
  | "connecting"
  | "open"
  | "waiting"
  | "circuit-open"
  | "paused"
  | "stopped"
  | "closed";

/** The `open` event: a connection opened (after a first attempt or a reconnect). */
export interface OpenEvent {
  /** Consecutive failed attempts before this one succeeded. */
  readonly failures: number;
  /** This attempt was the breaker's half-open probe. */
  readonly probe: boolean;
}

/**
 * The `close` event: an open connection ended (a failed attempt that never opened emits no `close`; its
 * outcome shows in `retry` and `error`). A `retry`, or the state `stopped`, follows unless `close()` was called.
 */
export interface CloseEvent {
  /** The WebSocket close code (e.g. 1006 abnormal, 1012 restart, 1013 try again later), when there was one. */
  readonly code?: number;
  /** The close reason the server sent, or why this socket closed it (e.g. "no inbound traffic for … ms"). */
  readonly reason?: string;
  /** How the transport saw it, or `client` for closes this socket made (timeout, heartbeat, `close()`). */
  readonly kind: CloseInfo["kind"] | "client";
  /** The connection had reached the stable period (a drop, not a failed attempt). */
  readonly wasStable: boolean;
}

/**
 * The `retry` event: a wait before the next attempt was scheduled (emitted once per wait, after the state
 * changed to `waiting` or `circuit-open`).
 */
export interface RetryEvent {
  /** Consecutive failures so far (1 for the first retry). */
  readonly attempt: number;
  /**
   * How long the socket waits before its next attempt, in ms: the backoff's draw, or the server's hint plus a
   * random share of its spread, never more than `maxDelayMs`. The attempt starts at `stats().nextAttemptAt`.
   */
  readonly delayMs: number;
  /**
   * What set the wait: `backoff` (the client's own jittered backoff), `hint` (a server hint), `budget` (the
   * server's connect-time reconnect budget) or `circuit` (the breaker is open until its probe time).
   */
  readonly cause: RetryCause;
  /** The server hint that shaped this wait, when there was one. */
  readonly hint?: RetryHint;
}

/** The `circuit` event: the circuit breaker changed state. */
export interface CircuitEvent {
  /**
   * `open`: too many attempts failed, none is made until `reopensAt`; `half-open`: one probe attempt is let
   * through; `closed`: attempts flow normally again.
   */
  readonly state: CircuitState;
  /** When an open breaker lets its probe through (clock ms). */
  readonly reopensAt?: number;
}

/** The `drop` event: a message given to `send()` will never be sent. */
export interface DropEvent {
  /** The message as the app passed it to `send()`. */
  readonly data: unknown;
  /** Why it was discarded; see {@link DropReason}. */
  readonly reason: DropReason;
}

/**
 * Event map of {@link ResilientSocket}.
 * @typeParam In - the data of an inbound message. Default `unknown`.
 */
export interface ResilientSocketEvents<In = unknown> {
  /** The state changed from `previous` to `state` (fires before the event that explains it, such as `open`). */
  state: (state: SocketState, previous: SocketState) => void;
  /** A connection opened; queued messages were sent just before. */
  open: (event: OpenEvent) => void;
  /** A message arrived (heartbeat replies, budget frames and delivery acknowledgements are not passed on). */
  message: (data: In) => void;
  /** An open connection ended. */
  close: (event: CloseEvent) => void;
  /** A wait before the next attempt was scheduled: how long, and why. */
  retry: (event: RetryEvent) => void;
  /** The circuit breaker opened, let a probe through (half-open), or closed. */
  circuit: (event: CircuitEvent) => void;
  /** A message given to `send()` was discarded and will never be sent. */
  drop: (event: DropEvent) => void;
  /**
   * Something failed that the socket handles by itself: a refused or failed attempt, a timeout, a malformed
   * hint, a throwing listener ({@link ListenerError}), retries exhausted ({@link RetriesExhaustedError}). For
   * logging: the socket keeps following its policy.
   */
  error: (error: ResilientReconnectError) => void;
}

/** What {@link ResilientSocket.send} did with a message. */
export type SendResult = "sent" | "queued" | "dropped";

/** What `stats()` returns: counters since construction and the policy's current view. */
export interface SocketStats {
  /** The socket's state now; see {@link SocketState}. */
  readonly state: SocketState;
  /** Consecutive failed attempts since the last stable connection. */
  readonly failures: number;
  /** Attempts started since construction. */
  readonly attempts: number;
  /** Connections opened since construction. */
  readonly connections: number;
  /** The delay of the pending retry, if one is scheduled. */
  readonly currentDelayMs: number | undefined;
  /** When the pending retry fires (clock ms). */
  readonly nextAttemptAt: number | undefined;
  /**
   * The moment the policy set for the next attempt (clock ms; backoff, hint or breaker), before any
   * hidden-tab slowdown. Kept while `paused`, when no retry is pending: the resume is never earlier.
   */
  readonly plannedAt: number | undefined;
  /** The last server hint, as obeyed (cut to `maxDelayMs`); `undefined` before the first. */
  readonly lastHint: RetryHint | undefined;
  /** The circuit breaker's state (`closed` when there is none). */
  readonly circuit: CircuitState;
  /** What waits in the outbound queue for the next connection. */
  readonly queue: {
    /** Messages queued. */
    readonly messages: number;
    /** Their size in bytes (UTF-8 for text), as counted against `queue.maxBytes`. */
    readonly bytes: number;
  };
  /** Messages sent and not yet acknowledged, with at-least-once delivery (else 0). */
  readonly unacked: number;
  /** Messages discarded since construction. */
  readonly dropped: number;
}
