/**
 * The outbound path: encode once, send now when the link is up and nothing queued is ahead, otherwise queue
 * (bounded); flush in order on open. Every discard is reported through `drop` — nothing vanishes silently.
 */
import { TransportError } from "../errors.js";
import type { DeliveryTracker } from "./delivery.js";
import type { SendResult } from "./events.js";
import { type Dropped, messageBytes, OutboundQueue, type QueueEntry, type QueueOptions } from "./queue.js";

/** What the outbox needs from its socket. */
export interface OutboxHost {
  now(): number;
  /** Sends one wire message on the live connection; false when there is none. Throws what the connection's
   * `send` threw. */
  transmit(wire: unknown): boolean;
  /** Whether the connection is open (sending now is possible). */
  isOpen(): boolean;
  /** Whether the socket was closed (possibly by a listener, mid-step). */
  isClosed(): boolean;
  drop(dropped: Dropped): void;
  error(error: TransportError): void;
}

/** Marks a message the transport could not encode (already reported as a drop). */
const UNSENDABLE = Symbol("unsendable");

export class Outbox {
  private readonly queue: OutboundQueue | undefined;
  /** The id `encode` gave the message it just stamped. */
  private stampedId: number | undefined;
  /** Outbox calls in progress, and the reports waiting for the outermost to finish (see `run`). */
  private depth = 0;
  private readonly reports: (() => void)[] = [];

  constructor(
    options: QueueOptions | undefined,
    private readonly transport: { encode?(data: unknown): unknown },
    private readonly host: OutboxHost,
    private readonly tracker?: DeliveryTracker,
  ) {
    this.queue = options === undefined ? undefined : new OutboundQueue(options);
  }

  get size(): number {
    return this.queue?.size ?? 0;
  }

  get bytes(): number {
    return this.queue?.bytes ?? 0;
  }

  send(data: unknown): SendResult {
    return this.run(() => {
      if (this.host.isClosed()) return this.reject(data, "closed");
      // Queued messages first, then the id for this one: ids go on the wire in the order they were given.
      if (this.host.isOpen() && this.size > 0) this.flushQueue();
      const wire = this.encode(data, true);
      if (wire === UNSENDABLE) return "dropped";
      const id = this.stampedId;
      const at = this.host.now();
      const entry = { data, wire, bytes: id === undefined ? 0 : messageBytes(wire), at, id };
      if (this.host.isOpen() && this.size === 0 && this.transmit(entry)) return "sent";
      if (this.host.isClosed()) return this.reject(data, "closed");
      if (this.queue === undefined) return this.reject(data, "disconnected");
      const { queued, dropped } = this.queue.push(data, wire, at, id);
      this.report(dropped);
      return queued ? "queued" : "dropped";
    });
  }

  /** Sends a message outside the queue (the heartbeat's ping); false when it could not go now. */
  sendNow(data: unknown): boolean {
    return this.run(() => {
      const wire = this.encode(data);
      return wire !== UNSENDABLE && this.transmit({ data, wire } as QueueEntry);
    });
  }

  /** Sends what is queued, oldest first, until done or a send fails (the rest waits for the next open). */
  flush(): void {
    this.run(() => this.flushQueue());
  }

  /** Reports messages that outlived their TTL (the queue owns no timers, so this runs when touched). */
  expire(): void {
    this.run(() => this.queue && this.report(this.queue.expire(this.host.now())));
  }

  /** Empties the queue for good, reporting everything as dropped with reason `closed`. */
  clear(): void {
    this.run(() => this.queue && this.report(this.queue.clear("closed")));
  }

  /** The connection ended: unacknowledged messages go back in front of the queue, to be sent again. */
  requeueUnacked(): void {
    const reason = this.host.isClosed() ? "closed" : "disconnected";
    this.run(() => this.tracker && this.report(this.tracker.requeue(this.queue, reason)));
  }

  /**
   * Runs one outbox call. Its `drop` and `error` reports wait until the outermost call is done: a listener
   * that sends from one must not put its message on the wire between another message's id and its
   * transmission (ids on the wire never decrease within a connection, or the server takes the lower one for
   * a duplicate).
   */
  private run<T>(step: () => T): T {
    this.depth++;
    try {
      return step();
    } finally {
      if (--this.depth === 0) for (let next = this.reports.shift(); next; next = this.reports.shift()) next();
    }
  }

  private flushQueue(): void {
    if (this.queue === undefined) return;
    const expired: Dropped[] = [];
    for (;;) {
      const next = this.queue.shiftLive(this.host.now(), expired);
      if (next === undefined) break;
      if (this.transmit(next)) continue;
      // Closed from inside the send (a transport calling back synchronously): this one goes with the queue.
      if (this.host.isClosed()) this.reject(next.data, "closed");
      else this.queue.unshift(next);
      break;
    }
    this.report(expired);
  }

  /**
   * Puts one message on the wire. A stamped one is tracked first (its ack may arrive from inside the send)
   * and untracked if the send fails; the tracker may forget the oldest to stay within its bound.
   */
  private transmit(entry: QueueEntry): boolean {
    const tracked = entry.id !== undefined ? this.tracker : undefined;
    const forgotten = tracked?.sent(entry);
    if (forgotten !== undefined) this.reject(forgotten.data, "overflow");
    let ok = false;
    try {
      ok = this.host.transmit(entry.wire);
    } catch (cause) {
      this.later(() =>
        this.host.error(new TransportError("send failed; the message stays queued", { cause })),
      );
    }
    if (!ok) tracked?.unsent(entry);
    return ok;
  }

  /**
   * The transport's wire form of a message — in its delivery envelope with the next id (`stampedId`) when
   * `stamp` is set and at-least-once delivery is on. One that cannot be encoded is dropped here, unqueued.
   */
  private encode(data: unknown, stamp?: boolean): unknown {
    try {
      let message = data;
      if (stamp && this.tracker) ({ id: this.stampedId, message } = this.tracker.wrap(data));
      return this.transport.encode ? this.transport.encode(message) : message;
    } catch (cause) {
      this.later(() => this.host.error(new TransportError("message cannot be encoded; dropped", { cause })));
      this.reject(data, "unsendable");
      return UNSENDABLE;
    }
  }

  private later(report: () => void): void {
    this.reports.push(report);
  }

  private reject(data: unknown, reason: Dropped["reason"]): "dropped" {
    this.later(() => this.host.drop({ data, reason }));
    return "dropped";
  }

  private report(dropped: readonly Dropped[]): void {
    for (const { data, reason } of dropped) this.reject(data, reason);
  }
}
