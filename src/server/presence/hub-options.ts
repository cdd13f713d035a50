/** Options of {@link PresenceHub}, their defaults, and the one place they are checked. */
import { type Clock, type Random, systemClock, systemRandom } from "../../env.js";
import { badOption, functionOption, numberOption, objectOption, rejectUnknown } from "../../options-check.js";
import { HUB_LIMITS, type PresenceLimits, resolveLimits } from "../../protocol/presence/messages.js";
import { type AnySlice, SliceRegistry } from "../../protocol/presence/slices.js";
import { InMemoryRosterStore, type RosterStore } from "./store.js";

/** One client connection as the hub sees it; adapters wrap a `ws` socket or a Socket.IO socket in it. */
export interface PresenceConnection {
  /** Identifies the connection in logs and to `authorize`. */
  readonly id: string;
  /** Sends presence protocol text to this client. May throw when the socket is closing (ignored). */
  send(text: string): void;
  /**
   * Bytes written to this connection and not yet handed to the network (ws `bufferedAmount`; Socket.IO:
   * the engine's write buffer plus its WebSocket's `bufferedAmount`). Without it the hub cannot see a slow
   * reader and trusts that it reads.
   */
  buffered?(): number;
  /**
   * Ends the connection with a close code and reason ({@link PRESENCE_CLOSE}); the hub calls it for a
   * connection it cuts. Without it a cut connection is only unbound from the hub.
   */
  close?(code: number, reason: string): void;
  /**
   * What the adapter knows about who is on the other end: the HTTP upgrade request (`ws`) or the handshake
   * (Socket.IO), for `authorize`. `undefined` for connections made by hand.
   */
  readonly request?: unknown;
}

/** What a client asks for in a sync, for {@link PresenceHubOptions.authorize}. */
export interface SyncRequest {
  /** The space the client wants to join. */
  readonly space: string;
  /** The member id it syncs as. */
  readonly member: string;
}

/**
 * What `authorize` grants: the member id this connection's user owns, and where it may go. A sync for any
 * other member id is refused (`member-not-owned`), one for a space not listed is refused (`unauthorized`).
 */
export interface PresenceGrant {
  /** The one member id the user may sync as. */
  readonly member: string;
  /** The spaces the user may join; omitted = every space. */
  readonly spaces?: readonly string[];
  /** Key of the per-identity limits (`maxSeatsPerIdentity`). Default: `member`. */
  readonly identity?: string;
}

/** Decides a sync: `false` refuses, `true` allows (identity = the connection), a grant allows as its member. */
export type PresenceAuthorize = (
  connection: PresenceConnection,
  request: SyncRequest,
) => boolean | PresenceGrant | undefined;

/** Close codes (and reason prefixes) of connections the hub cuts; 4000–4999 is the application range. */
export const PRESENCE_CLOSE = {
  /** Over the message rate for `cutAfterExcess` messages in a row (mirrors 1008 Policy Violation). */
  flood: 4008,
  /** Did not read what was sent for `maxBehindMs` (mirrors 1009: the server will not buffer more). */
  slow: 4009,
} as const;

/**
 * The hub's limits on what one connection, identity and the whole hub may hold, with their defaults: the
 * value of each {@link PresenceHubOptions} field left out (see there, and docs/security.md for the reasons).
 */
export const HUB_DEFAULTS = {
  /** A dropped member stays in the roster this long (ms) before others see it leave. */
  graceMs: 30_000,
  /** Broadcasts to a space are batched over this long (ms): one diff message per member per batch. */
  batchMs: 50,
  /** Spaces one connection may be in; a sync for one more is refused (`too-many-spaces`). */
  maxSpacesPerConnection: 16,
  /** Bytes unsent past which a connection is sent nothing more, then one snapshot once it drains (64 KiB). */
  highWaterBytes: 64 * 1_024,
  /** A connection behind `highWaterBytes` for longer than this (ms) is cut with close 4009. */
  maxBehindMs: 20_000,
  /** Messages one connection may send per second; past it (and the burst) they are dropped unread. */
  maxMessagesPerSecond: 50,
  /** Size of the per-connection token bucket of `maxMessagesPerSecond`. */
  messageBurst: 100,
  /** Messages dropped in a row for the rate after which the connection is cut with close 4008. */
  cutAfterExcess: 500,
  /** Seats in the hub (live and in grace); past it the longest-away seat leaves, with none away: `hub-full`. */
  maxSeats: 20_000,
  /** Spaces in the hub; past it a space whose members are all away makes room, with none: `hub-full`. */
  maxSpaces: 5_000,
  /** Seats of one identity; past it its longest-away seat leaves, with none away: `too-many-seats`. */
  maxSeatsPerIdentity: 64,
} as const;

