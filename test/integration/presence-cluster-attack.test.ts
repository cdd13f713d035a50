/**
 * Hostile input against hubs on Redis, each with a measured bound: a member state too large for Redis, a
 * flood of updates from clients on two nodes, a space filled past its member limit from several nodes, a
 * member id churned on one connection, and garbage published on the roster's channel.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { defineSlice, encodePresence } from "../../src/presence/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { type ClusterNode, startCluster } from "./cluster-harness.js";
import { quietFor, until } from "./presence-harness.js";

let redis: RedisServer;
let probe: Redis;
let nodes: ClusterNode[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  probe.disconnect();
  await redis.stop();
});
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  await probe.flushall();
});

/** A raw `ws` client of `node` that records what it is sent. */
async function raw(node: ClusterNode): Promise<{ ws: WebSocket; got: Record<string, unknown>[] }> {
  const ws = new WebSocket(node.server.url);
  sockets.push(ws);
  const got: Record<string, unknown>[] = [];
  ws.on("message", (data) => got.push(JSON.parse(String(data)) as Record<string, unknown>));
  ws.on("error", () => {});
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { ws, got };
}

/** A custom slice that may be large (the hub's own per-slice limit is not what is tested here). */
const status = defineSlice("status", {
  validate: (v): v is string => typeof v === "string",
  maxBytes: 16_000,
});

