import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

describe("the test setup's redis-server", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it("answers on its loopback port and comes back empty after a restart", async () => {
    const client = new Redis(redis.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      await client.set("k", "v");
      expect(await client.get("k")).toBe("v");
      await redis.restart();
      // ioredis reconnects to the same port; the restarted Redis kept nothing (no persistence).
      await expect(client.get("k")).resolves.toBeNull();
    } finally {
      client.disconnect();
    }
  });
});
