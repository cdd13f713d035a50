/**
 * The server half of at-least-once delivery (client: `atLeastOnce()`): reads each envelope
 * `{"$rr":"msg","sid","seq","data"}`, runs the app's effect once per (sid, seq), records the sequence number
 * only after the effect succeeded, and answers with a cumulative acknowledgement `{"$rr":"ack","sid","seq"}`.
 * A message the client sends again (its connection broke before the ack arrived) is acknowledged again and
 * not processed again: an exactly-once *effect* over an at-least-once wire.
 *
 * Exactly-once holds as far as the store is durable and atomic with the effect: with the default in-memory
 * store it survives reconnects, not a restart of this process; put the store next to the effect's data
 * (the same database transaction) to survive restarts. Messages of one session are processed in order,
 * one at a time.
 * @see https://www.rfc-editor.org/rfc/rfc9000#section-13.2 (cumulative acknowledgement)
 */
import { DELIVERY_TAG, type DeliveryAck } from "../client/delivery.js";

/** Where the highest processed sequence number of each session is kept. May be async (a database). */
export interface DedupeStore {
  get(sessionId: string): number | undefined | Promise<number | undefined>;
  set(sessionId: string, seq: number): void | Promise<void>;
}

/** What {@link Deduplicator.receive} did with one inbound message. */
export type DedupeResult =
  /** A new message: the effect ran; send `ack` back. */
  | { readonly status: "processed"; readonly data: unknown; readonly ack: DeliveryAck }
  /** Seen before: the effect did not run again; send `ack` back (the first ack may have been lost). */
  | { readonly status: "duplicate"; readonly ack: DeliveryAck }
  /** Not an envelope at all (a client without at-least-once delivery): handle `data` yourself. */
  | { readonly status: "plain"; readonly data: unknown }
  /** An envelope with a bad session id or sequence number: ignored. */
  | { readonly status: "invalid"; readonly problem: string }
  /** The effect threw (or an earlier message of the session did): nothing recorded, no ack. Close the
   * connection: the client sends everything unacknowledged again on its next one. */
  | { readonly status: "failed"; readonly error: unknown };

export interface DeduplicatorOptions {
  /** Default: an in-memory store of at most `maxSessions` sessions (least recently used forgotten first). */
  store?: DedupeStore;
  /** Sessions the default store remembers. Default 100,000. */
  maxSessions?: number;
}

/** Longest session id accepted. */
const MAX_SESSION_ID = 128;

/** An in-memory {@link DedupeStore} remembering at most `maxSessions` sessions, least recently used out first. */
export function memoryDedupeStore(maxSessions = 100_000): DedupeStore {
  if (!Number.isInteger(maxSessions) || maxSessions < 1) {
    throw new RangeError(`maxSessions must be an integer >= 1; got ${String(maxSessions)}`);
  }
  const seen = new Map<string, number>();
  return {
    get: (sessionId) => seen.get(sessionId),
    set(sessionId, seq) {
      seen.delete(sessionId);
      seen.set(sessionId, seq);
      if (seen.size > maxSessions) seen.delete(seen.keys().next().value as string);
    },
  };
}

/** The acknowledgement of every message of `sid` up to `seq`. `JSON.stringify` it for a WebSocket. */
export function deliveryAck(sid: string, seq: number): DeliveryAck {
  return { [DELIVERY_TAG]: "ack", sid, seq } as DeliveryAck;
}

type Envelope = { sid: string; seq: number; data: unknown };

/** Reads an envelope out of WebSocket text (string or Buffer) or a Socket.IO payload (object). */
function readEnvelope(raw: unknown): Envelope | { problem: string } | undefined {
  let value = raw;
  if (typeof raw === "string" || raw instanceof Uint8Array) {
    const text = String(raw);
    if (!text.startsWith(`{"${DELIVERY_TAG}":"msg"`)) return undefined;
    try {
      value = JSON.parse(text);
    } catch {
      return { problem: "envelope is not valid JSON" };
    }
  }
  if (value === null || typeof value !== "object" || !Object.hasOwn(value, DELIVERY_TAG)) return undefined;
  const record = value as Record<string, unknown>;
  if (record[DELIVERY_TAG] !== "msg") return undefined;
  const { sid, seq } = record;
  if (typeof sid !== "string" || sid.length === 0 || sid.length > MAX_SESSION_ID) {
    return { problem: `sid must be a string of 1-${MAX_SESSION_ID} characters` };
  }
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
    return { problem: "seq must be a safe integer >= 1" };
  }
  return { sid, seq, data: Object.hasOwn(record, "data") ? record.data : undefined };
}

export class Deduplicator {
  private readonly store: DedupeStore;
  /** The tail of each session's chain of pending messages (so one session is processed in order). */
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Sessions whose message at this seq failed (see `process`). */
  private readonly failed = new Map<string, number>();

  constructor(options: DeduplicatorOptions = {}) {
    this.store = options.store ?? memoryDedupeStore(options.maxSessions);
  }

  /**
   * Reads one inbound message and runs `effect` for it unless it was processed before. Resolve, then send
   * `result.ack` (when present) back to the client: `ws.send(JSON.stringify(result.ack))` or
   * `socket.emit("message", result.ack)`.
   */
  receive(
    raw: unknown,
    effect: (data: unknown, id: { sid: string; seq: number }) => unknown,
  ): Promise<DedupeResult> {
    const envelope = readEnvelope(raw);
    if (envelope === undefined) return Promise.resolve({ status: "plain", data: raw });
    if ("problem" in envelope) return Promise.resolve({ status: "invalid", problem: envelope.problem });
    const { sid } = envelope;
    const previous = this.chains.get(sid) ?? Promise.resolve();
    const result = previous.then(() => this.process(envelope, effect));
    this.chains.set(sid, result);
    void result.then(() => {
      if (this.chains.get(sid) === result) this.chains.delete(sid);
    });
    return result;
  }

  private async process(
    { sid, seq, data }: Envelope,
    effect: (data: unknown, id: { sid: string; seq: number }) => unknown,
  ): Promise<DedupeResult> {
    // Acks are cumulative: after a failure, nothing later in the session may be acknowledged (it would
    // acknowledge the failed one too) until the failed message comes again.
    const blocked = this.failed.get(sid);
    if (blocked !== undefined && seq > blocked) {
      return { status: "failed", error: new Error(`message ${blocked} of this session failed first`) };
    }
    try {
      const last = (await this.store.get(sid)) ?? 0;
      // A gap (seq > last + 1) is accepted: the client reported the messages in it as dropped.
      if (seq <= last) return { status: "duplicate", ack: deliveryAck(sid, last) };
      await effect(data, { sid, seq });
      await this.store.set(sid, seq);
      this.failed.delete(sid);
      return { status: "processed", data, ack: deliveryAck(sid, seq) };
    } catch (error) {
      this.failed.set(sid, Math.min(seq, blocked ?? seq));
      return { status: "failed", error };
    }
  }
}
