/**
 * The two cluster faults the other fault tests leave out, on a real redis-server with three nodes in one
 * process (real `ws` servers on 127.0.0.1, each with its own ioredis connections) and real ResilientSocket +
 * Presence clients:
 * - one node cut from Redis (a black-holing TCP proxy between its ioredis connections and Redis; the others
 *   talk to Redis directly) while its clients stay connected to it, then the cut heals;
 * - Redis restarted empty while a herd of clients comes back through the shared admission schedule.
 * After the grace period: 0 phantom, 0 missing, every node's roster the set of connected members, and no
 * promise rejection left unhandled.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { atLeastOnce, decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { type AnySlice, Presence } from "../../src/presence/index.js";
import { Deduplicator, wsAdmission } from "../../src/server/index.js";
import { attachPresenceToWs, PresenceHub } from "../../src/server/presence/index.js";
import {
  type RedisAdmission,
  type RedisRosterStore,
  redisAdmission,
  redisDedupeStore,
  redisRosterStore,
} from "../../src/server/redis/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { ClusterNode, converge, eventually, FAST, seen } from "./cluster-harness.js";
import { FaultProxy } from "./fault-proxy.js";
import { quietFor, until } from "./presence-harness.js";

type Client = { socket: ResilientSocket; presence: Presence<readonly AnySlice[]> };

let redis: RedisServer;
let runs = 0;
const cleanups: (() => Promise<void> | void)[] = [];
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

beforeAll(async () => {
  redis = await startRedis();
  process.on("unhandledRejection", onRejection);
});
afterAll(async () => {
  process.off("unhandledRejection", onRejection);
  await redis.stop();
});
afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
  expect(rejections).toEqual([]);
});

const rosterOf = async (hub: { readRoster(space: string): Promise<ReadonlyMap<string, unknown>> }) =>
  [...(await hub.readRoster("office")).keys()].sort();

/** Every hub's roster (read from Redis through its own connections) is exactly `names`. */
async function rostersEqual(hubs: readonly PresenceHub[], names: readonly string[]): Promise<void> {
  const want = [...names].sort().join();
  await eventually(
    `every node's roster to be ${want}`,
    async () => (await Promise.all(hubs.map(rosterOf))).every((r) => r.join() === want),
    10_000,
  );
  for (const hub of hubs) expect(await rosterOf(hub)).toEqual([...names].sort());
}

