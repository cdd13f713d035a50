/**
 * What presence on Redis costs, measured on a real redis-server: Redis calls per reconnect that lands on
 * another node, per update, and Redis memory per member (the goals of issue 14: <= 5 calls, <= 1 KB).
 * Heartbeats are slowed down here so that only the calls of the work measured are counted.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ResilientSocket } from "../../src/index.js";
import type { AnySlice, Presence } from "../../src/presence/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { type ClusterNode, converge, startCluster } from "./cluster-harness.js";
import { type HubServer, next, presenceClient, until } from "./presence-harness.js";

type Client = { socket: ResilientSocket; presence: Presence<readonly AnySlice[]> };

let redis: RedisServer;
let nodes: ClusterNode[] = [];
const clients: Client[] = [];
const slowBeat = { heartbeatMs: 60_000, ownershipTtlMs: 120_000 };

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(({ socket }) => socket.close()));
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
});

const calls = () => nodes.reduce((sum, node) => sum + node.store.stats().calls, 0);

describe("the cost of presence on Redis", () => {
  it("takes 3 Redis calls for a reconnect that lands on another node, and 1 per batched update", async () => {
    nodes = await startCluster(redis.port, 3, "ws", slowBeat);
    const [a, b, c] = nodes;
    if (a === undefined || b === undefined || c === undefined) throw new Error("nodes");
    let target = a;
    const server = {
      kind: "ws",
      get url() {
        return target.server.url;
      },
    } as unknown as HubServer;
    const mover = presenceClient(server, "mover");
    const watcher = c.client("watcher");
    clients.push(mover, watcher);
    await converge([mover, watcher], ["mover", "watcher"]);
    await until("the first beats to be over", () => nodes.every((n) => n.store.stats().calls >= 2));
    const before = calls();
    target = b;
    a.server.connections[0]?.drop();
    await next(mover.presence, "sync");
    await until("the old node to let the seat go", () => a.hub.stats().seats === 0);
    // b: the sync's apply (write + claim) and its answer's read; a: the owner check when it heard of the claim.
    expect(calls() - before).toBe(3);
    const beforeUpdate = calls();
    mover.presence.set("emoji", "🚚");
    await until("the watcher to see it", () => watcher.presence.roster.get("mover")?.state.emoji === "🚚");
    expect(calls() - beforeUpdate).toBe(1);
  });

  it("keeps a member under 1 KB of Redis memory (members, owners, index, head, and a full diff log)", async () => {
    nodes = await startCluster(redis.port, 1, "ws", { ...slowBeat, prefix: "mem:" });
    const [a] = nodes;
    if (a === undefined) throw new Error("nodes");
    const members = 500;
    for (let i = 0; i < members; i++) {
      const state = { room: "kitchen", emoji: "🙂", layout: { x: i, y: 2 * i } };
      await a.store.apply("office", { op: "join", id: `member-${i}`, state }, { claim: true, state });
    }
    const probe = new Redis(redis.port, "127.0.0.1");
    try {
      const keys = ["mem:p:office:m", "mem:p:office:o", "mem:p:office:h", "mem:p:office:l", "mem:pn:node-0"];
      let bytes = 0;
      for (const key of keys) bytes += Number(await probe.memory("USAGE", key, "SAMPLES", 0));
      expect(await probe.hlen("mem:p:office:m")).toBe(members);
      expect(bytes / members).toBeLessThanOrEqual(1_024);
    } finally {
      probe.disconnect();
    }
  });
});
