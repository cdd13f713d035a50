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
import { type Random, systemRandom } from "../env.js";
import type { QueueEntry } from "./queue.js";

/** Marks a delivery envelope (`"$rr"` is short for resilient-reconnect). */
export const DELIVERY_TAG = "$rr";

/** A message as it travels from client to server: `{"$rr":"msg","sid":…,"seq":…,"data":…}`. */
export interface DeliveryMessage {
  readonly $rr: "msg";
  /** The sending socket's session id (1–128 characters), the same for its whole life. */
  readonly sid: string;
  /** 1, 2, 3, … in send order, per session. */
  readonly seq: number;
  /** What the app passed to `send()`. */
  readonly data: unknown;
}

/** The server's acknowledgement: every message of session `sid` up to and including `seq` was processed. */
export interface DeliveryAck {
  readonly $rr: "ack";
  readonly sid: string;
  readonly seq: number;
}

/** What the socket's outbound path needs from at-least-once delivery. Implemented by {@link atLeastOnce}. */
export interface DeliveryTracker {
  /** Stamps an app message with the next id; returns the id and the envelope to send. Throws when the data
   * cannot travel in an envelope (binary). */
  wrap(data: unknown): { readonly id: number; readonly message: unknown };
  /** A stamped message went out on the wire: keep it until acknowledged. Returns an entry it had to forget
   * to stay within its bound (reported as dropped, `overflow`), if any. */
  sent(entry: QueueEntry): QueueEntry | undefined;
  /** Consumes an acknowledgement (returns true) or lets an app message through (false). */
  inbound(data: unknown): boolean;
  /** The connection ended: hands back everything unacknowledged, oldest first, to be sent again. */
  takeUnacked(): QueueEntry[];
}

export interface AtLeastOnceOptions {
  /** Identifies this client's stream of messages to the server. Default: 20 random base-36 characters. */
  sessionId?: string;
  /** Most messages kept waiting for an acknowledgement. Default 1000. */
  maxUnacked?: number;
  /** Draws for the default session id. Default `Math.random`. */
  random?: Random;
}

function isBinary(data: unknown): boolean {
  return (
    data instanceof ArrayBuffer ||
    ArrayBuffer.isView(data) ||
    (typeof Blob !== "undefined" && data instanceof Blob)
  );
}

/** Reads an acknowledgement out of a string (WebSocket text) or an object (Socket.IO); else undefined. */
export function readAck(data: unknown): DeliveryAck | undefined {
  let value = data;
  if (typeof data === "string") {
    if (!data.startsWith(`{"${DELIVERY_TAG}":"ack"`) || data.length > 512) return undefined;
    try {
      value = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  if (value === null || typeof value !== "object" || !Object.hasOwn(value, DELIVERY_TAG)) return undefined;
  const ack = value as Record<string, unknown>;
  if (ack[DELIVERY_TAG] !== "ack" || typeof ack.sid !== "string") return undefined;
  return Number.isSafeInteger(ack.seq) ? (value as DeliveryAck) : undefined;
}

/**
 * At-least-once delivery for one {@link ResilientSocket} (`delivery: atLeastOnce()`); one tracker per socket.
 * Messages must have a JSON form (binary data is refused at `send()` as `unsendable`).
 */
export function atLeastOnce(options: AtLeastOnceOptions = {}): DeliveryTracker {
  const random = options.random ?? systemRandom;
  let sid = options.sessionId;
  if (sid === undefined) {
    sid = "";
    while (sid.length < 20) sid += Math.floor(random() * 36).toString(36);
  }
  if (typeof sid !== "string" || sid.length === 0 || sid.length > 128) {
    throw new RangeError(`atLeastOnce: sessionId must be a string of 1-128 characters; got ${describe(sid)}`);
  }
  const maxUnacked = options.maxUnacked ?? 1000;
  if (!Number.isInteger(maxUnacked) || maxUnacked < 1) {
    throw new RangeError(`atLeastOnce: maxUnacked must be an integer >= 1; got ${describe(maxUnacked)}`);
  }
  const sessionId = sid;
  let seq = 0;
  let unacked: QueueEntry[] = [];
  return {
    wrap(data) {
      if (isBinary(data)) throw new TypeError("at-least-once delivery sends JSON envelopes; got binary data");
      const message: DeliveryMessage = { $rr: "msg", sid: sessionId, seq: seq + 1, data };
      seq++;
      return { id: seq, message };
    },
    sent(entry) {
      unacked.push(entry);
      return unacked.length > maxUnacked ? unacked.shift() : undefined;
    },
    inbound(data) {
      const ack = readAck(data);
      if (ack === undefined) return false;
      if (ack.sid === sessionId) unacked = unacked.filter((entry) => (entry.id ?? 0) > ack.seq);
      return true;
    },
    takeUnacked() {
      const taken = unacked;
      unacked = [];
      return taken;
    },
  };
}
