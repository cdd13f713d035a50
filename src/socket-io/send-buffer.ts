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

export class BoundedSendBuffer {
  /** When each buffered packet was emitted and what it weighs; packets socket.io removed just drop out. */
  private readonly meta = new WeakMap<object, { at: number; bytes: number }>();
  dropped = 0;

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

  /** The buffer's bytes, kept as a running total while only this class and emits change the buffer; counted
   * again (once) after socket.io changed it (an ack timeout took a packet out, a flush replaced it). */
  private counted: { list: BufferedPacket[]; length: number; bytes: number } = {
    list: [],
    length: 0,
    bytes: 0,
  };

  private bytes(): number {
    const list = this.packets;
    const counted = this.counted;
    if (counted.list !== list || counted.length !== list.length) {
      let bytes = 0;
      for (const packet of list) bytes += this.weigh(packet).bytes;
      this.counted = { list, length: list.length, bytes };
    }
    return this.counted.bytes;
  }

  /** Messages and bytes waiting now (expired ones first removed). */
  size(): { messages: number; bytes: number } {
    this.expire();
    return { messages: this.packets.length, bytes: this.bytes() };
  }

  /** Applies the bounds after an emit appended `added` packets to the buffer. O(1) per emit but for drops. */
  admit(added: number): void {
    const packets = this.packets;
    const now = this.clock.now();
    const fresh = packets.slice(packets.length - added);
    const counted = this.counted;
    let grown = 0;
    for (const packet of fresh) {
      const bytes = packetBytes(packet.data);
      grown += bytes;
      this.meta.set(packet, { at: now, bytes });
    }
    if (counted.list === packets && counted.length === packets.length - added) {
      counted.length = packets.length;
      counted.bytes += grown;
    }
    const options = this.options;
    if (options === undefined) {
      for (const packet of fresh) this.discard(packet, "disconnected");
      return;
    }
    for (const packet of fresh) {
      if (this.weigh(packet).bytes > options.maxBytes || options.maxMessages === 0)
        this.discard(packet, options.maxMessages === 0 ? "overflow" : "too-large");
    }
    this.expire();
    while (this.packets.length > options.maxMessages || this.bytes() > options.maxBytes) {
      const list = this.packets;
      const victim = options.overflow === "drop-newest" ? list[list.length - 1] : list[0];
      if (victim === undefined) break;
      this.discard(victim, "overflow");
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

  private weigh(packet: BufferedPacket): { at: number; bytes: number } {
    let meta = this.meta.get(packet);
    if (meta === undefined) {
      // Not emitted through io()'s emit (socket.io's retries queue re-emits through it; be safe anyway).
      meta = { at: this.clock.now(), bytes: packetBytes(packet.data) };
      this.meta.set(packet, meta);
    }
    return meta;
  }

  private discard(packet: BufferedPacket, reason: DropReason): void {
    const inner = this.socket as unknown as SocketInternals;
    const index = inner.sendBuffer.indexOf(packet);
    if (index < 0) return;
    inner.sendBuffer.splice(index, 1);
    const counted = this.counted;
    if (counted.list === inner.sendBuffer && counted.length === inner.sendBuffer.length + 1) {
      counted.length--;
      counted.bytes -= this.weigh(packet).bytes;
    }
    this.dropped++;
    this.report({ data: packet.data, reason });
    if (packet.id === undefined) return;
    const ack = inner.acks[packet.id];
    delete inner.acks[packet.id];
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