/** Options of {@link PresenceHub}; every one has a default. */
export interface PresenceHubOptions {
  /** Where rosters live. Default: a new {@link InMemoryRosterStore}. */
  store?: RosterStore;
  /** Custom slices the hub accepts (the built-ins always are); others are counted and dropped. */
  slices?: readonly AnySlice[];
  /**
   * How long a member whose connection dropped stays in the roster before others see it leave (ms). A
   * member back within it (same member id) is seen by nobody as having left. Default 30 000 — longer than
   * the client's usual backoff cap, so a reconnect storm does not become a presence storm. 0 = leave at once.
   */
  graceMs?: number;
  /** Broadcasts to a space are batched over this long (ms): one diff message per member per batch. Default 50. */
  batchMs?: number;
  /** Most spaces one connection may be in. Default 16. */
  maxSpacesPerConnection?: number;
  /**
   * A connection with more than this many bytes unsent is sent nothing more: it is marked behind and gets
   * one snapshot (the latest state of every member, not every diff it missed) once it drains. Default
   * 65 536. What the hub holds for one connection is at most this plus its largest single message.
   */
  highWaterBytes?: number;
  /** A connection behind (see `highWaterBytes`) for longer than this is cut with close 4009. Default 20 000 ms. */
  maxBehindMs?: number;
  /**
   * Presence messages one connection may send per second (a token bucket of `messageBurst`); messages over
   * it are dropped unread (before parsing). Default 50 — five times the client's default update rate.
   */
  maxMessagesPerSecond?: number;
  /** Size of that bucket. Default 100. */
  messageBurst?: number;
  /** A connection whose messages are dropped this many times in a row is cut with close 4008. Default 500. */
  cutAfterExcess?: number;
  /**
   * Most seats in the hub, live and in their grace period. A new seat past it takes the place of the
   * longest-away seat; with none away the sync is refused (`hub-full`). Default 20 000.
   */
  maxSeats?: number;
  /**
   * Most spaces in the hub. A sync that would create one more drops a space whose members are all away (in
   * their grace period); with none, it is refused (`hub-full`). Default 5 000.
   */
  maxSpaces?: number;
  /**
   * Most seats of one identity (a grant's `identity`, else its member; without `authorize`, a connection),
   * live and in grace. Past it the identity's longest-away seat leaves; with none away: `too-many-seats`.
   * Default 64.
   */
  maxSeatsPerIdentity?: number;
  /** Limits on what clients send. */
  limits?: Partial<PresenceLimits>;
  /**
   * Decides whether `connection` may be `member` in `space`, from `connection.request` (the upgrade request
   * or handshake the adapters pass). Return a {@link PresenceGrant} (member id owned + spaces allowed),
   * `true` (allowed; identity = the connection) or `false` (refused: `{"$presence":"refused",…,"reason":
   * "unauthorized"}`). Default: everyone, and any member id — the hub then trusts clients to name themselves.
   */
  authorize?: PresenceAuthorize;
  /** Timers (grace periods, batches). Default: the system clock. */
  clock?: Clock;
  /** Randomness for the default store's epochs. Default `Math.random`. */
  random?: Random;
}

