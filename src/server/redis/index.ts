/**
 * `resilient-reconnect/server/redis` — the server half's state on Redis, shared by every node: presence
 * rosters, the admission schedule and the Deduplicator's store. Needs the `ioredis` package (an optional
 * peer dependency: `npm install ioredis`); the in-memory stores of `resilient-reconnect/server` stay the
 * zero-set-up default for one process.
 */

export {
  admissionKeyDigest,
  type RedisAdmission,
  type RedisAdmissionDecision,
  type RedisAdmissionOptions,
  type RedisAdmissionStats,
  redisAdmission,
} from "./admission.js";
export {
  checkRedisClient,
  checkRedisPrefix,
  DEFAULT_REDIS_PREFIX,
  MAX_REDIS_PREFIX_LENGTH,
  type RedisClient,
} from "./client.js";
export {
  dedupeDigest,
  type RedisDedupeStore,
  type RedisDedupeStoreOptions,
  redisDedupeStore,
} from "./dedupe-store.js";
export {
  REDIS_ROSTER_DEFAULTS,
  type RedisRosterStats,
  RedisRosterStore,
  type RedisRosterStoreOptions,
  redisRosterStore,
} from "./roster.js";
