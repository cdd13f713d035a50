/**
 * ResilientSocket: runs the reconnect planner over a transport. One connection at a time, every timer
 * stored and cleared by `close()`, every reconnect path through the one policy.
 */
import type { Clock, Random, TimerHandle } from "../env.js";
import {
  ConnectionRefusedError,
  HintError,
  type ResilientReconnectError,
  RetriesExhaustedError,
  TimeoutError,
  TransportError,
} from "../errors.js";
import type { CircuitState } from "../policy/circuit-breaker.js";
import type { RetryHint } from "../policy/hints.js";
import { ReconnectPlanner, type RetryCause, type RetryDecision } from "../policy/planner.js";
import type { CloseInfo, Connection, ConnectionHandlers } from "../transports/types.js";
import { Emitter } from "./emitter.js";
import { Liveness } from "./liveness.js";
import { type ResilientSocketOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { type Dropped, type DropReason, OutboundQueue } from "./queue.js";

/**
 * - `idle`: constructed, not started (`autoConnect: false`, or before the first microtask).
 * - `connecting`: an attempt is in flight.
 * - `open`: connected.
 * - `waiting`: a retry is scheduled (backoff or server hint).
 * - `circuit-open`: the breaker is open; no attempt until its probe time.
 * - `stopped`: not retrying — the server closed deliberately, refused us, or `maxAttempts` ran out.
 *   `connect()` starts again.
 * - `closed`: `close()` was called or the signal aborted. Final.
 */
export type SocketState = "idle" | "connecting" | "open" | "waiting" | "circuit-open" | "stopped" | "closed";

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

/** Event map of {@link ResilientSocket}. */
export interface ResilientSocketEvents {
  state: (state: SocketState, previous: SocketState) => void;
  open: (event: OpenEvent) => void;
  message: (data: unknown) => void;
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
  readonly lastHint: RetryHint | undefined;
  readonly circuit: CircuitState;
  readonly queue: { readonly messages: number; readonly bytes: number };
  /** Messages discarded since construction. */
  readonly dropped: number;
}

export class ResilientSocket extends Emitter<ResilientSocketEvents> {
  private readonly options: ResolvedOptions;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly planner: ReconnectPlanner;
  private readonly queue: OutboundQueue | undefined;
  private readonly liveness: Liveness | undefined;
  private current: Connection | undefined;
  /** Identifies the live attempt; handlers of any other attempt are ignored (no stale timeout or close
   * ever touches the next socket). 0 when there is none. */
  private liveAttempt = 0;
  private attemptSeq = 0;
  private currentState: SocketState = "idle";
  private stable = false;
  private probe = false;
  private retryTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private stableTimer: TimerHandle | undefined;
  private nextAttemptAt: number | undefined;
  private currentDelayMs: number | undefined;
  private lastHint: RetryHint | undefined;
  private attempts = 0;
  private connections = 0;
  private droppedCount = 0;
  private lastCircuit: CircuitState = "closed";
  private readonly onAbort = () => void this.close();

  constructor(options: ResilientSocketOptions) {
    super();
    this.options = resolveOptions(options);
    this.clock = this.options.clock;
    this.random = this.options.random;
    this.planner = new ReconnectPlanner(this.options.planner);
    this.queue = this.options.queue === undefined ? undefined : new OutboundQueue(this.options.queue);
    const { heartbeat } = this.options;
    this.liveness =
      heartbeat === undefined
        ? undefined
        : new Liveness(
            heartbeat,
            this.clock,
            (ping) => this.rawSend(ping),
            (silentMs) =>
              this.abandon(
                new TimeoutError("HEARTBEAT_TIMEOUT", `no inbound traffic for ${silentMs} ms after a ping`),
              ),
          );
    const { signal } = this.options;
    if (signal?.aborted) {
      this.currentState = "closed";
      return;
    }
    signal?.addEventListener("abort", this.onAbort, { once: true });
    if (this.options.autoConnect) queueMicrotask(() => this.currentState === "idle" && this.attempt());
  }

  /** The current state; see {@link SocketState}. */
  get state(): SocketState {
    return this.currentState;
  }

  /** Starts connecting when `idle` (autoConnect off) or `stopped` (history forgotten). Otherwise does nothing. */
  connect(): void {
    if (this.currentState === "stopped") this.planner.reset();
    if (this.currentState === "idle" || this.currentState === "stopped") this.attempt();
  }

  /**
   * Sends now when open; otherwise queues it (bounded) for the next connection. Returns which happened;
   * a discarded message is also reported by a `drop` event with the reason.
   */
  send(data: unknown): SendResult {
    if (this.currentState === "closed") {
      this.reportDrops([{ data, reason: "closed" }]);
      return "dropped";
    }
    if (this.currentState === "open" && this.current !== undefined && this.rawSend(data)) return "sent";
    if (this.queue === undefined) {
      this.reportDrops([{ data, reason: "disconnected" }]);
      return "dropped";
    }
    const { queued, dropped } = this.queue.push(data, this.clock.now());
    this.reportDrops(dropped);
    return queued ? "queued" : "dropped";
  }

  /**
   * Final, idempotent and total: aborts any attempt, clears every timer, reports queued messages as dropped
   * (reason `closed`), then removes every listener — including the AbortSignal's.
   */
  close(): Promise<void> {
    if (this.currentState === "closed") {
      this.removeAllListeners();
      return Promise.resolve();
    }
    const hadConnection = this.current !== undefined && this.currentState === "open";
    this.teardownConnection();
    this.clearRetry();
    this.options.signal?.removeEventListener("abort", this.onAbort);
    if (this.queue !== undefined) this.reportDrops(this.queue.clear("closed"));
    if (hadConnection) this.emit("close", { kind: "client", wasStable: this.stable });
    this.setState("closed");
    this.removeAllListeners();
    return Promise.resolve();
  }

  /** Counters and the policy's current view, for dashboards and tests. */
  stats(): SocketStats {
    if (this.queue !== undefined) this.reportDrops(this.queue.expire(this.clock.now()));
    return {
      state: this.currentState,
      failures: this.planner.failures,
      attempts: this.attempts,
      connections: this.connections,
      currentDelayMs: this.currentDelayMs,
      nextAttemptAt: this.nextAttemptAt,
      lastHint: this.lastHint,
      circuit: this.planner.circuit,
      queue: { messages: this.queue?.size ?? 0, bytes: this.queue?.bytes ?? 0 },
      dropped: this.droppedCount,
    };
  }

  private attempt(): void {
    this.clearRetry();
    const now = this.clock.now();
    const admission = this.planner.beforeAttempt(now);
    this.syncCircuit();
    if (admission.kind === "wait") {
      // Woken a hair early by a platform timer while the breaker is still open: re-arm without a second
      // `retry` event for the same open period.
      const silent = this.currentState === "circuit-open";
      this.scheduleRetry(
        { attempt: this.planner.failures, delayMs: admission.delayMs, cause: "circuit" },
        silent,
      );
      return;
    }
    this.probe = admission.probe;
    this.stable = false;
    this.attempts++;
    this.setState("connecting");
    const id = ++this.attemptSeq;
    this.liveAttempt = id;
    // Handlers a transport calls synchronously from inside connect() run once connect() has returned.
    let inside = true;
    const guard =
      <A extends unknown[]>(handler: (...args: A) => void) =>
      (...args: A) => {
        if (inside) queueMicrotask(() => id === this.liveAttempt && handler.apply(this, args));
        else if (id === this.liveAttempt) handler.apply(this, args);
      };
    const handlers: ConnectionHandlers = {
      open: guard(this.handleOpen),
      message: guard(this.handleMessage),
      close: guard(this.handleClose),
    };
    let connection: Connection;
    try {
      connection = this.options.transport.connect(handlers, {
        now: () => this.clock.now(),
        maxHintMs: this.options.planner.maxDelayMs,
      });
    } catch (error) {
      inside = false;
      this.liveAttempt = 0;
      this.fail(
        new TransportError(`transport ${this.options.transport.name} threw while connecting`, {
          cause: error,
        }),
      );
      return;
    } finally {
      inside = false;
    }
    this.current = connection;
    this.connectTimer = this.clock.setTimeout(() => {
      this.connectTimer = undefined;
      this.abandon(
        new TimeoutError(
          "CONNECT_TIMEOUT",
          `not open after ${this.options.connectTimeoutMs} ms (connectTimeoutMs)`,
        ),
      );
    }, this.options.connectTimeoutMs);
  }

  private handleOpen(): void {
    this.clearTimer("connectTimer");
    this.connections++;
    const failures = this.planner.failures;
    this.setState("open");
    this.flushQueue();
    if (this.currentState !== "open") return;
    this.liveness?.start();
    this.stableTimer = this.clock.setTimeout(() => {
      this.stableTimer = undefined;
      this.markStable();
    }, this.options.stableAfterMs);
    this.emit("open", { failures, probe: this.probe });
  }

  private handleMessage(data: unknown): void {
    if (this.liveness?.inbound(data)) return;
    if (this.options.stableOnFirstMessage && !this.stable) this.markStable();
    this.emit("message", data);
  }

  private handleClose(info: CloseInfo): void {
    const wasOpen = this.currentState === "open";
    const wasStable = this.stable;
    this.teardownConnection();
    if (wasOpen) {
      this.emit("close", { code: info.code, reason: info.reason, kind: info.kind, wasStable });
    }
    const reading = info.hint?.hint !== undefined || info.hint?.problem !== undefined ? info.hint : undefined;
    if (reading?.problem !== undefined) this.emit("error", new HintError(reading.problem));
    const hint = reading?.hint;
    if (hint !== undefined) this.lastHint = hint;
    if (info.kind === "deliberate" && !this.options.reconnectOnServerClose && hint === undefined) {
      this.stop();
      return;
    }
    // A refusal that tried to carry a hint (even a malformed one) is temporary: it falls back to backoff.
    if (info.kind === "refused" && reading === undefined && !this.options.retryOnRefusal) {
      this.emit(
        "error",
        new ConnectionRefusedError(`server refused the connection${info.reason ? `: ${info.reason}` : ""}`, {
          cause: info.error,
          ...(info.code === undefined ? {} : { status: info.code }),
        }),
      );
      this.stop();
      return;
    }
    if (info.kind === "error" && info.error !== undefined && hint === undefined) {
      this.emit(
        "error",
        new TransportError(`connection failed${info.reason ? `: ${info.reason}` : ""}`, {
          cause: info.error,
        }),
      );
    }
    const now = this.clock.now();
    const decision = wasStable
      ? this.planner.onDrop(now, this.random, hint)
      : this.planner.onFailure(now, this.random, hint);
    this.follow(decision);
  }

  /** Gives up on the current connection or attempt (timeout, dead heartbeat) and counts it as a failure. */
  private abandon(error: ResilientReconnectError): void {
    const wasOpen = this.currentState === "open";
    const wasStable = this.stable;
    this.teardownConnection();
    if (wasOpen) this.emit("close", { kind: "client", wasStable, reason: error.message });
    const now = this.clock.now();
    this.emit("error", error);
    if (this.currentState === "closed") return;
    this.follow(wasStable ? this.planner.onDrop(now, this.random) : this.planner.onFailure(now, this.random));
  }

  private fail(error: ResilientReconnectError): void {
    this.teardownConnection();
    this.emit("error", error);
    if (this.currentState === "closed") return;
    this.follow(this.planner.onFailure(this.clock.now(), this.random));
  }

  private follow(decision: RetryDecision): void {
    this.syncCircuit();
    if (this.currentState === "closed") return;
    if (decision.kind === "stop") {
      this.emit("error", new RetriesExhaustedError(decision.attempt));
      this.stop();
      return;
    }
    const { attempt, delayMs, cause, hint } = decision;
    this.scheduleRetry(hint === undefined ? { attempt, delayMs, cause } : { attempt, delayMs, cause, hint });
  }

  private scheduleRetry(event: RetryEvent, silent = false): void {
    if (this.currentState === "closed") return;
    this.currentDelayMs = event.delayMs;
    this.nextAttemptAt = this.clock.now() + event.delayMs;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.attempt();
    }, event.delayMs);
    this.setState(this.planner.circuit === "open" ? "circuit-open" : "waiting");
    if (!silent) this.emit("retry", event);
  }

  private markStable(): void {
    this.clearTimer("stableTimer");
    if (this.stable) return;
    this.stable = true;
    this.planner.onStable(this.clock.now());
    this.syncCircuit();
  }

  private flushQueue(): void {
    if (this.queue === undefined) return;
    const expired: Dropped[] = [];
    for (;;) {
      const next = this.queue.shiftLive(this.clock.now(), expired);
      if (next === undefined) break;
      if (!this.rawSend(next.data)) {
        this.queue.unshift(next.data, next.at);
        break;
      }
    }
    this.reportDrops(expired);
  }

  private rawSend(data: unknown): boolean {
    const connection = this.current;
    if (connection === undefined) return false;
    try {
      connection.send(data);
      return true;
    } catch (error) {
      this.emit("error", new TransportError("send failed; the message stays queued", { cause: error }));
      return false;
    }
  }

  private reportDrops(dropped: readonly Dropped[]): void {
    for (const drop of dropped) {
      this.droppedCount++;
      this.emit("drop", drop);
    }
  }

  private stop(): void {
    this.clearRetry();
    this.setState("stopped");
  }

  private teardownConnection(): void {
    this.clearTimer("connectTimer");
    this.clearTimer("stableTimer");
    this.liveness?.stop();
    const connection = this.current;
    this.current = undefined;
    this.liveAttempt = 0;
    if (connection === undefined) return;
    try {
      connection.close();
    } catch {
      // A transport that throws while closing has nothing left for us to release.
    }
  }

  private clearRetry(): void {
    this.clearTimer("retryTimer");
    this.currentDelayMs = undefined;
    this.nextAttemptAt = undefined;
  }

  private clearTimer(name: "retryTimer" | "connectTimer" | "stableTimer"): void {
    const handle = this[name];
    if (handle !== undefined) this.clock.clearTimeout(handle);
    this[name] = undefined;
  }

  private syncCircuit(): void {
    const state = this.planner.circuit;
    if (state === this.lastCircuit) return;
    this.lastCircuit = state;
    const reopensAt = this.planner.reopensAt;
    this.emit("circuit", reopensAt === undefined ? { state } : { state, reopensAt });
  }

  private setState(state: SocketState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    this.emit("state", state, previous);
  }
}
