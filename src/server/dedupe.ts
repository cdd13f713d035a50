/**
 * The server half of at-least-once delivery (client: `atLeastOnce()`): reads each envelope
 * `{"$rr":"msg","sid","seq","data"}`, runs the app's effect once per (sid, seq), records the sequence number
 * only after the effect succeeded, and answers with a cumulative acknowledgement `{"$rr":"ack","sid","seq"}`.
 * A message the client sends again (its connection broke before the ack arrived) is acknowledged again and
 * not processed again: an exactly-once *effect* over an at-least-once wire.
 *
 * A failure lives exactly as long as the connection it happened on ({@link Deduplicator.connection}): the
 * client always resends from its oldest unacknowledged message, so on a new connection a first sequence
 * number above the failed one means the client gave that message up (and reported it dropped) — the gap is
 * accepted instead of blocking the session for ever.
 *
 * Exactly-once holds as far as the store is durable and atomic with the effect, and only with one
 * Deduplicator per store — or, across nodes, with a store that claims sessions atomically
 * ({@link DedupeStore.claim}: `redisDedupeStore` of `resilient-reconnect/server/redis`) (README, "At-least-once
 * delivery"). Messages of one session are processed in order, one at a time.
 * @see https://www.rfc-editor.org/rfc/rfc9000#section-13.2 (cumulative acknowledgement)
 */
import { DELIVERY_TAG, type DeliveryAck } from "../client/delivery.js";
import { describe } from "../describe.js";
import { systemClock } from "../env.js";
import { type DedupeStore, memoryDedupeStore } from "./dedupe-store.js";

export {
  type DedupeClaim,
  type DedupeStore,
  type MemoryDedupeStore,
  type MemoryDedupeStoreOptions,
  memoryDedupeStore,
} from "./dedupe-store.js";

/** What {@link DedupeReceiver.receive} did with one inbound message. */
export type DedupeResult =
  /** A new message: the effect ran; send `ack` back. */
  | { readonly status: "processed"; readonly data: unknown; readonly ack: DeliveryAck }
  /** Seen before: the effect did not run again; send `ack` back (the first ack may have been lost). */
  | { readonly status: "duplicate"; readonly ack: DeliveryAck }
  /** Not an envelope at all (a client without at-least-once delivery): handle `data` yourself. */
  | { readonly status: "plain"; readonly data: unknown }
  /** An envelope with a bad session id or sequence number: ignored. */
  | { readonly status: "invalid"; readonly problem: string }
  /** The effect or the store threw, the session or the connection had too much pending (`maxPending`,
   * `maxPendingPerConnection`, `maxPendingBytesPerConnection`), or an earlier message on this connection
   * failed: nothing recorded, no ack. Close the connection: the client sends everything unacknowledged
   * again on its next one. */
  | { readonly status: "failed"; readonly error: unknown };

export interface DeduplicatorOptions {
  /**
   * Default: an in-memory store of at most `maxSessions` sessions, `maxSessionsPerOwner` per owner (least
   * recently used forgotten first, never another owner's while the one asking holds more): {@link memoryDedupeStore}.
   */
  store?: DedupeStore;
  /** Sessions the default store remembers in total. Default 100,000. */
  maxSessions?: number;
  /** Sessions the default store remembers per owner ({@link Deduplicator.connection}). Default 1,000. */
  maxSessionsPerOwner?: number;
  /** Most messages of one session waiting to be processed; beyond it a message is `failed`. Default 1000. */
  maxPending?: number;
  /**
   * Most messages of one connection waiting to be processed, across all its sessions; beyond it a message is
   * `failed`. Default 1000. (A connection may otherwise open thousands of sessions, each within `maxPending`.)
   */
  maxPendingPerConnection?: number;
  /**
   * Most bytes of one connection's messages waiting to be processed (text and binary by their length, an
   * already parsed Socket.IO payload by the length of its JSON); beyond it a message is `failed`. Default
   * 8 MiB.
   */
  maxPendingBytesPerConnection?: number;
  /** Longest envelope read, in bytes (characters for text); a longer one is `invalid`. Default 1 MiB. */
  maxBytes?: number;
}

/** Reads the messages of one connection: {@link Deduplicator.connection}. */
export interface DedupeReceiver {
  /**
   * Reads one inbound message and runs `effect` for it unless it was processed before. Resolve, then send
   * `result.ack` (when present) back to the client: `ws.send(JSON.stringify(result.ack))` or
   * `socket.emit("message", result.ack)`. `effect` gets the message's id too, to record it in its own
   * transaction.
   */
  receive(
    raw: unknown,
    effect: (data: unknown, id: { sid: string; seq: number }) => unknown,
  ): Promise<DedupeResult>;
}

/** Longest session id accepted. */
const MAX_SESSION_ID = 128;

