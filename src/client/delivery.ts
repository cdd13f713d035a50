/**
 * Opt-in at-least-once delivery: every message the app sends gets an id (a session id and a sequence
 * number) and is kept until the server acknowledges it; messages still unacknowledged when a connection
 * ends go back to the front of the queue and are sent again on the next one. A server that de-duplicates by
 * id (`Deduplicator` in `resilient-reconnect/server`) turns that into an exactly-once effect.
 *
 * Its own module, referenced by `ResilientSocket` only through the {@link DeliveryTracker} type, so apps that
 * do not use it do not ship it. Wire format: README, "At-least-once delivery".
 * @see https://www.rfc-editor.org/rfc/rfc9000#section-13.2 (cumulative acknowledgement, the same idea)
 */
import { describe } from "../describe.js";
import { newId } from "../env.js";
import { badOption, numberOption, objectOption, rejectUnknown } from "../options-check.js";
import { DELIVERY_TAG, type DeliveryAck, type DeliveryMessage } from "../protocol/delivery.js";
import type { Dropped, OutboundQueue, QueueEntry } from "./queue.js";

export { DELIVERY_TAG, type DeliveryAck, type DeliveryMessage } from "../protocol/delivery.js";

/** What the socket's outbound path needs from at-least-once delivery. Implemented by {@link atLeastOnce}. */
export interface DeliveryTracker {
  /** Stamps an app message with the next id; returns the id and the envelope to send. Throws when the data
   * cannot travel in an envelope (binary). */
  wrap(data: unknown): {
    /** The message's sequence number in this session. */
    readonly id: number;
    /** The envelope to send (a {@link DeliveryMessage}, encoded as the data was). */
    readonly message: unknown;
  };
  /** A stamped message is about to go on the wire (its ack may come back from inside the send): keep it until
   * acknowledged. Returns an entry it had to forget to stay within its bound (dropped, `overflow`), if any. */
  sent(entry: QueueEntry): QueueEntry | undefined;
  /** The send of `entry` failed after all (it stays queued): stop waiting for its acknowledgement. */
  unsent(entry: QueueEntry): void;
  /** Consumes an acknowledgement (returns true) or lets an app message through (false); for a message tagged
   * as an acknowledgement that cannot be one, says why (the socket reports it as an `error`). */
  inbound(data: unknown): boolean | string;
  /**
   * The connection ended: puts everything unacknowledged back in front of `queue`, oldest first, to be sent
   * again, and returns what it had to discard: one larger than the queue's `maxBytes` as `too-large`, then
   * by the queue's overflow policy; everything (with `reason`) when there is no queue.
   */
  requeue(queue: OutboundQueue | undefined, reason: "closed" | "disconnected"): Dropped[];
  /** Messages sent and not yet acknowledged. */
  readonly unacked: number;
}

/** Options of {@link atLeastOnce}; both have defaults. */
export interface AtLeastOnceOptions {
  /**
   * Identifies this socket's stream of messages to the server; must be unique to this socket instance (not
   * kept across page loads, not shared by tabs): the server takes a reused id's messages for ones it already
   * processed. Default: a fresh random id (`crypto.randomUUID()` where available).
   */
  sessionId?: string;
  /** Most messages kept waiting for an acknowledgement. Default 1000. */
  maxUnacked?: number;
}

function isBinary(data: unknown): boolean {
  return (
    data instanceof ArrayBuffer ||
    ArrayBuffer.isView(data) ||
    (typeof Blob !== "undefined" && data instanceof Blob)
  );
}

const ACK_PREFIX = `{"${DELIVERY_TAG}":"ack"`;

/** Whether a message is tagged as an acknowledgement: text starting `{"$rr":"ack"`, or an object with an own
 * `$rr: "ack"`. Such a message is never handed to the app, valid or not. */
