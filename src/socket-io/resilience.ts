/**
 * `socket.resilience`: what our policy adds to a governed socket.io-client Socket — its `retry`, `state`,
 * `circuit`, `drop` events, `stats()` and a total `close()`. It is the policy core (`ResilientSocket`) itself,
 * with one Socket.IO attempt per planned moment (`attempt.ts`) as its transport; the Socket stays socket.io's.
 *
 * socket.io-client semantics kept: `socket.disconnect()` stops (state `stopped`, the send buffer kept) and
 * `socket.connect()` starts again with a fresh history; `resilience.close()` is final and total.
 */
import type { Emitter } from "../client/emitter.js";
import type { ResilientSocketEvents, SocketState, SocketStats } from "../client/events.js";
import { warnUnheard } from "../client/unheard.js";
import { proto } from "./attempt.js";
import { BufferedSocket, type EmitDropped } from "./send-buffer.js";

/** Events of {@link SocketResilience}: those of `ResilientSocket` but `message` (the Socket has its own
 * events), and `drop` carries the discarded emit as `[event, ...args]`. */
export type ResilienceEvents = Omit<ResilientSocketEvents, "message" | "drop"> & {
  /** An emit was discarded from the bounded send buffer (its ack, if any, got an `EmitDiscardedError`). */
  drop: (event: EmitDropped) => void;
};

/** The policy side of a governed Socket (`socket.resilience`). */
export interface SocketResilience
  extends Pick<
    Emitter<ResilienceEvents>,
    | "on"
    | "once"
    | "off"
    | "addListener"
    | "removeListener"
    | "removeAllListeners"
    | "listenerCount"
    | "eventNames"
  > {
  /** The policy's state (see `SocketState`); `stopped` after `socket.disconnect()`, `closed` after `close()`. */
  readonly state: SocketState;
  /** Counters and the policy's view; `queue` is the bounded send buffer, `dropped` counts discarded emits. */
  stats(): SocketStats;
  /**
   * Final and total: stops the policy (no timer left), disconnects the Socket, reports every buffered emit
   * as dropped (reason `closed`, acks called with an error), removes every listener this library added
   * (the app's own Socket listeners are the app's). `socket.connect()` does nothing afterwards.
   */
  close(): Promise<void>;
}

/**
 * The policy core of one governed Socket. One object for the Socket's life (listeners on it survive
 * `disconnect()` / `connect()`), so its counters do too; what differs from `ResilientSocket` is the send buffer
 * (socket.io's own, bounded, and the Socket's wiring: `send-buffer.ts`) and socket.io's Manager events, emitted
 * at the policy's moments.
 * @internal Made by `io()`; typed for apps as {@link SocketResilience}.
 */
export class Governor extends BufferedSocket {
  /** Consecutive retries since the last open: the `attempt` socket.io's Manager events carry. */
  private retrying = 0;

  override close(): Promise<void> {
    if (this.state !== "closed") {
      // Reported while the app's listeners are still there.
      this.clear();
      if (this.socket.active) proto(this.socket).disconnect.call(this.socket);
    }
    return super.close();
  }

  /**
   * Unheard when the app listens neither here nor to socket.io's own `connect_error` (this attempt's
   * listener is already off): reported once, as ResilientSocket does.
   */
  protected override unheard(error: unknown): void {
    if (!this.socket.hasListeners("connect_error")) warnUnheard("socket.resilience", error);
  }

  /**
   * socket.io's Manager events (`reconnect_attempt`, `reconnect`, `reconnect_error`, `reconnect_failed`),
   * which an app may listen to on `socket.io`, emitted at our policy's moments: its own reconnection is off.
   */
  protected override emit<E extends keyof ResilientSocketEvents>(
    event: E,
    ...args: Parameters<ResilientSocketEvents[E]>
  ): void {
    const manager = this.socket.io as unknown as { emitReserved(event: string, ...args: unknown[]): void };
    const retrying = this.retrying;
    const arg: unknown = args[0];
    if (event === "retry") {
      // A retry after a retry: the reconnection attempt between them failed.
      if (++this.retrying > 1)
        manager.emitReserved("reconnect_error", new Error("reconnection attempt failed"));
      if (!this.reconnection) {
        this.stop();
        return;
      }
    } else if (event === "open") {
      this.retrying = 0;
      if (retrying) manager.emitReserved("reconnect", retrying);
    } else if (retrying && event === "state" && arg === "connecting")
      manager.emitReserved("reconnect_attempt", retrying);
    else if (event === "error" && (arg as { code?: string }).code === "MAX_ATTEMPTS")
      manager.emitReserved("reconnect_failed");
    super.emit(event, ...args);
  }
}
