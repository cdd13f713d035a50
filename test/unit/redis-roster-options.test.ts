import { describe, expect, it } from "vitest";
import { redisRosterStore } from "../../src/server/redis/index.js";

/** Enough of an ioredis client to pass the client check; every case below throws before it is used. */
const redis = { duplicate() {}, defineCommand() {} } as never;

describe("redisRosterStore options", () => {
  it("names the redis option when it is not an ioredis client", () => {
    expect(() => redisRosterStore({ redis: {} as never })).toThrow(
      /redisRosterStore: redis must be an ioredis client/,
    );
    expect(() => redisRosterStore(undefined as never)).toThrow(TypeError);
  });

  it.each([
    ["prefix", ""],
    ["prefix", "has space"],
    ["nodeId", ""],
    ["nodeId", "x".repeat(65)],
    ["nodeId", 42],
  ])("refuses %s = %j with a TypeError naming it", (name, value) => {
    expect(() => redisRosterStore({ redis, [name]: value })).toThrow(
      new RegExp(`redisRosterStore: ${name} must`),
    );
  });

  it.each([
    ["heartbeatMs", 0],
    ["heartbeatMs", 1.5],
    ["ownershipTtlMs", -1],
    ["graceMs", -5],
    ["graceMs", Number.NaN],
    ["maxLogEntries", -1],
    ["maxMembersPerSpace", 0],
    ["maxStateBytes", 1],
    ["keyTtlMs", 10],
    ["reapBatch", 0],
    ["commandTimeoutMs", Number.POSITIVE_INFINITY],
  ])("refuses %s = %s with a RangeError naming it", (name, value) => {
    expect(() => redisRosterStore({ redis, [name]: value })).toThrow(RangeError);
    expect(() => redisRosterStore({ redis, [name]: value })).toThrow(
      new RegExp(`redisRosterStore: ${name} must`),
    );
  });

  it("refuses an ownership TTL not above the heartbeat (the node would expire between its own beats)", () => {
    expect(() => redisRosterStore({ redis, heartbeatMs: 1_000, ownershipTtlMs: 1_000 })).toThrow(
      /ownershipTtlMs must be above heartbeatMs \(1000\)/,
    );
  });

  it("refuses an unknown option by name, and a clock or random of the wrong type", () => {
    expect(() => redisRosterStore({ redis, graceMS: 5 } as never)).toThrow(/unknown option "graceMS"/);
    expect(() => redisRosterStore({ redis, clock: {} as never })).toThrow(/clock must have/);
    expect(() => redisRosterStore({ redis, random: 1 as never })).toThrow(/random must be a function/);
  });
});