function taggedAck(data: unknown): boolean {
  return typeof data === "string"
    ? data.startsWith(ACK_PREFIX)
    : data !== null &&
        typeof data === "object" &&
        Object.hasOwn(data, DELIVERY_TAG) &&
        (data as Record<string, unknown>)[DELIVERY_TAG] === "ack";
}

/** Reads an acknowledgement out of a string (WebSocket text, at most 512 characters) or an object
 * (Socket.IO); else undefined. `seq` must be a safe integer >= 0. */
export function readAck(data: unknown): DeliveryAck | undefined {
  let value = data;
  if (typeof data === "string") {
    if (!data.startsWith(ACK_PREFIX) || data.length > 512) return undefined;
    try {
      value = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  if (value === null || typeof value !== "object" || !Object.hasOwn(value, DELIVERY_TAG)) return undefined;
  const ack = value as Record<string, unknown>;
  if (ack[DELIVERY_TAG] !== "ack" || typeof ack.sid !== "string") return undefined;
  return Number.isSafeInteger(ack.seq) && (ack.seq as number) >= 0 ? (value as DeliveryAck) : undefined;
}

/**
 * At-least-once delivery for one {@link ResilientSocket} (`delivery: atLeastOnce()`); one tracker per socket.
 * Messages must have a JSON form (binary data is refused at `send()` as `unsendable`).
 */
export function atLeastOnce(options: AtLeastOnceOptions = {}): DeliveryTracker {
  const where = "atLeastOnce";
  rejectUnknown(where, objectOption(where, "options", options), ["sessionId", "maxUnacked"]);
  const sid = options.sessionId ?? newId();
  if (typeof sid !== "string" || sid.length === 0 || sid.length > 128)
    badOption(where, "sessionId", "a string of 1-128 characters", sid, typeof sid === "string");
  const maxUnacked = numberOption(where, "maxUnacked", options.maxUnacked, 1000, { min: 1, integer: true });
  /** The highest sequence number stamped so far. */
  let seq = 0;
  let unacked: QueueEntry[] = [];
  return {
    wrap(data) {
      if (isBinary(data)) throw new TypeError("at-least-once delivery sends JSON envelopes; got binary data");
      seq++;
      const message: DeliveryMessage = { $rr: "msg", sid, seq, data };
      return { id: seq, message };
    },
    sent(entry) {
      unacked.push(entry);
      return unacked.length > maxUnacked ? unacked.shift() : undefined;
    },
    unsent(entry) {
      const at = unacked.lastIndexOf(entry);
      if (at >= 0) unacked.splice(at, 1);
    },
    inbound(data) {
      if (!taggedAck(data)) return false;
      const ack = readAck(data);
      if (ack === undefined) return "delivery: malformed acknowledgement ignored";
      if (ack.sid !== sid) return true;
      // Only a server that saw another socket's messages under this id can acknowledge more than was sent;
      // taking it as an ack would forget messages the server never processed.
      if (ack.seq > seq) {
        return `delivery: acknowledgement of message ${ack.seq} when ${seq} were sent; ignored (is sessionId ${describe(sid)} used by another socket?)`;
      }
      unacked = unacked.filter((entry) => (entry.id ?? 0) > ack.seq);
      return true;
    },
    requeue(queue, reason) {
      const taken = unacked;
      unacked = [];
      if (queue === undefined) return taken.map(({ data }) => ({ data, reason }));
      const { maxMessages, maxBytes, overflow } = queue.options;
      const dropped: Dropped[] = [];
      const fit = (entry: QueueEntry) =>
        entry.bytes <= maxBytes || !dropped.push({ data: entry.data, reason: "too-large" });
      queue.prepend(taken.filter(fit));
      while (queue.size > maxMessages || queue.bytes > maxBytes) {
        const out = overflow === "drop-newest" ? queue.pop() : queue.shift();
        if (out === undefined) break;
        dropped.push({ data: out.data, reason: "overflow" });
      }
      return dropped;
    },
    get unacked() {
      return unacked.length;
    },
  };
}
