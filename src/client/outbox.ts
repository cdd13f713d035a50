/**
 * The outbound path: encode once, send now when the link is up and nothing queued is ahead, otherwise queue
 * (bounded); flush in order on open. Every discard is reported through `drop` — nothing vanishes silently.
 */
import { TransportError } from "../errors.js";
import type { SendResult } from "./events.js";
import { type Dropped, OutboundQueue, type QueueOptions } from "./queue.js";

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

  constructor(
    options: QueueOptions | undefined,
    private readonly transport: { encode?(data: unknown): unknown },
    private readonly host: OutboxHost,
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
    const wire = this.encode(data);
    if (wire === UNSENDABLE) return "dropped";
    if (this.host.isOpen() && this.size > 0) this.flush();
    if (this.host.isOpen() && this.size === 0 && this.host.transmit(wire)) return "sent";
    if (this.host.isClosed()) return this.reject(data, "closed");
    if (this.queue === undefined) return this.reject(data, "disconnected");
    const { queued, dropped } = this.queue.push(data, wire, this.host.now());
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
      if (this.host.transmit(next.wire)) continue;
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

  /** The transport's wire form of a message; one it cannot encode is dropped here, before queueing. */
  private encode(data: unknown): unknown {
    if (this.transport.encode === undefined) return data;
    try {
      return this.transport.encode(data);
    } catch (cause) {
      this.host.error(new TransportError("message cannot be encoded; dropped", { cause }));
      this.host.drop({ data, reason: "unsendable" });
      return UNSENDABLE;
    }
  }

  private reject(data: unknown, reason: Dropped["reason"]): "dropped" {
    this.host.drop({ data, reason });
    return "dropped";
  }

  private report(dropped: readonly Dropped[]): void {
    for (const drop of dropped) this.host.drop(drop);
  }
}
