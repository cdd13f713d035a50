/**
 * Hostile input against the Redis stores, on a real redis-server, with measured bounds: admission keys of
 * any length and characters become fixed-length digests; a flood of distinct keys keeps at most `maxKeys`
 * records, each with a TTL; a client's session id cannot name another owner's session; one owner's flood of
 * sessions keeps at most `maxSessionsPerOwner` of its own and never pushes out another owner's.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deduplicator } from "../../src/server/index.js";
import { redisAdmission, redisDedupeStore } from "../../src/server/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

let server: RedisServer;
let redis: Redis;
let run = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found;
}

async function bytesUnder(prefix: string): Promise<number> {
  let total = 0;
  for (const key of await keysUnder(prefix)) total += Number(await redis.memory("USAGE", key));
  return total;
}

const envelope = (sid: string, seq: number) => JSON.stringify({ $rr: "msg", sid, seq, data: seq });

describe("admission keys from clients", () => {
  it("become 40-digit digests in Redis whatever their length or characters, and none names the shared state", async () => {
    const prefix = `hostile${run++}:`;
    const schedule = redisAdmission({
      redis,
      prefix,
      ratePerSecond: 5,
      burst: 1,
      nodes: 1,
      commandTimeoutMs: 5_000,
    });
    const hostile = [
      "\u0000\r\n*?[]{}",
      "\u{1F4A5}".repeat(128),
      `${prefix}adm:s`,
      "adm:s",
      "x".repeat(256),
      "y".repeat(10_000),
      "",
    ];
    for (const key of hostile) await schedule.decide(key);
    for (const key of hostile) await schedule.decide(key);
    expect(schedule.stats.local).toBe(0);
    for (const name of await keysUnder(prefix)) {
      expect(name).toMatch(new RegExp(`^${prefix}adm:(s|k|o|k:[0-9a-f]{40})$`));
    }
    // The shared bucket was not overwritten by a key named like it: its fields are the script's own.
    expect(Object.keys(await redis.hgetall(`${prefix}adm:s`)).sort()).toEqual(["at", "next", "tokens"]);
  });

  it("keeps at most maxKeys records, each expiring, under a flood of 3,000 distinct keys", async () => {
    const prefix = `flood${run++}:`;
    const maxKeys = 100;
    const schedule = redisAdmission({ redis, prefix, ratePerSecond: 50, maxKeys, nodes: 1 });
    for (let i = 0; i < 3_000; i++) await schedule.decide(`attacker-${i}`);
    const names = await keysUnder(prefix);
    const records = names.filter((name) => name.startsWith(`${prefix}adm:k:`));
    expect(records.length).toBeLessThanOrEqual(maxKeys);
    expect(await redis.zcard(`${prefix}adm:k`)).toBeLessThanOrEqual(maxKeys);
    expect(names.length).toBeLessThanOrEqual(maxKeys + 3);
    // Every key expires: none outlives the horizon (60 s) plus the longest hint (600 s) and a second. (-2: it
    // expired since the scan; 0: it expires this millisecond; -1 would be a key without a TTL.)
    for (const name of names) {
      const ttl = await redis.pttl(name);
      expect(ttl === -2 || ttl >= 0).toBe(true);
      expect(ttl).toBeLessThanOrEqual(60_000 * 1.5 + 600_000 + 1_000);
    }
    const bytes = await bytesUnder(prefix);
    console.log(
      `admission flood: ${names.length} keys, ${bytes} bytes in Redis (${Math.round(bytes / names.length)} per key)`,
    );
    expect(bytes).toBeLessThan((maxKeys + 3) * 400);
  });
});

describe("dedupe sessions from clients", () => {
  it("cannot reach another owner's session, whatever sid a client chooses", async () => {
    const prefix = `collide${run++}:`;
    const dedupe = new Deduplicator({ store: redisDedupeStore({ redis, prefix, ttlMs: 60_000 }) });
    const bob = dedupe.connection("bob");
    for (let seq = 1; seq <= 5; seq++)
      expect((await bob.receive(envelope("s", seq), () => {})).status).toBe("processed");
    // Mallory tries sids that would spell bob's key if keys were joined naively, and bob's own sid.
    const mallory = dedupe.connection("mallory");
    for (const sid of ["s", "3:bob:s", "bob:s", ":bob:s", "\u0000s"]) {
      expect((await mallory.receive(envelope(sid, 1), () => {})).status).toBe("processed");
    }
    // And an owner whose name embeds the separator cannot either.
    const tricky = dedupe.connection("3:bob");
    expect((await tricky.receive(envelope("s", 1), () => {})).status).toBe("processed");
    expect((await bob.receive(envelope("s", 5), () => {})).status).toBe("duplicate");
    expect((await bob.receive(envelope("s", 6), () => {})).status).toBe("processed");
    for (const name of await keysUnder(prefix))
      expect(name).toMatch(new RegExp(`^${prefix}(dd|ddo):[-\\w]{1,43}$`));
  });

  it("keeps at most maxSessionsPerOwner of a flooding owner's sessions and none of another owner's lost", async () => {
    const prefix = `sessions${run++}:`;
    const ttlMs = 60_000;
    const store = redisDedupeStore({ redis, prefix, ttlMs, maxSessionsPerOwner: 50 });
    const dedupe = new Deduplicator({ store });
    const alice = dedupe.connection("alice");
    expect((await alice.receive(envelope("mine", 1), () => {})).status).toBe("processed");
    const mallory = dedupe.connection("x".repeat(10_000));
    for (let i = 0; i < 2_000; i++) await mallory.receive(envelope(`flood-${i}`, 1), () => {});
    const names = await keysUnder(prefix);
    const sessions = names.filter((name) => name.startsWith(`${prefix}dd:`));
    // 50 of mallory's, 1 of alice's; plus one set per owner.
    expect(sessions.length).toBe(51);
    expect(names.length).toBe(53);
    expect((await alice.receive(envelope("mine", 1), () => {})).status).toBe("duplicate");
    for (const name of names) {
      const ttl = await redis.pttl(name);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(ttlMs);
    }
    const bytes = await bytesUnder(prefix);
    console.log(
      `dedupe flood: ${names.length} keys, ${bytes} bytes in Redis (${Math.round(bytes / sessions.length)} per session)`,
    );
    expect(bytes).toBeLessThan(names.length * 400);
  });
});

describe("misconfiguration", () => {
  it("throws an error naming the option for each bad option of the Redis stores", () => {
    const ok = { redis, ratePerSecond: 10, nodes: 2 };
    expect(() => redisAdmission({ ...ok, redis: {} as Redis })).toThrow(
      /redisAdmission: redis must be an ioredis client/,
    );
    expect(() => redisAdmission({ ...ok, nodes: 0 })).toThrow(/nodes must be an integer >= 1/);
    expect(() => redisAdmission({ ...ok, nodes: undefined as unknown as number })).toThrow(RangeError);
    expect(() => redisAdmission({ ...ok, ratePerSecond: -1 })).toThrow(/ratePerSecond/);
    expect(() => redisAdmission({ ...ok, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
    expect(() => redisAdmission({ ...ok, prefix: "has space" })).toThrow(/prefix/);
    expect(() => redisDedupeStore({ redis, ttlMs: 0 })).toThrow(/ttlMs must be an integer >= 1/);
    expect(() => redisDedupeStore({ redis, ttlMs: 1_000, leaseMs: 1.5 })).toThrow(/leaseMs/);
    expect(() => redisDedupeStore({ redis, ttlMs: 1_000, maxSessionsPerOwner: 0 })).toThrow(
      /maxSessionsPerOwner/,
    );
    // Unknown keys, in the one wording of every other option check.
    expect(() => redisAdmission({ ...ok, ratePerSecnd: 5 } as never)).toThrow(
      'redisAdmission: unknown option "ratePerSecnd" (did you mean "ratePerSecond"?)',
    );
    expect(() => redisDedupeStore({ redis, ttlMs: 1_000, ttl: 5 } as never)).toThrow(
      /^redisDedupeStore: unknown option "ttl"/,
    );
  });

  it("refuses a cost over the burst before asking Redis", async () => {
    const schedule = redisAdmission({
      redis,
      ratePerSecond: 10,
      burst: 2,
      nodes: 1,
      prefix: `cost${run++}:`,
    });
    await expect(schedule.decide("k", 3)).rejects.toThrow(/cost must be a number > 0 and <= burst \(2\)/);
    expect(schedule.stats.shared + schedule.stats.local).toBe(0);
  });
});
