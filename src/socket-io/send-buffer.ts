/**
 * Bounds socket.io-client's send buffer (unbounded there: every emit made while disconnected waits for the
 * next connection) with the queue options of `ResilientSocket`, by `ResilientSocket`'s own queue: count, bytes,
 * age, overflow policy. Each discarded emit is reported (the `drop` event) and its ack callback, if any, is
 * called with an error, as socket.io does when an ack times out. Expiry is checked when something is emitted,
 * right before the buffer is flushed on connect, and when stats are read: no timer. The same class wires the
 * Socket's `emit`, `connect` and `disconnect` to the policy (one constructor for a governed Socket's wiring).
 */
import type { Socket } from "socket.io-client";
import type { SocketStats } from "../client/events.js";
import type { ResilientSocketOptions } from "../client/options.js";
import {
  type Dropped,
  type DropReason,
  messageBytes,
  OutboundQueue,
  type QueueEntry,
  type QueueOptions,
} from "../client/queue.js";
import { ResilientSocket } from "../client/resilient-socket.js";
import { type BufferedPacket, proto, type SocketInternals } from "./attempt.js";

/** A discarded emit: `data` is `[event, ...args]`. */
export interface EmitDropped {
  /** The discarded emit as `[event, ...args]` (an ack callback, if any, is not included). */
  readonly data: unknown[];
  /** Why: buffer full, emit too large, older than `ttlMs`, `queue: false`, or the socket closed for good. */
  readonly reason: DropReason;
}

/** The error an ack callback of a discarded emit is called with. */
export class EmitDiscardedError extends Error {
  /** Always `"EmitDiscardedError"`, to tell it from socket.io's own ack timeout error. */
  override readonly name = "EmitDiscardedError";
  /** Why the emit was discarded. */
  readonly reason: DropReason;
  constructor(reason: DropReason) {
    super(`emit discarded from the offline buffer (${reason})`);
    this.reason = reason;
  }
}

/**
 * A governed Socket's policy, wired to the Socket: the app's `connect()` / `disconnect()` (and their aliases)
 * go through the policy, `socket.resilience` is this object, and socket.io's send buffer is bounded. The
 * bounds are the core's {@link OutboundQueue}, kept as a mirror of socket.io's buffer (its entries' `data` are
 * socket.io's packets): the queue decides what goes; this class takes those packets out of socket.io's
 * buffer, reports them (`drop`) and errors their acks.
 * @internal The base of io()'s `Governor`.
 */
export class BufferedSocket extends ResilientSocket {
  /** `undefined`: nothing is buffered (`queue: false`). */
  private readonly queue: OutboundQueue | undefined;
  /** socket.io's buffer as the queue last mirrored it. */
  private list: BufferedPacket[] | undefined;

  constructor(
    protected readonly socket: Socket,
    options: ResilientSocketOptions,
    queue: QueueOptions | undefined,
    /** socket.io's `reconnection` option (false: one connection, no automatic reconnection). */
    protected readonly reconnection: boolean,
  ) {
    super(options);
    this.queue = queue && new OutboundQueue(queue);
    const inner = socket as unknown as SocketInternals & Record<string, unknown>;
    const base = proto(socket);
    // Expired emits go before socket.io flushes the buffer on connect.
    inner.emitBuffered = () => {
      this.expire();
      base.emitBuffered.call(socket);
    };
    // What an emit added to socket.io's buffer is bounded at once.
    inner.emit = (event, ...args) => {
      const before = this.packets.length;
      base.emit.call(socket, event, ...args);
      this.admit(before);
      return socket;
    };
    inner.connect = inner.open = () => {
      this.connect();
      return socket;
    };
    inner.disconnect = inner.close = () => {
      this.stop();
      if (socket.active) base.disconnect.call(socket);
      return socket;
    };
    // Not enumerable, not writable: the Socket's own shape is socket.io's.
    Object.defineProperty(socket, "resilience", { value: this });
  }

  private get packets(): BufferedPacket[] {
    return (this.socket as unknown as SocketInternals).sendBuffer;
  }

  /**
   * The queue with socket.io's first `count` packets, in order. Only emits (and this class) add or take, in
   * step with the queue; when socket.io took packets itself (an ack timed out, a flush replaced the buffer)
   * the queue drops them too, once, keeping the others' age and weight.
   */
  private sync(count = this.packets.length): OutboundQueue | undefined {
    const { queue, packets } = this;
    if (queue !== undefined && (packets !== this.list || queue.size !== count)) {
      this.list = packets;
      const live = new Set(packets);
      const kept: QueueEntry[] = [];
      for (let entry = queue.shift(); entry !== undefined; entry = queue.shift())
        if (live.has(entry.data as BufferedPacket)) kept.push(entry);
      queue.prepend(kept);
    }
    return queue;
  }

  /** `queue` is the bounded send buffer (expired emits first removed); `dropped` counts its `drop` events. */
  override stats(): SocketStats {
    this.expire();
    return {
      ...super.stats(),
      queue: { messages: this.packets.length, bytes: this.queue?.bytes ?? 0 },
    };
  }

  /** Applies the bounds to what an emit appended to the buffer (`before` packets before). O(1) but for drops. */
  private admit(before: number): void {
    const packets = this.packets;
    const queue = this.sync(before);
    // The queue mirrors the buffer's first packets: what a nested emit (socket.io's retries queue re-enters
    // emit) already admitted is not admitted twice.
    for (const packet of packets.slice(queue?.size ?? before)) {
      let bytes = 0;
      for (const part of packet.data) bytes += messageBytes(part);
      this.discard(
        queue === undefined
          ? [{ data: packet, reason: "disconnected" }]
          : queue.push(packet, packet.data, this.clock.now(), undefined, bytes).dropped,
      );
    }
  }

  /** Discards every packet older than `ttlMs` (no timer: when emitting, flushing and reading stats). */
  private expire(): void {
    this.discard(this.sync()?.expire(this.clock.now()));
  }

  /** Discards everything (the socket is closed for good). */
  protected clear(): void {
    this.discard(this.sync()?.clear("closed"));
  }

  /** Takes packets the queue let go out of socket.io's buffer, reports each and errors its ack. */
  private discard(dropped: readonly Dropped[] = []): void {
    const inner = this.socket as unknown as SocketInternals;
    for (const { data, reason } of dropped) {
      const packet = data as BufferedPacket;
      const index = inner.sendBuffer.indexOf(packet);
      if (index < 0) continue;
      inner.sendBuffer.splice(index, 1);
      this.emit("drop", { data: packet.data, reason });
      // An emit without an ack has no id: there is nothing under "undefined" to find or delete.
      const id = packet.id as number;
      const ack = inner.acks[id];
      delete inner.acks[id];
      // With a timeout the ack is socket.io's wrapper, which also clears its timer. An ack that throws must not
      // break the emit (or the flush) that discarded it: its error is rethrown on its own.
      try {
        ack?.call(this.socket, new EmitDiscardedError(reason));
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
