/**
 * The Deduplicator's store shared by every node: {@link redisDedupeStore}. A client whose reconnect lands on
 * another node resends what was not acknowledged; that node finds the session's highest processed sequence
 * number in Redis and answers `duplicate` instead of running the effect again. Two nodes racing on the same
 * message (the old connection still being processed while the new one resends) both ask to claim the
 * session in one atomic script; one wins, the other waits for its commit and answers `duplicate`.
 *
 * Bounds: every session expires `ttlMs` after its last commit (a client away longer than that may see a
 * resend applied again — choose `ttlMs` above the longest offline time whose resends must stay harmless);
 * each owner keeps at most `maxSessionsPerOwner` sessions (the least recently committed forgotten first, in
 * the same script, so never another owner's), and connections without an owner share one such set capped at
 * `maxUnownedSessions`. Redis memory is therefore at most (owners active within `ttlMs`) ×
 * `maxSessionsPerOwner` + `maxUnownedSessions` sessions of about 150 bytes. Keys are SHA-256 digests of the
 * Deduplicator's session key (`<owner length>:<owner>:<sid>`), so a client-chosen sid of any characters is
 * 43 characters in Redis and cannot name another owner's session.
 */

import { createHash, randomUUID } from "node:crypto";
import { describe } from "../../describe.js";
import { badOption, numberOption, rejectUnknown } from "../../options-check.js";
import type { DedupeClaim, DedupeStore } from "../dedupe-store.js";
import { checkRedisClient, checkRedisPrefix, type RedisClient } from "./client.js";
import { DEDUPE_CLAIM_SCRIPT, DEDUPE_COMMIT_SCRIPT, DEDUPE_RELEASE_SCRIPT } from "./dedupe-script.js";

/** Options of {@link redisDedupeStore}. */
export interface RedisDedupeStoreOptions {
  /** The ioredis client (the application's; the store never closes it). */
  redis: RedisClient;
  /** Prefix of every key written. Default `rr:`. Use a hash tag (`{rr}:`) on Redis Cluster. */
  prefix?: string;
  /** How long a session is remembered after its last processed message (ms, an integer ≥ 1). Required. */
  ttlMs: number;
  /** Sessions one owner keeps (an integer ≥ 1). Default 1,000, as the in-memory store. */
  maxSessionsPerOwner?: number;
  /** Sessions of connections without an owner, together (an integer ≥ 1). Default 100,000. */
  maxUnownedSessions?: number;
  /**
   * How long a claim holds while its node runs the effect (ms, an integer ≥ 1). Default 30,000. Past it
   * another node may claim the session (the holder is presumed dead): make it longer than your slowest
   * effect, or a slow effect may run twice.
   */
  leaseMs?: number;
  /** The time the scripts run at instead of Redis's `TIME` (tests only). */
  decideAt?: () => number;
}

/** A Redis-backed {@link DedupeStore} with the atomic claim the Deduplicator uses across nodes. */
export interface RedisDedupeStore extends Required<DedupeStore> {
  get(sessionId: string, owner?: string): Promise<number | undefined>;
  set(sessionId: string, seq: number, owner?: string): Promise<void>;
  claim(sessionId: string, seq: number, owner?: string): Promise<DedupeClaim>;
  commit(sessionId: string, seq: number, token: string, owner?: string): Promise<void>;
  release(sessionId: string, token: string, owner?: string): Promise<void>;
}

type Script = (...args: Array<string | number>) => Promise<unknown>;

const CLAIM = "rrDedupeClaim";
const COMMIT = "rrDedupeCommit";
const RELEASE = "rrDedupeRelease";

/** An integer option >= 1 through the one option check; a missing required one (no fallback) is out of range. */
function integer(name: string, value: unknown, fallback?: number): number {
  if (value === undefined && fallback === undefined)
    badOption("redisDedupeStore", name, "given (an integer >= 1)", value, true);
  return numberOption("redisDedupeStore", name, value, fallback ?? 1, { min: 1, integer: true });
}

/** A fixed-length Redis name for a string of any length and characters: its SHA-256, base64url. */
export function dedupeDigest(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("base64url");
}

