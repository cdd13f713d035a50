/**
 * `socket.resilience`: what our policy adds to a governed socket.io-client Socket — its `retry`, `state`,
 * `circuit`, `drop` events, `stats()` and a total `close()`. It runs the policy core (`ResilientSocket`)
 * with one Socket.IO attempt per planned moment (`attempt.ts`); the Socket itself stays socket.io's.
 *
 * socket.io-client semantics kept: `socket.disconnect()` stops (state `stopped`, the send buffer kept) and
 * `socket.connect()` starts again with a fresh history; `resilience.close()` is final and total.
 */
import type { Socket } from "socket.io-client";
import { Emitter } from "../client/emitter.js";
import type { ResilientSocketEvents, SocketState, SocketStats } from "../client/events.js";
import type { ResilientSocketOptions } from "../client/options.js";
import { ResilientSocket } from "../client/resilient-socket.js";
import { warnUnheard } from "../client/unheard.js";
import { openAttempt, proto } from "./attempt.js";
import type { BoundedSendBuffer, EmitDropped } from "./send-buffer.js";

/** Events of {@link SocketResilience}: those of `ResilientSocket` but `message` (the Socket has its own
 * events), and `drop` carries the discarded emit as `[event, ...args]`. */
export type ResilienceEvents = Omit<ResilientSocketEvents, "message" | "drop"> & {
  /** An emit was discarded from the bounded send buffer (its ack, if any, got an `EmitDiscardedError`). */
  drop: (event: EmitDropped) => void;
};

const FORWARDED = ["state", "open", "close", "retry", "circuit", "error"] as const;

/** The policy side of a governed Socket (`socket.resilience`). */
export class SocketResilience extends Emitter<ResilienceEvents> {
  private core: ResilientSocket | undefined;
  private detach: (() => void)[] = [];
  private current: SocketState = "idle";
  private released = false;
  private attemptsBefore = 0;
  private connectionsBefore = 0;

  /** @internal Made by `io()`. */
  constructor(
    private readonly socket: Socket,
    private readonly policy: Omit<ResilientSocketOptions, "transport" | "autoConnect" | "queue">,
    private readonly buffer: BoundedSendBuffer,
    /** socket.io's `reconnection: false`: one connection, no automatic reconnection. */
    private readonly reconnection: boolean,
  ) {
    super();
  }

  /** The policy's state (see `SocketState`); `stopped` after `socket.disconnect()`, `closed` after `close()`. */
  get state(): SocketState {
    return this.current;
  }

  /** Counters and the policy's view; `queue` is the bounded send buffer, `dropped` counts discarded emits. */
  stats(): SocketStats {
    const size = this.buffer.size();
    const base = this.core?.stats();
    return {
      state: this.current,
      failures: base?.failures ?? 0,
      attempts: this.attemptsBefore + (base?.attempts ?? 0),
      connections: this.connectionsBefore + (base?.connections ?? 0),
      currentDelayMs: base?.currentDelayMs,
      nextAttemptAt: base?.nextAttemptAt,
      plannedAt: base?.plannedAt,
      lastHint: base?.lastHint,
      circuit: base?.circuit ?? "closed",
      queue: size,
      unacked: 0,
      dropped: this.buffer.dropped,
    };
  }

  /**
   * Final and total: stops the policy (no timer left), disconnects the Socket, reports every buffered emit
   * as dropped (reason `closed`, acks called with an error), removes every listener this library added
   * (the app's own Socket listeners are the app's). `socket.connect()` does nothing afterwards.
   */
  close(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.stopCore();
    this.released = true;
    if (this.socket.active) proto(this.socket).disconnect.call(this.socket);
    this.buffer.clear("closed");
    this.setState("closed");
    this.removeAllListeners();
    return Promise.resolve();
  }

  /** @internal `socket.connect()`: starts the policy unless it runs already. */
  start(): void {
    if (this.released) return;
    const core = this.core;
    if (core !== undefined && core.state !== "closed") {
      core.connect();
      return;
    }
    const socket = this.socket;
    const fresh = new ResilientSocket({
      ...this.policy,
      autoConnect: false,
      queue: false,
      transport: {
        name: "socket.io",
        connect: (handlers, context) => openAttempt(socket, handlers, context),
      },
    });
    this.core = fresh;
    if (fresh.state === "closed") {
      // The AbortSignal had fired already.
      void this.close();
      return;
    }
    for (const name of FORWARDED) {
      const listener = (...args: unknown[]) => this.forward(name, args);
      // Removed through off(), not a returned unsubscribe function: the same on any emitter API.
      fresh.on(name, listener);
      this.detach.push(() => fresh.off(name, listener));
    }

    fresh.connect();
  }

  /** @internal `socket.disconnect()`: stops the policy; socket.io then disconnects as it always does. */
  stop(): void {
    if (this.released) return;
    this.stopCore();
    this.setState("stopped");
  }

  private forward(name: (typeof FORWARDED)[number], args: unknown[]): void {
    if (name === "state") {
      const state = args[0] as SocketState;
      // The AbortSignal closed the core: as final as close().
      if (state === "closed") void this.close();
      else {
        if (state === "connecting" && this.retrying > 0)
          this.managerEvent("reconnect_attempt", this.retrying);
        this.setState(state);
      }
      return;
    }
    this.managerEvent(name, args[0]);
    if (name === "retry" && !this.reconnection) {
      this.stop();
      return;
    }
    // Unheard when the app listens neither here nor to socket.io's own `connect_error` (this attempt's
    // listener is already off): reported once, as ResilientSocket does.
    if (name === "error" && !this.warned && this.listenerCount("error") === 0) {
      this.warned = true;
      if (!this.socket.hasListeners("connect_error")) warnUnheard("socket.resilience", args[0]);
    }
    (this.emit as (event: string, ...rest: unknown[]) => void)(name, ...args);
  }

  /** An error was reported with no `error` listener. */
  private warned = false;

  /** Consecutive retries since the last open: the `attempt` socket.io's Manager events carry. */
  private retrying = 0;

  /**
   * socket.io's Manager events (`reconnect_attempt`, `reconnect`, `reconnect_error`, `reconnect_failed`),
   * which an app may listen to on `socket.io`, emitted at our policy's moments: its own reconnection is off.
   */
  private managerEvent(name: string, arg: unknown): void {
    const manager = this.socket.io as unknown as { emitReserved(event: string, ...args: unknown[]): void };
    if (name === "reconnect_attempt") manager.emitReserved(name, arg);
    else if (name === "retry") {
      // A retry after a retry: the reconnection attempt between them failed.
      if (++this.retrying > 1)
        manager.emitReserved("reconnect_error", new Error("reconnection attempt failed"));
    } else if (name === "open") {
      if (this.retrying > 0) manager.emitReserved("reconnect", this.retrying);
      this.retrying = 0;
    } else if (name === "error" && (arg as { code?: string }).code === "MAX_ATTEMPTS") {
      manager.emitReserved("reconnect_failed");
    }
  }

  private stopCore(): void {
    const core = this.core;
    this.core = undefined;
    for (const off of this.detach) off();
    this.detach = [];
    if (core === undefined) return;
    const { attempts, connections } = core.stats();
    this.attemptsBefore += attempts;
    this.connectionsBefore += connections;
    void core.close();
  }

  private setState(state: SocketState): void {
    const previous = this.current;
    if (previous === state || previous === "closed") return;
    this.current = state;
    this.emit("state", state, previous);
  }

  /** @internal Reports a discarded emit. */
  dropped(event: EmitDropped): void {
    this.emit("drop", event);
  }
}
