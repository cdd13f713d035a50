/**
 * Presence across nodes on a real redis-server: three hubs, each on its own real `ws` server and its own
 * Redis connections, in one process; real ResilientSocket + Presence clients. What one node's member does,
 * every node's clients see; a member that moves to another node inside the grace period is seen by nobody
 * as leaving; a node that dies without a goodbye has its members leave everywhere.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ResilientSocket } from "../../src/index.js";
import type { AnySlice, Presence } from "../../src/presence/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { type ClusterNode, converge, FAST, seen, startCluster } from "./cluster-harness.js";
import { type HubServer, next, presenceClient, quietFor, until } from "./presence-harness.js";

type Client = { socket: ResilientSocket; presence: Presence<readonly AnySlice[]> };

let redis: RedisServer;
let nodes: ClusterNode[] = [];
const clients: Client[] = [];

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

async function cluster(count: number): Promise<ClusterNode[]> {
  nodes = await startCluster(redis.port, count, "ws", {
    prefix: `t${Math.random().toString(36).slice(2, 8)}:`,
  });
  return nodes;
}

function join(node: ClusterNode, member: string): Client {
  const client = node.client(member);
  clients.push(client);
  return client;
}

/** A client whose next attempt goes to whichever node `target()` names (as a balancer would send it). */
function movable(member: string, target: () => ClusterNode): Client {
  const server = {
    kind: "ws",
    get url() {
      return target().server.url;
    },
  } as unknown as HubServer;
  const client = presenceClient(server, member);
  clients.push(client);
  return client;
}

