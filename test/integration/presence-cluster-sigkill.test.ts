/**
 * A presence node as its own process, killed with SIGKILL while its clients are connected: no goodbye, no
 * closing frames, its Redis connections just gone. The two nodes left (in this process) must see its
 * members leave after the grace period: 0 phantom, 0 missing, every node's roster equal.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { type AnySlice, Presence } from "../../src/presence/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { type PresenceNodeProcess, startPresenceNode } from "../helpers/presence-node-process.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { type ClusterNode, converge, FAST, startCluster } from "./cluster-harness.js";

type Client = { socket: ResilientSocket; presence: Presence<readonly AnySlice[]> };

let redis: RedisServer;
let nodes: ClusterNode[] = [];
let victim: PresenceNodeProcess | undefined;
const clients: Client[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  victim?.child.kill("SIGKILL");
  await Promise.all(clients.map(({ socket }) => socket.close()));
  await Promise.all(nodes.map((node) => node.stop()));
  await redis.stop();
});

function clientOf(url: string, member: string): Client {
  const socket = new ResilientSocket({
    transport: webSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
    backoff: decorrelatedJitter({ baseMs: 50, capMs: 200 }),
    circuitBreaker: false,
  });
  socket.on("error", () => {}); // its node is killed: the refused attempts are the point
  const client = { socket, presence: new Presence(socket, { space: "office", member }) };
  clients.push(client);
  return client;
}

describe("a presence node killed with SIGKILL", () => {
  it("has its members leave on every other node after the grace period: 0 phantom, 0 missing", async () => {
    nodes = await startCluster(redis.port, 2, "ws", { prefix: "k:" });
    const [b, c] = nodes;
    if (b === undefined || c === undefined) throw new Error("nodes");
    victim = await startPresenceNode({ "redis-port": redis.port, "node-id": "victim", prefix: "k:" });
    const url = victim.url;
    const onVictim = ["v1", "v2", "v3"].map((m) => clientOf(url, m));
    const survivors = [...["b1", "b2"].map((m) => b.client(m)), c.client("c1")];
    clients.push(...survivors);
    await converge([...onVictim, ...survivors], ["v1", "v2", "v3", "b1", "b2", "c1"], 10_000);
    victim.child.kill("SIGKILL");
    await victim.exited;
    const killedAt = Date.now();
    await converge(survivors, ["b1", "b2", "c1"], 10_000);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(FAST.graceMs);
    const rosters = await Promise.all(
      nodes.map(async (n) => [...(await n.hub.readRoster("office")).keys()].sort()),
    );
    expect(rosters).toEqual([
      ["b1", "b2", "c1"],
      ["b1", "b2", "c1"],
    ]);
    expect(b.store.stats().reaped + c.store.stats().reaped).toBe(3);
  }, 30_000);
});