describe("a node cut from Redis while its clients stay connected", () => {
  it("has its members reaped elsewhere during the cut, keeps serving them, and writes them back when the cut heals", async () => {
    const prefix = `cut${++runs}:`;
    const proxy = await FaultProxy.start(redis.port);
    cleanups.push(() => proxy.stop());
    // Node A reaches Redis only through the proxy (its store's client and the subscriber it duplicates).
    const a = new ClusterNode(proxy.port, "node-a", "ws", { prefix });
    const others = [new ClusterNode(redis.port, "node-b", "ws", { prefix })];
    others.push(new ClusterNode(redis.port, "node-c", "ws", { prefix }));
    const nodes = [a, ...others];
    await Promise.all(nodes.map((node) => node.listen()));
    cleanups.push(async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    });
    // A's and B's share of one admission schedule (C = 30/s, burst 3, for 3 nodes).
    const schedule = (node: ClusterNode) =>
      redisAdmission({
        redis: node.redis,
        prefix,
        ratePerSecond: 30,
        burst: 3,
        nodes: 3,
        refusalCost: 0,
        commandTimeoutMs: 100,
        retryMs: 200,
      });
    const [scheduleA, scheduleB] = [schedule(a), schedule(others[0] as ClusterNode)];
    const all: Client[] = [];
    const names: string[] = [];
    const onA: Client[] = [];
    nodes.forEach((node, i) => {
      for (const n of [1, 2]) {
        const name = `m${i}-${n}`;
        const client = node.client(name);
        cleanups.push(() => client.socket.close());
        all.push(client);
        names.push(name);
        if (node === a) onA.push(client);
      }
    });
    await converge(all, names);
    expect((await scheduleA.decide("before")).local).toBeUndefined();
    expect(scheduleA.mode).toBe("shared");

    const restores = a.store.stats().restores;
    proxy.blackhole();
    const cutAt = Date.now();
    // A's member changes its state during the cut: A keeps it, and it must reach everyone after the heal.
    onA[0]?.presence.set("room", "cut-off");
    // The other nodes reap A's members once A's ownership expired and the grace period passed.
    const onOthers = all.filter((client) => !onA.includes(client));
    const othersNames = onOthers.map((client) => client.presence.member);
    await converge(onOthers, othersNames, 5_000);
    const reapedAfterMs = Date.now() - cutAt;
    expect(reapedAfterMs).toBeGreaterThanOrEqual(FAST.ownershipTtlMs);
    await rostersEqual(
      others.map((node) => node.hub),
      othersNames,
    );
    // A's clients stayed connected to A the whole time, and still see themselves.
    expect(onA.every(({ socket }) => socket.state === "open")).toBe(true);
    for (const { presence } of onA) expect(seen(presence)).toContain(presence.member);

    // Admission on A falls back to its share (10/s, burst 1) while B stays on the shared schedule.
    const started = Date.now();
    const local = [];
    for (let i = 0; i < 20; i++) local.push(await scheduleA.decide(`cut-${i}`));
    const elapsedS = (Date.now() - started) / 1000;
    expect(local.every((decision) => decision.local === true)).toBe(true);
    expect(scheduleA.mode).toBe("local");
    expect(local.filter((d) => d.admit).length).toBeLessThanOrEqual(1 + Math.ceil(10 * elapsedS));
    expect((await scheduleB.decide("b-during")).local).toBeUndefined();

    proxy.heal();
    await until("A to write its members again", () => a.store.stats().restores > restores, 10_000);
    await converge(all, names, 10_000);
    await rostersEqual(
      nodes.map((node) => node.hub),
      names,
    );
    const moved = onA[0]?.presence.member ?? "";
    await until("the state A's member set during the cut to reach every client", () =>
      all.every(
        ({ presence }) => presence.member === moved || presence.roster.get(moved)?.state.room === "cut-off",
      ),
    );
    // A is back on the shared schedule once a probe reaches Redis (at most retryMs later).
    await eventually(
      "A's admission to return to the shared schedule",
      async () => (await scheduleA.decide("after")).local === undefined,
    );
    expect(scheduleA.mode).toBe("shared");
    // Past another grace period nothing moves: no phantom left by the reap, nobody missing.
    await quietFor(FAST.ownershipTtlMs + FAST.graceMs);
    await converge(all, names);
    await rostersEqual(
      nodes.map((node) => node.hub),
      names,
    );
  });
});

/** A node with the shared admission schedule on its upgrade path and its hub on the Redis roster. */
interface StormNode {
  readonly url: string;
  readonly hub: PresenceHub;
  readonly store: RedisRosterStore;
  readonly schedule: RedisAdmission;
  readonly wss: WebSocketServer;
}

/** Messages applied by any node's Deduplicator: `client:data`. */
const applied: string[] = [];