describe("presence across nodes on Redis", () => {
  it("shows a join, an update and a leave on one node to the clients of every node", async () => {
    const [a, b, c] = await cluster(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("three nodes");
    const ann = join(a, "ann");
    const bob = join(b, "bob");
    const cat = join(c, "cat");
    await converge([ann, bob, cat], ["ann", "bob", "cat"]);
    const seenByCat = next(cat.presence, "update");
    ann.presence.set("room", "kitchen");
    expect((await seenByCat).member.id).toBe("ann");
    await until(
      "bob to see ann in the kitchen",
      () => bob.presence.roster.get("ann")?.state.room === "kitchen",
    );
    // A later update of another slice keeps the first one (the owner merges it into the whole state).
    ann.presence.set("emoji", "🍵");
    await until("cat to see ann's emoji", () => cat.presence.roster.get("ann")?.state.emoji === "🍵");
    expect(cat.presence.roster.get("ann")?.state).toEqual({ room: "kitchen", emoji: "🍵" });
    expect((await c.hub.readRoster("office")).get("ann")).toEqual({ room: "kitchen", emoji: "🍵" });
    ann.presence.detach();
    await ann.socket.close();
    // A closed socket is a dropped member: it leaves once the grace period is over, on every node.
    await converge([bob, cat], ["bob", "cat"]);
    expect(cat.presence.roster.has("ann")).toBe(false);
  });

  it("answers each sync with one message, and one diff per batch reaches the other nodes' members", async () => {
    const [a, b] = await cluster(2);
    if (a === undefined || b === undefined) throw new Error("two nodes");
    const bob = join(b, "bob");
    await next(bob.presence, "sync");
    const ann = join(a, "ann");
    await converge([ann, bob], ["ann", "bob"]);
    const fromAnn = a.server.connections[0];
    expect(fromAnn?.up.length).toBe(1);
    expect(fromAnn?.down.length).toBe(1);
    const diffsToBob = b.server.connections[0]?.down.length ?? 0;
    for (let i = 0; i < 5; i++) ann.presence.set("emoji", String(i));
    await until("bob to see the last emoji", () => bob.presence.roster.get("ann")?.state.emoji === "4");
    // Five updates inside one client flush and one hub batch: one diff to bob, not five.
    expect((b.server.connections[0]?.down.length ?? 0) - diffsToBob).toBeLessThanOrEqual(2);
  });

  it("moves a member that reconnects to another node inside the grace period without a leave or a join anywhere", async () => {
    const [a, b, c] = await cluster(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("three nodes");
    let target = a;
    const mover = movable("mover", () => target);
    const watcher = join(c, "watcher");
    await converge([mover, watcher], ["mover", "watcher"]);
    const events: string[] = [];
    for (const kind of ["join", "leave"] as const)
      watcher.presence.on(kind, (e) => events.push(`${kind} ${e.member.id}`));
    target = b;
    // Listened for before the drop: under load the answer can come before a later listener would.
    const resynced = next(mover.presence, "sync");
    a.server.connections[0]?.drop();
    await resynced;
    expect(b.server.connections).toHaveLength(1);
    // Past the grace period and the old node's reap: still nobody saw it go.
    await quietFor(FAST.graceMs + 200);
    expect(events).toEqual([]);
    expect(seen(watcher.presence)).toEqual(["mover", "watcher"]);
    expect((await c.hub.readRoster("office")).has("mover")).toBe(true);
    expect(await b.store.owner("office", "mover")).toBe("node-1");
    // The old node let the seat go without a leave.
    expect(a.hub.stats().seats).toBe(0);
  });

  it("makes the members of a node killed without a goodbye leave on every other node after the grace period", async () => {
    const [a, b, c] = await cluster(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("three nodes");
    const onA = ["a1", "a2", "a3"].map((m) => join(a, m));
    const onB = ["b1", "b2"].map((m) => join(b, m));
    const onC = ["c1", "c2"].map((m) => join(c, m));
    await converge([...onA, ...onB, ...onC], ["a1", "a2", "a3", "b1", "b2", "c1", "c2"]);
    // Its clients keep retrying its dead port: nobody says goodbye for them.
    // Taken before the kill: its last heartbeat comes no later than this, so the leave is due no sooner than
    // one grace period after it (taken after, a kill that itself took a while under load made the wait look
    // shorter than the grace: 254 ms against 300 once).
    const killedAt = Date.now();
    await a.kill();
    await converge([...onB, ...onC], ["b1", "b2", "c1", "c2"], 5_000);
    // Not before its ownership expired and the grace period passed.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(FAST.graceMs);
    const rosters = await Promise.all(
      [b, c].map(async (node) => [...(await node.hub.readRoster("office")).keys()].sort()),
    );
    expect(rosters).toEqual([
      ["b1", "b2", "c1", "c2"],
      ["b1", "b2", "c1", "c2"],
    ]);
    // Removed by the survivors' reaps, once each.
    expect(b.store.stats().reaped + c.store.stats().reaped).toBe(3);
    nodes = nodes.filter((node) => node !== a);
  });

  it("gives one owner to a member two nodes race for: one member in every roster, the loser displaced", async () => {
    const [a, b, c] = await cluster(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error("three nodes");
    const watcher = join(c, "watcher");
    await next(watcher.presence, "sync");
    const first = join(a, "twin");
    const second = join(b, "twin");
    await until("one of the twins to be displaced", () =>
      [first, second].some(({ presence }) => presence.phase === "displaced"),
    );
    await converge([watcher], ["twin", "watcher"]);
    const owner = await c.store.owner("office", "twin");
    const winner = owner === "node-0" ? first : second;
    expect(winner.presence.phase).toBe("synced");
    const roster = await c.hub.readRoster("office");
    expect([...roster.keys()].filter((id) => id === "twin")).toHaveLength(1);
  });

  it("does the same over Socket.IO: a member on one Socket.IO node seen joining, updating and leaving on another", async () => {
    nodes = await startCluster(redis.port, 2, "socket.io", { prefix: "io:" });
    const [a, b] = nodes;
    if (a === undefined || b === undefined) throw new Error("two nodes");
    const ann = join(a, "ann");
    const bob = join(b, "bob");
    await converge([ann, bob], ["ann", "bob"]);
    ann.presence.set("room", "lobby");
    await until("bob to see ann in the lobby", () => bob.presence.roster.get("ann")?.state.room === "lobby");
    ann.presence.detach();
    await ann.socket.close();
    await converge([bob], ["bob"]);
  });
});
