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

export interface OpenEvent {
  /** Consecutive failed attempts before this one succeeded. */
  readonly failures: number;
  /** This attempt was the breaker's half-open probe. */
  readonly probe: boolean;
}

export interface CloseEvent {
  readonly code?: number;
  readonly reason?: string;
  /** How the transport saw it, or `client` for closes this socket made (timeout, heartbeat, `close()`). */
  readonly kind: CloseInfo["kind"] | "client";
  /** The connection had reached the stable period (a drop, not a failed attempt). */
  readonly wasStable: boolean;
}

export interface RetryEvent {
  /** Consecutive failures so far (1 for the first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly cause: RetryCause;
  /** The server hint that shaped this wait, when there was one. */
  readonly hint?: RetryHint;
}

export interface CircuitEvent {
  readonly state: CircuitState;
  /** When an open breaker lets its probe through (clock ms). */
  readonly reopensAt?: number;
}

export interface DropEvent {
  readonly data: unknown;
  readonly reason: DropReason;
}

/**
 * Event map of {@link ResilientSocket}.
 * @typeParam In - the data of an inbound message. Default `unknown`.
 */
export interface ResilientSocketEvents<In = unknown> {
  state: (state: SocketState, previous: SocketState) => void;
  open: (event: OpenEvent) => void;
  message: (data: In) => void;
  close: (event: CloseEvent) => void;
  retry: (event: RetryEvent) => void;
  circuit: (event: CircuitEvent) => void;
  drop: (event: DropEvent) => void;
  error: (error: ResilientReconnectError) => void;
}

/** What {@link ResilientSocket.send} did with a message. */
export type SendResult = "sent" | "queued" | "dropped";

export interface SocketStats {
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
  readonly lastHint: RetryHint | undefined;
  readonly circuit: CircuitState;
  readonly queue: { readonly messages: number; readonly bytes: number };
  /** Messages sent and not yet acknowledged, with at-least-once delivery (else 0). */
  readonly unacked: number;
  /** Messages discarded since construction. */
  readonly dropped: number;
}