async function stormNode(name: string, prefix: string): Promise<StormNode> {
  const client = new Redis(redis.port, "127.0.0.1", { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  client.on("error", () => {});
  const store = redisRosterStore({
    redis: client,
    nodeId: name,
    prefix,
    heartbeatMs: FAST.heartbeatMs,
    ownershipTtlMs: FAST.ownershipTtlMs,
    commandTimeoutMs: 1_000,
  });
  const schedule = redisAdmission({
    redis: client,
    prefix,
    ratePerSecond: RATE,
    burst: 4,
    spreadMs: 300,
    nodes: 3,
    refusalCost: 0,
    retryMs: 200,
  });
  const hub = new PresenceHub({ store, graceMs: FAST.graceMs, batchMs: 10 });
  const wss = new WebSocketServer({ noServer: true });
  // At-least-once messages beside presence on the same sockets, deduplicated across nodes on Redis.
  const dedupe = new Deduplicator({ store: redisDedupeStore({ redis: client, prefix, ttlMs: 60_000 }) });
  wss.on("connection", (ws, request: IncomingMessage) => {
    ws.on("error", () => {});
    const owner = new URL(request.url ?? "/", "http://node").searchParams.get("client") ?? "anonymous";
    const inbox = dedupe.connection(owner);
    ws.on("message", async (raw: Buffer) => {
      const result = await inbox.receive(String(raw), (data) => {
        applied.push(`${owner}:${String(data)}`);
      });
      if ("ack" in result) ws.send(JSON.stringify(result.ack));
      if (result.status === "failed") ws.close(1011);
    });
  });
  attachPresenceToWs(hub, wss);
  const admission = wsAdmission({
    wss,
    schedule,
    key: (request: IncomingMessage) =>
      new URL(request.url ?? "/", "http://node").searchParams.get("client") ?? undefined,
  });
  const http = createServer();
  http.on("upgrade", (request, socket, head) => {
    socket.on("error", () => socket.destroy());
    void admission(request, socket, head);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    hub.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
    await store.close();
    client.disconnect();
  });
  const { port } = http.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, hub, store, schedule, wss };
}

const RATE = 40;
const HERD = 24;

describe("Redis restarted mid-storm", () => {
  it("brings every client of the herd back through the shared schedule, with every roster exact after grace", async () => {
    const prefix = `storm${++runs}:`;
    const nodes = await Promise.all(["s-0", "s-1", "s-2"].map((name) => stormNode(name, prefix)));
    const names = Array.from({ length: HERD }, (_, i) => `c${i}`);
    const attempts = new Map<string, number>();
    const clients: Client[] = names.map((name) => {
      const socket = new ResilientSocket({
        // As a balancer without stickiness: each attempt goes to a node at random.
        transport: webSocketTransport({
          url: () => {
            attempts.set(name, (attempts.get(name) ?? 0) + 1);
            const node = nodes[Math.floor(Math.random() * nodes.length)] as StormNode;
            return `${node.url}?client=${name}`;
          },
          WebSocket: WebSocket as unknown as WebSocketConstructor,
        }),
        backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
        circuitBreaker: false,
        connectTimeoutMs: 2_000,
        stableAfterMs: 50,
        delivery: atLeastOnce(),
        queue: { ttlMs: Number.POSITIVE_INFINITY },
      });
      const presence = new Presence(socket, { space: "office", member: name });
      cleanups.push(() => socket.close());
      return { socket, presence };
    });
    await converge(clients, names, 10_000);
    clients.forEach(({ socket }) => {
      for (let n = 0; n < 3; n++) socket.send(n);
    });
    await until("the first messages to be acknowledged", () =>
      clients.every(({ socket }) => socket.stats().unacked === 0),
    );
    const refusedBefore = nodes.reduce((sum, node) => sum + node.schedule.stats.refused, 0);

    // The storm: every node drops every connection at once; the herd comes back through admission.
    for (const node of nodes) for (const ws of node.wss.clients) ws.terminate();
    // Sent while the herd comes back and while Redis restarts: queued, resent until acknowledged.
    clients.forEach(({ socket }) => {
      for (let n = 3; n < 6; n++) socket.send(n);
    });
    await quietFor(60);
    const backAtRestart = clients.filter(({ socket }) => socket.state === "open").length;
    const restores = nodes.map((node) => node.store.stats().restores);
    await redis.restart();

    await until(
      "every node to write its members again",
      () => nodes.every((node, i) => node.store.stats().restores > (restores[i] ?? 0)),
      10_000,
    );
    await until(
      "every client to be back",
      () => clients.every(({ socket }) => socket.state === "open"),
      10_000,
    );
    await converge(clients, names, 10_000);
    await rostersEqual(
      nodes.map((node) => node.hub),
      names,
    );
    // Redis restarted while the herd was still coming back.
    expect(backAtRestart).toBeLessThan(HERD);
    // Every message applied exactly once, whichever node and whichever Redis it reached.
    await until(
      "every message to be acknowledged",
      () => clients.every(({ socket }) => socket.stats().unacked === 0),
      10_000,
    );
    const want = names.flatMap((name) => Array.from({ length: 6 }, (_, n) => `${name}:${n}`)).sort();
    expect([...applied].sort()).toEqual(want);
    // The herd really was paced by the schedule, and every node is back on the shared one.
    const refused = nodes.reduce((sum, node) => sum + node.schedule.stats.refused, 0) - refusedBefore;
    expect(refused).toBeGreaterThan(0);
    for (const node of nodes) {
      await eventually(
        "each node's admission to be on the shared schedule again",
        async () => (await node.schedule.decide("probe")).local === undefined,
      );
    }
    // Past another grace period nothing moves: 0 phantom, 0 missing.
    await quietFor(FAST.ownershipTtlMs + FAST.graceMs);
    await converge(clients, names);
    await rostersEqual(
      nodes.map((node) => node.hub),
      names,
    );
    const stats = nodes.map((n) => ({ ...n.schedule.stats, restores: n.store.stats().restores }));
    console.log(
      `[cluster-faults] storm: ${backAtRestart}/${HERD} back when Redis restarted, ${refused} refusals; per node ${JSON.stringify(stats)}`,
    );
  });
});