/**
 * Creates the store: `new Deduplicator({ store: redisDedupeStore({ redis, ttlMs: 86_400_000 }) })` on every
 * node, with the same `prefix`.
 * @throws RangeError naming `ttlMs`, `maxSessionsPerOwner`, `maxUnownedSessions` or `leaseMs`; TypeError
 * for `redis`, `prefix` or `decideAt`.
 */
export function redisDedupeStore(options: RedisDedupeStoreOptions): RedisDedupeStore {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`redisDedupeStore: options must be an object; got ${describe(options)}`);
  }
  rejectUnknown("redisDedupeStore", options, [
    "redis",
    "prefix",
    "ttlMs",
    "maxSessionsPerOwner",
    "maxUnownedSessions",
    "leaseMs",
    "decideAt",
  ]);
  const redis = checkRedisClient("redisDedupeStore: redis", options.redis);
  const prefix = checkRedisPrefix("redisDedupeStore: prefix", options.prefix);
  const ttlMs = integer("ttlMs", options.ttlMs);
  const perOwner = integer("maxSessionsPerOwner", options.maxSessionsPerOwner, 1_000);
  const unowned = integer("maxUnownedSessions", options.maxUnownedSessions, 100_000);
  const leaseMs = integer("leaseMs", options.leaseMs, 30_000);
  const { decideAt } = options;
  if (decideAt !== undefined && typeof decideAt !== "function") {
    throw new TypeError(
      `redisDedupeStore: decideAt must be a function returning ms; got ${describe(decideAt)}`,
    );
  }
  redis.defineCommand(CLAIM, { numberOfKeys: 2, lua: DEDUPE_CLAIM_SCRIPT });
  redis.defineCommand(COMMIT, { numberOfKeys: 2, lua: DEDUPE_COMMIT_SCRIPT });
  redis.defineCommand(RELEASE, { numberOfKeys: 2, lua: DEDUPE_RELEASE_SCRIPT });
  const commands = redis as unknown as Record<string, Script>;
  const run = (name: string, ...args: Array<string | number>) =>
    (commands[name] as Script).apply(redis, args);
  const sessionsPrefix = `${prefix}dd:`;
  const now = () => (decideAt === undefined ? "" : String(decideAt()));
  // Digests of both: a client's sid is never part of a key name, and an owner string of any length is too.
  const keys = (sessionId: string, owner: string | undefined) => {
    const digest = dedupeDigest(sessionId);
    const ownerSet = owner === undefined ? `${prefix}ddo:-` : `${prefix}ddo:${dedupeDigest(owner)}`;
    return {
      digest,
      session: `${sessionsPrefix}${digest}`,
      ownerSet,
      cap: owner === undefined ? unowned : perOwner,
    };
  };
  const commit = async (sessionId: string, seq: number, token: string, owner?: string) => {
    const k = keys(sessionId, owner);
    await run(
      COMMIT,
      k.session,
      k.ownerSet,
      String(seq),
      token,
      ttlMs,
      k.cap,
      k.digest,
      sessionsPrefix,
      now(),
    );
  };
  return {
    async get(sessionId, owner) {
      const last = await redis.hget(keys(sessionId, owner).session, "last");
      return last === null ? undefined : Number(last);
    },
    // A commit without a claim: recorded unless a higher one is, in the owner's bounded set.
    set: (sessionId, seq, owner) => commit(sessionId, seq, "", owner),
    async claim(sessionId, seq, owner) {
      const k = keys(sessionId, owner);
      const token = randomUUID();
      const reply = (await run(CLAIM, k.session, k.ownerSet, String(seq), token, leaseMs, ttlMs, now())) as [
        string,
        string?,
      ];
      if (reply[0] === "duplicate") return { status: "duplicate", last: Number(reply[1]) };
      if (reply[0] === "busy") return { status: "busy", retryInMs: Number(reply[1]) };
      return { status: "claimed", token };
    },
    commit,
    async release(sessionId, token, owner) {
      const k = keys(sessionId, owner);
      await run(RELEASE, k.session, k.ownerSet, token);
    },
  };
}