/** The acknowledgement of every message of `sid` up to `seq`. `JSON.stringify` it for a WebSocket. */
export function deliveryAck(sid: string, seq: number): DeliveryAck {
  return { [DELIVERY_TAG]: "ack", sid, seq } as DeliveryAck;
}

/** A read envelope; `bytes` is what it weighs while it waits (see maxPendingBytesPerConnection). */
type Envelope = { sid: string; seq: number; data: unknown; bytes: number };
type Effect = (data: unknown, id: { sid: string; seq: number }) => unknown;

const MiB = 1024 * 1024;

/** Reads an envelope out of WebSocket text (string, Buffer or ArrayBuffer) or a Socket.IO payload (object). */
function readEnvelope(raw: unknown, maxBytes: number): Envelope | { problem: string } | undefined {
  let value = raw;
  let bytes: number | undefined;
  if (typeof raw === "string" || raw instanceof ArrayBuffer || raw instanceof Uint8Array) {
    const binary = typeof raw !== "string";
    // A prefix tells whether it meant to be an envelope; only then is its length worth a problem.
    const head = binary ? new TextDecoder().decode(raw.slice(0, 16)) : raw.slice(0, 16);
    if (!head.startsWith(`{"${DELIVERY_TAG}":"msg"`)) return undefined;
    if ((binary ? raw.byteLength : raw.length) > maxBytes) {
      return { problem: `envelope over ${maxBytes} bytes (maxBytes)` };
    }
    bytes = binary ? raw.byteLength : raw.length;
    const text = binary ? new TextDecoder().decode(raw) : raw;
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
  const data = Object.hasOwn(record, "data") ? record.data : undefined;
  return { sid, seq, data, bytes: bytes ?? jsonLength(data) };
}

/** What a parsed payload weighs while it waits: the length of its JSON (0 when it has none). */
function jsonLength(data: unknown): number {
  try {
    return JSON.stringify(data)?.length ?? 0;
  } catch {
    // Not from the wire (a cycle, a BigInt): weigh it as one message of the largest size.
    return Number.POSITIVE_INFINITY;
  }
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new RangeError(`Deduplicator: ${name} must be an integer >= 1; got ${describe(value)}`);
  }
  return value as number;
}

/** A session's chain of pending messages (so one session is processed in order, across connections too). */
interface Chain {
  tail: Promise<unknown>;
  pending: number;
}

/**
 * De-duplicates the envelopes of every client against one store. Use one instance per store (two instances
 * over a shared store can both apply a message), and one {@link Deduplicator.connection} per connection.
 */
export class Deduplicator {
  private readonly store: DedupeStore;
  private readonly maxPending: number;
  private readonly maxBytes: number;
  private readonly maxPendingPerConnection: number;
  private readonly maxPendingBytes: number;
  private readonly chains = new Map<string, Chain>();

