/**
 * Presence across nodes when Redis fails: restarted empty mid-run, down for a while, hung (SIGSTOP). The
 * nodes keep their connections and never crash or leave a promise rejection unhandled; once Redis answers
 * again each node writes back the members it owns and every client gets one fresh snapshot, so every
 * node's roster converges to exactly the members connected.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ResilientSocket } from "../../src/index.js";
import type { AnySlice, Presence } from "../../src/presence/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { type ClusterNode, converge, eventually, startCluster } from "./cluster-harness.js";
import { next, quietFor, until } from "./presence-harness.js";

type Client = { socket: ResilientSocket; presence: Presence<readonly AnySlice[]> };

let redis: RedisServer;
let nodes: ClusterNode[] = [];
let runs = 0;
const clients: Client[] = [];
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
  await Promise.all(clients.splice(0).map(({ socket }) => socket.close()));
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  expect(rejections).toEqual([]);
});

async function populated(): Promise<{ nodes: ClusterNode[]; all: Client[]; names: string[] }> {
  // A fresh prefix per test: what one test left in Redis is not the next one's roster.
  nodes = await startCluster(redis.port, 3, "ws", { prefix: `f${++runs}:` });
  const names: string[] = [];
  nodes.forEach((node, i) => {
    for (const n of [1, 2]) {
      const name = `m${i}-${n}`;
      names.push(name);
      const client = node.client(name);
      clients.push(client);
    }
  });
  await converge(clients, names);
  return { nodes, all: clients, names };
}

const rosterOf = async (node: ClusterNode) => [...(await node.hub.readRoster("office")).keys()].sort();

describe("presence across nodes when Redis fails", () => {
  it("converges on every node after Redis restarts empty mid-run: 0 phantom, 0 missing", async () => {
    const { nodes, all, names } = await populated();
    const restores = nodes.map((node) => node.store.stats().restores);
    await redis.restart();
    // Each node writes back what it owns; every roster holds exactly the connected members again.
    await until("every node to write its members again", () =>
      nodes.every((node, i) => node.store.stats().restores > (restores[i] ?? 0)),
    );
    const want = [...names].sort();
    await eventually("every node's roster to hold exactly the connected members", async () =>
      (await Promise.all(nodes.map(rosterOf))).every((r) => r.join() === want.join()),
    );
    for (const node of nodes) expect(await rosterOf(node)).toEqual(want);
    await converge(all, names);
    // And changes flow again across nodes.
    const [first, second] = all;
    if (first === undefined || second === undefined) throw new Error("clients");
    first.presence.set("emoji", "back");
    await until("a change after the restart to cross nodes", () =>
      all.every(
        ({ presence }) =>
          presence.member === first.presence.member ||
          presence.roster.get(first.presence.member)?.state.emoji === "back",
      ),
    );
  });

  it("keeps its connections while Redis is down, refuses nothing for good, and catches up when it returns", async () => {
    const { nodes, all, names } = await populated();
    await redis.kill();
    const [a] = nodes;
    if (a === undefined) throw new Error("nodes");
    // Changes made while Redis is down fail in the store, not in the hub.
    all[0]?.presence.set("room", "offline-room");
    // A member that arrives while Redis is down is answered once it is back.
    const late = a.client("late");
    all.push(late);
    names.push("late");
    await quietFor(300);
    expect(late.presence.phase).toBe("syncing");
    expect(all.every(({ socket }) => socket.state === "open")).toBe(true);
    expect(a.hub.stats().storeErrors).toBeGreaterThan(0);
    const restores = nodes.map((node) => node.store.stats().restores);
    await redis.start();
    await until("every node to write its members again", () =>
      nodes.every((node, i) => node.store.stats().restores > (restores[i] ?? 0)),
    );
    await converge(all, names);
    const want = [...names].sort();
    await eventually("every node's roster to hold exactly the connected members", async () =>
      (await Promise.all(nodes.map(rosterOf))).every((r) => r.join() === want.join()),
    );
    for (const node of nodes) expect(await rosterOf(node)).toEqual(want);
    // The change made while Redis was down reached everyone once it was back.
    const member = all[0]?.presence.member ?? "";
    await until("the offline change to arrive everywhere", () =>
      all.every(
        ({ presence }) =>
          presence.member === member || presence.roster.get(member)?.state.room === "offline-room",
      ),
    );
  });

  it("survives a Redis that hangs (SIGSTOP) without crashing, then converges once it answers", async () => {
    const { nodes, all, names } = await populated();
    redis.pause();
    all[1]?.presence.set("emoji", "hung");
    await quietFor(400);
    redis.resume();
    await converge(all, names);
    const member = all[1]?.presence.member ?? "";
    await until("the change made during the hang to arrive everywhere", () =>
      all.every(
        ({ presence }) => presence.member === member || presence.roster.get(member)?.state.emoji === "hung",
      ),
    );
    const want = [...names].sort();
    for (const node of nodes) expect(await rosterOf(node)).toEqual(want);
    void next;
  });
});