/** Resolves once the async `probe` holds; rejects naming `what` after 5 s. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after 5000 ms waiting for ${what}`);
    await quietFor(5);
  }
}

const sync = (member: string, state: Record<string, unknown> = {}) =>
  encodePresence({ type: "sync", v: 1, space: "office", member, epoch: null, rev: null, state });
const update = (state: Record<string, unknown>) => encodePresence({ type: "update", space: "office", state });

describe("hostile input against hubs on Redis", () => {
  it("refuses a member state over maxStateBytes with state-too-large and stores nothing of it", async () => {
    nodes = await startCluster(redis.port, 2, "ws", { maxStateBytes: 1_024 }, { slices: [status] });
    const [a] = nodes;
    if (a === undefined) throw new Error("nodes");
    const big = await raw(a);
    big.ws.send(sync("big", { status: "x".repeat(4_000) }));
    await until("the refusal", () => big.got.some((m) => m.$presence === "refused"));
    expect(big.got.find((m) => m.$presence === "refused")?.reason).toBe("state-too-large");
    // Grown by an update instead: the owner refuses the merged state too.
    const small = await raw(a);
    small.ws.send(sync("small", { status: "ok" }));
    await until("small's answer", () => small.got.length > 0);
    for (let i = 0; i < 3; i++) small.ws.send(update({ status: "y".repeat(400 * (i + 1)) }));
    await quietFor(200);
    const stored = await probe.hget("t:p:office:m", "small");
    expect(stored?.length ?? 0).toBeLessThanOrEqual(1_024);
    expect(await probe.hexists("t:p:office:m", "big")).toBe(0);
    const bytes = Number(await probe.memory("USAGE", "t:p:office:m"));
    expect(bytes).toBeLessThan(4_096);
  });

  it("keeps a flood of updates from two nodes bounded: log at maxLogEntries, Redis calls per batch, one diff per batch", async () => {
    nodes = await startCluster(
      redis.port,
      3,
      "ws",
      { maxLogEntries: 32 },
      { maxMessagesPerSecond: 10_000, messageBurst: 10_000 },
    );
    const [a, b, c] = nodes;
    if (a === undefined || b === undefined || c === undefined) throw new Error("nodes");
    const watcher = await raw(c);
    watcher.ws.send(sync("watcher"));
    const floods = await Promise.all([raw(a), raw(b)]);
    for (const [i, { ws }] of floods.entries()) ws.send(sync(`flood${i}`));
    await until("both flooders answered", () => floods.every(({ got }) => got.length > 0));
    const callsBefore = a.store.stats().calls + b.store.stats().calls;
    const started = Date.now();
    for (let n = 0; n < 1_000; n++) for (const { ws } of floods) ws.send(update({ emoji: String(n) }));
    // What the watcher was last told of each flooder, read incrementally (the flood is large).
    const last = new Map<string, unknown>();
    let read = 0;
    const lastOf = (id: string) => {
      for (; read < watcher.got.length; read++) {
        const changes = (watcher.got[read]?.changes ?? []) as { id: string; state?: { emoji?: unknown } }[];
        for (const change of changes)
          if (change.state?.emoji !== undefined) last.set(change.id, change.state.emoji);
      }
      return last.get(id);
    };
    await until(
      "the watcher to see the last emoji of both",
      () => lastOf("flood0") === "999" && lastOf("flood1") === "999",
      15_000,
    );
    await quietFor(100);
    const elapsed = Date.now() - started;
    const calls = a.store.stats().calls + b.store.stats().calls - callsBefore;
    // Each node merges a member's updates per 10 ms batch: one apply per member per batch, plus heartbeats.
    const batches = Math.ceil(elapsed / 10) + 2;
    const beats = 2 * 2 * (Math.ceil(elapsed / 50) + 2);
    expect(calls).toBeLessThanOrEqual(2 * batches + beats);
    expect(await probe.llen("t:p:office:l")).toBeLessThanOrEqual(32);
    // The watcher got at most one diff per batch of its node, not 4,000 messages.
    expect(watcher.got.length).toBeLessThanOrEqual(batches + 2);
  });

  it("fills a space to maxMembersPerSpace across nodes and refuses the next member with space-full", async () => {
    nodes = await startCluster(redis.port, 2, "ws", { maxMembersPerSpace: 3 });
    const [a, b] = nodes;
    if (a === undefined || b === undefined) throw new Error("nodes");
    const members = await Promise.all([raw(a), raw(b), raw(a), raw(b)]);
    for (const [i, m] of members.slice(0, 3).entries()) {
      m.ws.send(sync(`m${i}`));
      await until(`m${i} answered`, () => m.got.length > 0);
    }
    const last = members[3];
    if (last === undefined) throw new Error("members");
    last.ws.send(sync("m3"));
    await until("the refusal", () => last.got.some((m) => m.$presence === "refused"));
    expect(last.got.find((m) => m.$presence === "refused")?.reason).toBe("space-full");
    expect(await probe.hlen("t:p:office:m")).toBe(3);
    expect(b.hub.stats().seats).toBe(1);
  });

  it("keeps one member in Redis when one connection churns 300 member ids", async () => {
    nodes = await startCluster(
      redis.port,
      2,
      "ws",
      {},
      { maxMessagesPerSecond: 10_000, messageBurst: 10_000 },
    );
    const [a] = nodes;
    if (a === undefined) throw new Error("nodes");
    const churn = await raw(a);
    for (let i = 0; i < 300; i++) churn.ws.send(sync(`id${i}`));
    await eventually(
      "the last id to be in Redis",
      async () => (await probe.hget("t:p:office:o", "id299")) !== null,
    );
    await quietFor(100);
    expect(a.hub.stats().seats).toBe(1);
    expect(await probe.hlen("t:p:office:m")).toBe(1);
    expect(await probe.hget("t:p:office:o", "id299")).toBe("node-0");
    expect(await probe.scard("t:pn:node-0")).toBe(1);
  });

  it("ignores garbage published on the roster's channel and keeps serving", async () => {
    nodes = await startCluster(redis.port, 2);
    const [a, b] = nodes;
    if (a === undefined || b === undefined) throw new Error("nodes");
    const junk = [
      "not json",
      "{}",
      '{"t":"c","s":"office","e":"x","r":-1,"c":{}}',
      `{"t":"c","s":"office","e":"x","r":1,"c":{"op":"join","id":"ghost"}}`,
      "[1,2]",
      "x".repeat(100_000),
    ];
    await eventually(
      "both nodes to listen",
      async () => (await probe.publish("t:presence", "warm-up")) === 2,
    );
    await quietFor(20);
    const before = [a, b].map((n) => n.store.stats().malformed);
    for (const text of junk) await probe.publish("t:presence", text);
    await until("every node to count the garbage", () =>
      [a, b].every((n, i) => n.store.stats().malformed === (before[i] ?? 0) + junk.length),
    );
    const ann = await raw(a);
    ann.ws.send(sync("ann"));
    const bob = await raw(b);
    bob.ws.send(sync("bob"));
    await until("ann to see bob", () => ann.got.some((m) => JSON.stringify(m).includes('"bob"')));
    expect(await probe.hkeys("t:p:office:m")).toEqual(expect.arrayContaining(["ann", "bob"]));
    expect(await probe.hexists("t:p:office:m", "ghost")).toBe(0);
  });
});