export interface ResolvedHubOptions {
  readonly store: RosterStore;
  readonly registry: SliceRegistry;
  readonly graceMs: number;
  readonly batchMs: number;
  readonly maxSpacesPerConnection: number;
  readonly highWaterBytes: number;
  readonly maxBehindMs: number;
  readonly maxMessagesPerSecond: number;
  readonly messageBurst: number;
  readonly cutAfterExcess: number;
  readonly maxSeats: number;
  readonly maxSpaces: number;
  readonly maxSeatsPerIdentity: number;
  readonly limits: PresenceLimits;
  readonly authorize: PresenceAuthorize | undefined;
  readonly clock: Clock;
}

const WHERE = "PresenceHub";
const HUB_KEYS = [
  "store",
  "slices",
  "graceMs",
  "batchMs",
  "maxSpacesPerConnection",
  "highWaterBytes",
  "maxBehindMs",
  "maxMessagesPerSecond",
  "messageBurst",
  "cutAfterExcess",
  "maxSeats",
  "maxSpaces",
  "maxSeatsPerIdentity",
  "limits",
  "authorize",
  "clock",
  "random",
];

function nonNegative(name: string, value: unknown, fallback: number): number {
  return numberOption(WHERE, name, value, fallback);
}

function atLeastOne(name: string, value: unknown, fallback: number): number {
  return numberOption(WHERE, name, value, fallback, { min: 1, integer: true });
}

/**
 * Normalises the options.
 * @throws RangeError naming the option (`graceMs`, `batchMs`, `maxSpacesPerConnection`, `highWaterBytes`,
 * `maxBehindMs`, `maxMessagesPerSecond`, `messageBurst`, `cutAfterExcess`, `maxSeats`, `maxSpaces`,
 * `maxSeatsPerIdentity`, `limits.*`); TypeError when `options`, `store`, `slices`, `authorize`, `clock` or
 * `random` has the wrong type.
 */
export function resolveHubOptions(options: PresenceHubOptions = {}): ResolvedHubOptions {
  rejectUnknown(WHERE, objectOption(WHERE, "options", options), HUB_KEYS);
  const clock = options.clock ?? systemClock;
  if (typeof clock?.setTimeout !== "function" || typeof clock.clearTimeout !== "function")
    badOption(WHERE, "clock", "an object with now(), setTimeout() and clearTimeout()", clock);
  const random = functionOption(WHERE, "random", options.random, systemRandom);
  const store = options.store ?? new InMemoryRosterStore({ random });
  if (typeof (store as RosterStore | null)?.apply !== "function")
    badOption(WHERE, "store", "a RosterStore", store);
  functionOption(WHERE, "authorize", options.authorize, undefined);
  const d = HUB_DEFAULTS;
  const rate = numberOption(
    WHERE,
    "maxMessagesPerSecond",
    options.maxMessagesPerSecond,
    d.maxMessagesPerSecond,
    {
      exclusiveMin: true,
    },
  );
  return {
    store,
    registry: new SliceRegistry(options.slices ?? [], undefined, WHERE),
    graceMs: nonNegative("graceMs", options.graceMs, d.graceMs),
    batchMs: nonNegative("batchMs", options.batchMs, d.batchMs),
    maxSpacesPerConnection: atLeastOne(
      "maxSpacesPerConnection",
      options.maxSpacesPerConnection,
      d.maxSpacesPerConnection,
    ),
    highWaterBytes: nonNegative("highWaterBytes", options.highWaterBytes, d.highWaterBytes),
    maxBehindMs: nonNegative("maxBehindMs", options.maxBehindMs, d.maxBehindMs),
    maxMessagesPerSecond: rate,
    messageBurst: atLeastOne("messageBurst", options.messageBurst, d.messageBurst),
    cutAfterExcess: atLeastOne("cutAfterExcess", options.cutAfterExcess, d.cutAfterExcess),
    maxSeats: atLeastOne("maxSeats", options.maxSeats, d.maxSeats),
    maxSpaces: atLeastOne("maxSpaces", options.maxSpaces, d.maxSpaces),
    maxSeatsPerIdentity: atLeastOne(
      "maxSeatsPerIdentity",
      options.maxSeatsPerIdentity,
      d.maxSeatsPerIdentity,
    ),
    limits: resolveLimits(HUB_LIMITS, options.limits, WHERE),
    authorize: options.authorize,
    clock,
  };
}
