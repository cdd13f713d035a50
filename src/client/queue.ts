/**
 * The bounded outbound queue: messages sent while disconnected wait here, bounded by count, by bytes and by
 * age. Nothing is ever discarded silently — every discard is returned to the caller with its reason (the
 * socket turns those into `drop` events). Expiry is checked lazily (on push, drain and inspection), so the
 * queue owns no timers.
 */

/** Why a message was discarded. */
export type DropReason =
  /** The queue was full (by count or bytes) and the overflow policy chose this message. */
  | "overflow"
  /** The message alone is larger than `maxBytes`. */
  | "too-large"
  /** It waited longer than `ttlMs`. */
  | "expired"
  /** The socket was closed (final) with the message still queued, or sent after close. */
  | "closed"
  /** Sent while disconnected with the queue disabled (`queue: false`). */
  | "disconnected"
  /** The transport could not encode it (e.g. JSON with a BigInt or a cycle); never queued. */
  | "unsendable";

/**
 * The outbound queue: what `send()` keeps while disconnected, sent in order on the next connection. The
 * `queue` option of `ResilientSocket` takes a partial object (merged with these defaults), or `false` for none.
 */
export interface QueueOptions {
  /** Most messages held. Default 1000. */
  readonly maxMessages: number;
  /** Most bytes held (UTF-8 for strings, byteLength for binary, JSON length otherwise). Default 1 MiB. */
  readonly maxBytes: number;
  /** Longest a message may wait, in ms. Default 60,000. `Infinity` keeps messages until sent or overflowed. */
  readonly ttlMs: number;
  /** Which message goes when full: the oldest queued one (default) or the new one. */
  readonly overflow: "drop-oldest" | "drop-newest";
}

/** The queue's defaults: 1,000 messages, 1 MiB, 60 s, the oldest dropped first. */
export const defaultQueueOptions: QueueOptions = {
  maxMessages: 1000,
  maxBytes: 1_048_576, // 1 MiB
  ttlMs: 60_000,
  overflow: "drop-oldest",
};

export interface Dropped {
  readonly data: unknown;
  readonly reason: DropReason;
}

/** A queued message: what the app sent, its wire form, its size and when it was queued. */
export interface QueueEntry {
  readonly data: unknown;
  readonly wire: unknown;
  readonly bytes: number;
  readonly at: number;
  /** Its sequence number under at-least-once delivery. */
  readonly id?: number;
}

/** Size of a message in bytes, as the queue counts it. */
export function messageBytes(data: unknown): number {
  if (typeof data === "string") return utf8Length(data);
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof Blob !== "undefined" && data instanceof Blob) return data.size;
  try {
    const json = JSON.stringify(data);
    return json === undefined ? 0 : utf8Length(json);
  } catch {
    return 0;
  }
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export class OutboundQueue {
  private entries: QueueEntry[] = [];
  private head = 0;
  private totalBytes = 0;

  constructor(readonly options: QueueOptions) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Adds a message (and its wire form, which is what is counted, unless `bytes` says what it weighs). Returns
   * whether it was queued and whatever was discarded to make (or refuse) room. */
  push(
    data: unknown,
    wire: unknown,
    nowMs: number,
    id?: number,
    bytes = messageBytes(wire),
  ): { queued: boolean; dropped: Dropped[] } {
    const dropped = this.expire(nowMs);
    const { maxBytes, maxMessages, overflow } = this.options;
    if (bytes > maxBytes || maxMessages === 0) {
      dropped.push({ data, reason: bytes > maxBytes ? "too-large" : "overflow" });
      return { queued: false, dropped };
    }
    const full = () => this.size + 1 > maxMessages || this.totalBytes + bytes > maxBytes;
    if (full() && overflow === "drop-newest") {
      dropped.push({ data, reason: "overflow" });
      return { queued: false, dropped };
    }
    while (full()) {
      const oldest = this.shift();
      if (oldest === undefined) break;
      dropped.push({ data: oldest.data, reason: "overflow" });
    }
    this.entries.push({ data, wire, bytes, at: nowMs, id });
    this.totalBytes += bytes;
    return { queued: true, dropped };
  }

  /** Takes the oldest unexpired message, reporting expired ones passed on the way. */
  shiftLive(nowMs: number, expired: Dropped[]): QueueEntry | undefined {
    for (;;) {
      const entry = this.shift();
      if (entry === undefined) return undefined;
      if (nowMs - entry.at <= this.options.ttlMs) return entry;
      expired.push({ data: entry.data, reason: "expired" });
    }
  }

  /** Puts a message back at the front (a send that failed mid-flush keeps its place and its age). */
  unshift(entry: QueueEntry): void {
    this.compact();
    this.entries.unshift(entry);
    this.totalBytes += entry.bytes;
  }

  /** Puts messages back in front, in order, unchecked (unacknowledged ones: the tracker applies the bounds). */
  prepend(entries: readonly QueueEntry[]): void {
    this.entries = entries.concat(this.entries.slice(this.head));
    this.head = 0;
    for (const entry of entries) this.totalBytes += entry.bytes;
  }

  /** Removes and returns every message that has outlived `ttlMs`. */
  expire(nowMs: number): Dropped[] {
    const dropped: Dropped[] = [];
    for (;;) {
      const oldest = this.entries[this.head];
      if (oldest === undefined || nowMs - oldest.at <= this.options.ttlMs) break;
      this.shift();
      dropped.push({ data: oldest.data, reason: "expired" });
    }
    return dropped;
  }

  /** Empties the queue, returning everything with the given reason. */
  clear(reason: DropReason): Dropped[] {
    const dropped = this.entries.slice(this.head).map((entry) => ({ data: entry.data, reason }));
    this.entries = [];
    this.head = 0;
    this.totalBytes = 0;
    return dropped;
  }

  /** Takes the oldest message. */
  shift(): QueueEntry | undefined {
    const entry = this.entries[this.head];
    if (entry === undefined) return undefined;
    this.head++;
    this.totalBytes -= entry.bytes;
    if (this.head > 64 && this.head * 2 > this.entries.length) this.compact();
    return entry;
  }

  /** Takes the newest message. */
  pop(): QueueEntry | undefined {
    const entry = this.size > 0 ? this.entries.pop() : undefined;
    if (entry !== undefined) this.totalBytes -= entry.bytes;
    return entry;
  }

  private compact(): void {
    if (this.head === 0) return;
    this.entries = this.entries.slice(this.head);
    this.head = 0;
  }
}
