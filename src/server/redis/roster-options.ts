/** Options of {@link redisRosterStore}, their defaults, and the one place they are checked. */

import { describe } from "../../describe.js";
import { type Clock, type Random, systemClock, systemRandom } from "../../env.js";
import { numberOption, rejectUnknown } from "../../options-check.js";
import { HUB_LIMITS } from "../../protocol/presence/messages.js";
import { checkRedisClient, checkRedisPrefix, type RedisClient } from "./client.js";

/** Options of {@link redisRosterStore}. */
export interface RedisRosterStoreOptions {
  /** The application's ioredis client; the store makes one more connection from it (`duplicate()`) to listen. */
  redis: RedisClient;
  /** Prefix of every key and of the channel. Default `rr:`. */
  prefix?: string;
  /**
   * This node's id: owner of the members whose connections are here. Unique per running process (a restarted
   * process is a new node). Default: random. 1 to 64 characters, no spaces or control characters.
   */
  nodeId?: string;
  /** How often the node renews its ownership and reaps dead nodes (ms). Default 2 000. */
  heartbeatMs?: number;
  /**
   * How long the node's ownership holds after its last heartbeat (ms); must exceed `heartbeatMs`. A node
   * killed without a goodbye has its members leave everywhere `ownershipTtlMs` + the grace period after its
   * last heartbeat. Default 3 × `heartbeatMs`.
   */
  ownershipTtlMs?: number;
  /**
   * The grace period a dead node's members get after its ownership expired (ms). Default: the hub's
   * `graceMs` (the hub passes it when it starts watching), else 30 000.
   */
  graceMs?: number;
  /** Changes kept per space for catch-up diffs. Default 256 (as the in-memory store). */
  maxLogEntries?: number;
  /** Members per space; a sync past it is refused with `space-full`. Default 20 000 (the hub's `maxSeats`). */
  maxMembersPerSpace?: number;
  /** Bytes of one member's state (JSON); a sync or update past it is refused with `state-too-large`. Default 65 536. */
  maxStateBytes?: number;
  /**
   * Every key of a space expires this long after its last change or its owners' last refresh (ms), so a
   * whole cluster gone leaves nothing behind for ever. Default 86 400 000 (a day); at least 4 × `heartbeatMs`.
   */
  keyTtlMs?: number;
  /** Most members one reap call removes (a dead node's members leave in calls of this size). Default 512. */
  reapBatch?: number;
  /** A Redis call not answered within this long (ms) fails (the hub keeps serving what it has). Default 2 000. */
  commandTimeoutMs?: number;
  /** Timers (heartbeat, command timeouts). Default: the system clock. */
  clock?: Clock;
  /** Randomness for node ids and epochs. Default `Math.random`. */
  random?: Random;
}

/** Defaults of {@link RedisRosterStoreOptions}. */
export const REDIS_ROSTER_DEFAULTS = {
  /** Ownership renewal and reap, per node (ms). */
  heartbeatMs: 2_000,
  /** A dead node's members' grace period when the hub passes none (ms). */
  graceMs: 30_000,
  /** Changes kept per space. */
  maxLogEntries: 256,
  /** Members per space (the hub's `maxSeats`). */
  maxMembersPerSpace: 20_000,
  /** Bytes of one member's state JSON (the hub's message limit). */
  maxStateBytes: HUB_LIMITS.maxMessageBytes,
  /** Lifetime of a space's keys after the last write or refresh (ms): a day. */
  keyTtlMs: 86_400_000,
  /** Members one reap call removes at most. */
  reapBatch: 512,
  /** A Redis call not answered within this long fails (ms). */
  commandTimeoutMs: 2_000,
} as const;

export interface ResolvedRosterOptions {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly nodeId: string;
  readonly heartbeatMs: number;
  readonly ownershipTtlMs: number;
  readonly graceMs: number | undefined;
  readonly maxLogEntries: number;
  readonly maxMembersPerSpace: number;
  readonly maxStateBytes: number;
  readonly keyTtlMs: number;
  readonly reapBatch: number;
  readonly commandTimeoutMs: number;
  readonly clock: Clock;
  readonly random: Random;
}

const KNOWN = [
  "redis",
  "prefix",
  "nodeId",
  "heartbeatMs",
  "ownershipTtlMs",
  "graceMs",
  "maxLogEntries",
  "maxMembersPerSpace",
  "maxStateBytes",
  "keyTtlMs",
  "reapBatch",
  "commandTimeoutMs",
  "clock",
  "random",
];

/** An integer option from `min` to 2^31, through the one option check. */
function integer(name: string, value: unknown, fallback: number, min: number): number {
  return numberOption("redisRosterStore", name, value, fallback, { min, max: 2 ** 31, integer: true });
}

/**
 * Normalises the options.
 * @throws TypeError naming `redis`, `prefix`, `nodeId`, `clock`, `random` or an unknown option; RangeError
 * naming a number option out of range (or `ownershipTtlMs` not above `heartbeatMs`).
 */
export function resolveRosterOptions(options: RedisRosterStoreOptions): ResolvedRosterOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`redisRosterStore: options must be an object; got ${describe(options)}`);
  }
  rejectUnknown("redisRosterStore", options, KNOWN);
  const redis = checkRedisClient("redisRosterStore: redis", options.redis);
  const prefix = checkRedisPrefix("redisRosterStore: prefix", options.prefix);
  const clock = options.clock ?? systemClock;
  if (typeof clock?.setTimeout !== "function" || typeof clock.clearTimeout !== "function") {
    throw new TypeError("redisRosterStore: clock must have now(), setTimeout() and clearTimeout()");
  }
  const random = options.random ?? systemRandom;
  if (typeof random !== "function") throw new TypeError("redisRosterStore: random must be a function");
  const nodeId =
    options.nodeId === undefined
      ? `n-${Math.floor(random() * 2 ** 48).toString(36)}`
      : checkRedisPrefix("redisRosterStore: nodeId", options.nodeId);
  const d = REDIS_ROSTER_DEFAULTS;
  const heartbeatMs = integer("heartbeatMs", options.heartbeatMs, d.heartbeatMs, 10);
  const ownershipTtlMs = integer("ownershipTtlMs", options.ownershipTtlMs, 3 * heartbeatMs, 1);
  if (ownershipTtlMs <= heartbeatMs) {
    throw new RangeError(
      `redisRosterStore: ownershipTtlMs must be above heartbeatMs (${heartbeatMs}); got ${ownershipTtlMs}`,
    );
  }
  const keyTtlMs = integer(
    "keyTtlMs",
    options.keyTtlMs,
    Math.max(d.keyTtlMs, 4 * heartbeatMs),
    4 * heartbeatMs,
  );
  return {
    redis,
    prefix,
    nodeId,
    heartbeatMs,
    ownershipTtlMs,
    graceMs: options.graceMs === undefined ? undefined : integer("graceMs", options.graceMs, 0, 0),
    maxLogEntries: integer("maxLogEntries", options.maxLogEntries, d.maxLogEntries, 0),
    maxMembersPerSpace: integer("maxMembersPerSpace", options.maxMembersPerSpace, d.maxMembersPerSpace, 1),
    maxStateBytes: integer("maxStateBytes", options.maxStateBytes, d.maxStateBytes, 2),
    keyTtlMs,
    reapBatch: integer("reapBatch", options.reapBatch, d.reapBatch, 1),
    commandTimeoutMs: integer("commandTimeoutMs", options.commandTimeoutMs, d.commandTimeoutMs, 1),
    clock,
    random,
  };
}
