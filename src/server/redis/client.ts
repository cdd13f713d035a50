/**
 * What the Redis stores need from their client. The stores take an ioredis `Redis` the application made
 * (its address, TLS, auth and retry settings stay the application's); a store that must listen (pub/sub)
 * makes its own subscriber with `duplicate()` and closes only what it made.
 *
 * ioredis was chosen over node-redis for three reasons that matter here: `defineCommand` runs a Lua script
 * by its SHA and reloads it after a Redis restart (NOSCRIPT) on its own, which every atomic step of the
 * stores relies on; `enableOfflineQueue: false` / `maxRetriesPerRequest` make a command fail at once while
 * Redis is unreachable, which is what lets a node fall back to local decisions instead of queueing them;
 * and it is the client socket.io's Redis adapters document.
 */
import type { Redis } from "ioredis";
import { describe } from "../../describe.js";

/** An ioredis client (`new Redis(...)` from the `ioredis` package, an optional peer dependency). */
export type RedisClient = Redis;

/** Default prefix of every key the stores write: `rr:`. */
export const DEFAULT_REDIS_PREFIX = "rr:";

/** Longest accepted key prefix, in characters. */
export const MAX_REDIS_PREFIX_LENGTH = 64;

/**
 * Checks a `prefix` option: a string of 1 to 64 characters with no whitespace or control characters (keys
 * are built by appending to it; `{` and `}` are allowed for Redis Cluster hash tags).
 * @throws TypeError naming `option` when it is not such a string.
 */
export function checkRedisPrefix(option: string, value: unknown): string {
  if (value === undefined) return DEFAULT_REDIS_PREFIX;
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > MAX_REDIS_PREFIX_LENGTH ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
    /[\s\u0000-\u001f\u007f]/.test(value)
  ) {
    throw new TypeError(
      `${option} must be a string of 1 to ${MAX_REDIS_PREFIX_LENGTH} characters without spaces or control characters; got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks a `redis` option: an object with ioredis's `duplicate`, `defineCommand` and `status`.
 * @throws TypeError naming `option` otherwise.
 */
export function checkRedisClient(option: string, value: unknown): RedisClient {
  const client = value as Partial<RedisClient> | null | undefined;
  if (
    typeof client !== "object" ||
    client === null ||
    typeof client.duplicate !== "function" ||
    typeof client.defineCommand !== "function"
  ) {
    throw new TypeError(
      `${option} must be an ioredis client (new Redis(...) from the "ioredis" package); got ${describe(value)}`,
    );
  }
  return value as RedisClient;
}
