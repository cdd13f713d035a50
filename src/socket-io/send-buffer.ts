/**
 * Bounds socket.io-client's send buffer (unbounded there: every emit made while disconnected waits for the
 * next connection) with the queue options of `ResilientSocket`: count, bytes, age, overflow policy. Each
 * discarded emit is reported (the `drop` event) and its ack callback, if any, is called with an error, as
 * socket.io does when an ack times out. Expiry is checked when something is emitted, right before the
 * buffer is flushed on connect, and when stats are read: no timer.
 */
import type { Socket } from "socket.io-client";
import { type DropReason, messageBytes, type QueueOptions } from "../client/queue.js";
import type { Clock } from "../env.js";
import type { BufferedPacket, SocketInternals } from "./attempt.js";

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

function packetBytes(data: readonly unknown[]): number {
  let bytes = 0;
  for (const part of data) bytes += messageBytes(part);
  return bytes;
}

/** When a buffered packet was emitted and what it weighs. */
interface PacketMeta {
  readonly at: number;
  readonly bytes: number;
}

export class BoundedSendBuffer {
  /** When each buffered packet was emitted and what it weighs; packets socket.io removed just drop out. */
  private readonly meta = new WeakMap<object, PacketMeta>();
  dropped = 0;
  /**
   * The buffer's bytes as a running total, valid while socket.io's buffer is still `list` with `length`
   * packets (only emits and this class changed it); counted again, once, after socket.io changed it (an ack
   * timeout took a packet out, a flush replaced it).
   */
  private list: BufferedPacket[] = [];
  private length = 0;
  private total = 0;

  constructor(
    private readonly socket: Socket,
    /** `undefined`: nothing is buffered (`queue: false`). */
    private readonly options: QueueOptions | undefined,
    private readonly clock: Clock,
    private readonly report: (dropped: EmitDropped) => void,
  ) {}

  private get packets(): BufferedPacket[] {
    return (this.socket as unknown as SocketInternals).sendBuffer;
  }

  private bytes(): number {
    const list = this.packets;
    if (this.list !== list || this.length !== list.length) {
      this.list = list;
      this.length = list.length;
      this.total = 0;
      for (const packet of list) this.total += this.weigh(packet).bytes;
    }
    return this.total;
  }

  /** Keeps the running total when the buffer grew or shrank by one step of ours (`before` packets before). */
  private moved(before: number, bytes: number): void {
    const list = this.packets;
    if (this.list !== list || this.length !== before) return;
    this.length = list.length;
    this.total += bytes;
  }

  /** Messages and bytes waiting now (expired ones first removed). */
  size(): { messages: number; bytes: number } {
    this.expire();
    return { messages: this.packets.length, bytes: this.bytes() };
  }

  /** Applies the bounds after an emit appended `added` packets to the buffer. O(1) per emit but for drops. */
  admit(added: number): void {
    const packets = this.packets;
    const at = this.clock.now();
    const fresh = packets.slice(packets.length - added);
    let grown = 0;
    for (const packet of fresh) {
      const bytes = packetBytes(packet.data);
      grown += bytes;
      this.meta.set(packet, { at, bytes });
    }
    this.moved(packets.length - added, grown);
    const options = this.options;
    for (const packet of fresh) {
      if (options === undefined) this.discard(packet, "disconnected");
      else if (options.maxMessages === 0) this.discard(packet, "overflow");
      else if (this.weigh(packet).bytes > options.maxBytes) this.discard(packet, "too-large");
    }
    if (options === undefined) return;
    this.expire();
    for (;;) {
      const list = this.packets;
      if (list.length <= options.maxMessages && this.bytes() <= options.maxBytes) return;
      this.discard(options.overflow === "drop-newest" ? list[list.length - 1] : list[0], "overflow");
    }
  }

  /** Discards every packet older than `ttlMs`: from the front, the buffer being in emit order. */
  expire(): void {
    const ttl = this.options?.ttlMs ?? Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (;;) {
      const oldest = this.packets[0];
      if (oldest === undefined || !(now - this.weigh(oldest).at > ttl)) return;
      this.discard(oldest, "expired");
    }
  }

  /** Discards everything (the socket was closed for good). */
  clear(reason: DropReason): void {
    for (const packet of [...this.packets]) this.discard(packet, reason);
  }

  private weigh(packet: BufferedPacket): PacketMeta {
    let meta = this.meta.get(packet);
    if (meta === undefined) {
      // Not emitted through io()'s emit (socket.io's retries queue re-emits through it; be safe anyway).
      meta = { at: this.clock.now(), bytes: packetBytes(packet.data) };
      this.meta.set(packet, meta);
    }
    return meta;
  }

  private discard(packet: BufferedPacket | undefined, reason: DropReason): void {
    const inner = this.socket as unknown as SocketInternals;
    const index = packet === undefined ? -1 : inner.sendBuffer.indexOf(packet);
    if (index < 0) return;
    const { data, id } = packet as BufferedPacket;
    inner.sendBuffer.splice(index, 1);
    this.moved(inner.sendBuffer.length + 1, -this.weigh(packet as BufferedPacket).bytes);
    this.dropped++;
    this.report({ data, reason });
    if (id === undefined) return;
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
