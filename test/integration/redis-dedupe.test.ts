/**
 * The Deduplicator on Redis across nodes: two `ws` servers in one process (127.0.0.1, port 0), each with its
 * own Deduplicator and Redis client over one redis-server. A real ResilientSocket with at-least-once delivery
 * moves to the other node on every reconnect (as a balancer without stickiness would send it); node A cuts
 * connections after applying a message and before acknowledging it. Every message still takes effect exactly
 * once. And the same message raced into both nodes at once is applied by one and acknowledged by both.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { atLeastOnce, ResilientSocket } from "../../src/index.js";
import { type DedupeResult, Deduplicator } from "../../src/server/index.js";
import { redisDedupeStore } from "../../src/server/redis/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { FAST, waitFor } from "./ws-harness.js";

let server: RedisServer;
const cleanups: Array<() => Promise<void> | void> = [];
let run = 0;

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});
afterAll(async () => {
  await server.stop();
});

function redisClient(): Redis {
  const redis = new Redis(server.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
  cleanups.push(() => redis.disconnect());
  return redis;
}

interface Applied {
  readonly node: string;
  readonly data: unknown;
}

/**
 * A node: its own Deduplicator on the shared Redis store. `cutAfter(data)` true: the connection is cut right
 * after that message took effect, before its acknowledgement is sent (the ack is lost).
 */
async function node(
  name: string,
  prefix: string,
  applied: Applied[],
  cutAfter: (data: unknown) => boolean = () => false,
): Promise<{ url: string; dedupe: Deduplicator }> {
  const dedupe = new Deduplicator({
    store: redisDedupeStore({ redis: redisClient(), prefix, ttlMs: 60_000 }),
  });
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws: WebSocket, request: IncomingMessage) => {
    ws.on("error", () => {});
    const owner = new URL(request.url ?? "/", "http://x").searchParams.get("user") ?? "anonymous";
    const inbox = dedupe.connection(owner);
    let cut = false;
    ws.on("message", async (raw: Buffer) => {
      const result = await inbox.receive(raw, (data) => {
        // Messages already read from a cut connection are not applied (their effect fails).
        if (cut) throw new Error("connection cut");
        applied.push({ node: name, data });
      });
      if (result.status === "processed" && cutAfter(result.data)) {
        cut = true;
        ws.terminate();
        return;
      }
      if ("ack" in result) ws.send(JSON.stringify(result.ack));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/?user=alice`, dedupe };
}

describe("the Deduplicator on Redis across nodes", () => {
  it("applies every message once when each reconnect lands on the other node and acks were lost", async () => {
    const prefix = `move${run++}:`;
    const applied: Applied[] = [];
    // Node A loses the ack of every 20th message by cutting the connection after applying it.
    const a = await node("A", prefix, applied, (data) => typeof data === "number" && data % 20 === 19);
    const b = await node("B", prefix, applied);
    let attempts = 0;
    const socket = new ResilientSocket({
      ...FAST,
      transport: webSocketTransport({
        url: () => (attempts++ % 2 === 0 ? a.url : b.url),
        WebSocket: WebSocket as unknown as WebSocketConstructor,
      }),
      delivery: atLeastOnce(),
      queue: { ttlMs: Number.POSITIVE_INFINITY },
    });
    cleanups.push(() => socket.close());
    await new Promise<void>((resolve) => socket.once("open", () => resolve()));
    for (let n = 0; n < 100; n++) socket.send(n);
    await waitFor("every message applied", () => new Set(applied.map((x) => x.data)).size >= 100, 15_000);
    await waitFor("every message acknowledged", () => socket.stats().unacked === 0, 15_000);
    expect(applied.map((x) => x.data)).toEqual(Array.from({ length: 100 }, (_, n) => n));
    // It did move: both nodes applied messages, and the messages A applied without an ack went to B again.
    expect(new Set(applied.map((x) => x.node))).toEqual(new Set(["A", "B"]));
    expect(attempts).toBeGreaterThanOrEqual(2);
  });

  it("applies a message raced into two nodes at once exactly once, and both acknowledge it", async () => {
    const prefix = `race${run++}:`;
    const store = () => redisDedupeStore({ redis: redisClient(), prefix, ttlMs: 60_000 });
    const nodes = [new Deduplicator({ store: store() }), new Deduplicator({ store: store() })];
    let effects = 0;
    const slowEffect = async () => {
      effects++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    };
    for (let seq = 1; seq <= 10; seq++) {
      const envelope = JSON.stringify({ $rr: "msg", sid: "s1", seq, data: seq });
      const results: DedupeResult[] = await Promise.all(
        nodes.map((dedupe) => dedupe.connection("alice").receive(envelope, slowEffect)),
      );
      expect(results.map((r) => r.status).sort()).toEqual(["duplicate", "processed"]);
      for (const result of results) expect("ack" in result && result.ack.seq).toBe(seq);
    }
    expect(effects).toBe(10);
  });

  it("lets another node take over a session whose node died mid-effect once its lease ran out", async () => {
    const prefix = `lease${run++}:`;
    const store = redisDedupeStore({ redis: redisClient(), prefix, ttlMs: 60_000, leaseMs: 200 });
    // A node claimed alice's session s at seq 1 and died: nothing commits or releases the claim. (The store
    // key is the Deduplicator's: owner length, owner, sid.)
    expect((await store.claim("5:alice:s", 1, "alice")).status).toBe("claimed");
    const other = new Deduplicator({
      store: redisDedupeStore({ redis: redisClient(), prefix, ttlMs: 60_000 }),
    });
    const before = Date.now();
    let effects = 0;
    const taken = await other
      .connection("alice")
      .receive(JSON.stringify({ $rr: "msg", sid: "s", seq: 1, data: "x" }), () => {
        effects++;
      });
    expect(taken.status).toBe("processed");
    expect(effects).toBe(1);
    // It waited out the dead node's lease (200 ms at Redis's clock): not for ever, and not not at all.
    expect(Date.now() - before).toBeGreaterThanOrEqual(150);
    expect(Date.now() - before).toBeLessThan(2_000);
  });
});