  constructor(options: DeduplicatorOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Deduplicator: options must be an object; got ${describe(options)}`);
    }
    this.store =
      options.store ??
      memoryDedupeStore(options.maxSessions, { maxSessionsPerOwner: options.maxSessionsPerOwner });
    const { claim, commit, release } = this.store;
    if (claim !== undefined && (typeof commit !== "function" || typeof release !== "function")) {
      throw new TypeError(
        "Deduplicator: a store with claim() needs commit() and release() too (option store)",
      );
    }
    this.maxPending = positiveInteger("maxPending", options.maxPending, 1000);
    this.maxBytes = positiveInteger("maxBytes", options.maxBytes, MiB);
    this.maxPendingPerConnection = positiveInteger(
      "maxPendingPerConnection",
      options.maxPendingPerConnection,
      1000,
    );
    this.maxPendingBytes = positiveInteger(
      "maxPendingBytesPerConnection",
      options.maxPendingBytesPerConnection,
      8 * MiB,
    );
  }

  /**
   * A receiver for one connection: call it once per accepted connection and drop it with the connection.
   * Acks are cumulative, so after a `failed` nothing later on that connection is processed (acknowledging it
   * would acknowledge the failed one too); the failure is forgotten with the receiver, and the client's next
   * connection starts again from its oldest unacknowledged message.
   *
   * `owner` is who the connection is authenticated as (a user or tenant id, never read from the message):
   * sessions are then kept under owner and sid (store key `<owner length>:<owner>:<sid>`), so a client that
   * learns another's sid cannot send under it. Without it, sids are trusted as they come.
   */
  connection(owner?: string): DedupeReceiver {
    if (owner !== undefined && typeof owner !== "string") {
      throw new TypeError(`Deduplicator.connection: owner must be a string; got ${describe(owner)}`);
    }
    const keyOf = (sid: string) => (owner === undefined ? sid : `${owner.length}:${owner}:${sid}`);
    let failure: string | undefined;
    let pending = 0;
    let pendingBytes = 0;
    const failed = (error: unknown): DedupeResult => {
      failure ??= `message failed earlier on this connection: ${error instanceof Error ? error.message : describe(error)}`;
      return { status: "failed", error };
    };
    return {
      receive: (raw, effect) => {
        const envelope = readEnvelope(raw, this.maxBytes);
        if (envelope === undefined) return Promise.resolve({ status: "plain", data: raw });
        if ("problem" in envelope) return Promise.resolve({ status: "invalid", problem: envelope.problem });
        const sid = keyOf(envelope.sid);
        const chain = this.chains.get(sid) ?? { tail: Promise.resolve(), pending: 0 };
        const over = this.overPending(chain, pending, pendingBytes, envelope.bytes);
        if (over !== undefined) return Promise.resolve(failed(new Error(over)));
        chain.pending++;
        pending++;
        pendingBytes += envelope.bytes;
        this.chains.set(sid, chain);
        const result = chain.tail.then(async () => {
          if (failure !== undefined) return { status: "failed", error: new Error(failure) } as const;
          const outcome = await this.process(sid, envelope, effect, owner);
          return outcome.status === "failed" ? failed(outcome.error) : outcome;
        });
        chain.tail = result;
        void result.then(() => {
          pending--;
          pendingBytes -= envelope.bytes;
          if (--chain.pending === 0 && this.chains.get(sid) === chain) this.chains.delete(sid);
        });
        return result;
      },
    };
  }

  /** Why one more message (of `bytes`) may not wait on `chain` and its connection, or undefined. */
  private overPending(
    chain: Chain,
    pending: number,
    pendingBytes: number,
    bytes: number,
  ): string | undefined {
    if (chain.pending >= this.maxPending)
      return `over ${this.maxPending} messages of session pending (maxPending)`;
    if (pending >= this.maxPendingPerConnection) {
      return `over ${this.maxPendingPerConnection} messages of connection pending (maxPendingPerConnection)`;
    }
    // One message alone may always wait: maxBytes, not this bound, limits its size.
    if (pending > 0 && pendingBytes + bytes > this.maxPendingBytes) {
      return `over ${this.maxPendingBytes} bytes of connection pending (maxPendingBytesPerConnection)`;
    }
    return undefined;
  }

  private async process(
    key: string,
    { sid, seq, data }: Envelope,
    effect: Effect,
    owner: string | undefined,
  ): Promise<DedupeResult> {
    if (this.store.claim !== undefined) return this.processClaimed(key, { sid, seq, data }, effect, owner);
    try {
      const last = (await this.store.get(key, owner)) ?? 0;
      // A gap (seq > last + 1) is accepted: the client reported the messages in it as dropped.
      if (seq <= last) return { status: "duplicate", ack: deliveryAck(sid, last) };
      await effect(data, { sid, seq });
      await this.store.set(key, seq, owner);
      return { status: "processed", data, ack: deliveryAck(sid, seq) };
    } catch (error) {
      return { status: "failed", error };
    }
  }

  /**
   * The shared-store path: claim, run, commit. While another node holds the session (the same message
   * raced into two nodes, or a reconnect landed elsewhere while the old node still works) this waits for
   * it, asking again after the store's `retryInMs` (at most 250 ms apart), so the loser answers `duplicate`
   * once the winner committed — or claims after the winner's lease ran out (a node that died mid-effect).
   */
  private async processClaimed(
    key: string,
    { sid, seq, data }: Pick<Envelope, "sid" | "seq" | "data">,
    effect: Effect,
    owner: string | undefined,
  ): Promise<DedupeResult> {
    const store = this.store as Required<DedupeStore>;
    let token: string | undefined;
    try {
      for (let tries = 0; ; tries++) {
        const claim = await store.claim(key, seq, owner);
        if (claim.status === "duplicate") return { status: "duplicate", ack: deliveryAck(sid, claim.last) };
        if (claim.status === "claimed") {
          token = claim.token;
          break;
        }
        // From 10 ms, doubling to 250 ms: a raced message is usually committed within one effect's time.
        const waitMs = Math.min(250, 10 * 2 ** Math.min(tries, 5), Math.max(1, claim.retryInMs));
        await new Promise<void>((resolve) => systemClock.setTimeout(resolve, waitMs));
      }
      await effect(data, { sid, seq });
      await store.commit(key, seq, token, owner);
      return { status: "processed", data, ack: deliveryAck(sid, seq) };
    } catch (error) {
      if (token !== undefined) {
        const claimed = token;
        // The release is best effort: if it fails too, the claim ends with its lease.
        await Promise.resolve()
          .then(() => store.release(key, claimed, owner))
          .catch(() => {});
      }
      return { status: "failed", error };
    }
  }
}
