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
  /** Sends one wire message on the live connection; false when there is none or it refused. */
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
    if (this.host.isClosed()) return this.reject(data, "closed");
    const wire = this.encode(data, true);
    if (wire === UNSENDABLE) return "dropped";
    const id = this.stampedId;
    if (this.host.isOpen() && this.size > 0) this.flush();
    if (this.host.isOpen() && this.size === 0 && this.host.transmit(wire)) {
      if (id !== undefined) this.track({ data, wire, bytes: messageBytes(wire), at: this.host.now(), id });
      return "sent";
    }
    if (this.host.isClosed()) return this.reject(data, "closed");
    if (this.queue === undefined) return this.reject(data, "disconnected");
    const { queued, dropped } = this.queue.push(data, wire, this.host.now(), id);
    this.report(dropped);
    return queued ? "queued" : "dropped";
  }

  /** Sends a message outside the queue (the heartbeat's ping); false when it could not go now. */
  sendNow(data: unknown): boolean {
    const wire = this.encode(data);
    return wire !== UNSENDABLE && this.host.transmit(wire);
  }

  /** Sends what is queued, oldest first, until done or a send fails (the rest waits for the next open). */
  flush(): void {
    if (this.queue === undefined) return;
    const expired: Dropped[] = [];
    for (;;) {
      const next = this.queue.shiftLive(this.host.now(), expired);
      if (next === undefined) break;
      if (this.host.transmit(next.wire)) {
        if (next.id !== undefined) this.track(next);
        continue;
      }
      // Closed by a listener of the send error: the queue was reported then; this one goes with it.
      if (this.host.isClosed()) this.host.drop({ data: next.data, reason: "closed" });
      else this.queue.unshift(next);
      break;
    }
    this.report(expired);
  }

  /** Reports messages that outlived their TTL (the queue owns no timers, so this runs when touched). */
  expire(): void {
    if (this.queue !== undefined) this.report(this.queue.expire(this.host.now()));
  }

  /** Empties the queue for good, reporting everything as dropped with reason `closed`. */
  clear(): void {
    if (this.queue !== undefined) this.report(this.queue.clear("closed"));
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
      this.host.error(new TransportError("message cannot be encoded; dropped", { cause }));
      this.host.drop({ data, reason: "unsendable" });
      return UNSENDABLE;
    }
  }

  /** A stamped message went out: the tracker keeps it until acknowledged (and may forget the oldest). */
  private track(entry: QueueEntry): void {
    const forgotten = this.tracker?.sent(entry);
    if (forgotten !== undefined) this.host.drop({ data: forgotten.data, reason: "overflow" });
  }

  /** The connection ended: unacknowledged messages go back in front of the queue, to be sent again. */
  requeueUnacked(): void {
    const entries = this.tracker?.takeUnacked();
    if (entries?.length)
      this.report(
        this.queue?.requeue(entries) ?? entries.map(({ data }) => ({ data, reason: "disconnected" })),
      );
  }

  private reject(data: unknown, reason: Dropped["reason"]): "dropped" {
    this.host.drop({ data, reason });
    return "dropped";
  }

  private report(dropped: readonly Dropped[]): void {
    for (const drop of dropped) this.host.drop(drop);
  }
}
