/**
 * A node killed with SIGKILL (issue 14 item 6): three realtime node processes (the cluster bench's, with
 * the Redis roster store and the shared admission schedule) on one real redis-server, real ResilientSocket
 * + Presence clients that pick a live node at random on each attempt. One node is killed: its clients come
 * back on the others, the members that vanished with it leave every roster after its ownership and the
 * grace period ran out, and every surviving node then holds exactly the connected members, the same ones.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ask, spawnScript, stopChild } from "../../bench/cluster/cluster.js";
import { decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { Presence } from "../../src/presence/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

const NODES = 3;
const CLIENTS = 24;
const SPACE_SIZE = 8;
const GRACE_MS = 400;
const HEARTBEAT_MS = 150;
const SPACES = Array.from({ length: CLIENTS / SPACE_SIZE }, (_, i) => `room-${i}`);

interface Node {
  child: ChildProcess;
  port: number;
  alive: boolean;
  unhandled: string[];
}
interface Client {
  member: string;
  space: string;
  socket: ResilientSocket;
  presence: Presence;
  picked: number;
  node: number | undefined;
  gone: boolean;
}

let redis: RedisServer;
const nodes: Node[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const started = await Promise.all(
    Array.from({ length: NODES }, async (_, i) => {
      const child = spawnScript("node-process.ts", [
        ...["--store", "redis", "--redis-url", redis.url, "--node-id", `kill-test-${i}`],
        ...["--nodes", String(NODES), "--capacity", "1000", "--grace-ms", String(GRACE_MS)],
        ...["--batch-ms", "10", "--heartbeat-ms", String(HEARTBEAT_MS)],
      ]);
      const node: Node = { child, port: 0, alive: true, unhandled: [] };
      child.on("message", (message: { type?: string; reason?: string }) => {
        if (message?.type === "unhandled") node.unhandled.push(String(message.reason));
      });
      node.port = (await ask<{ port: number }>(child, "ready", undefined, 30_000)).port;
      return node;
    }),
  );
  nodes.push(...started);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.socket.close()));
  await Promise.all(nodes.map((n) => stopChild(n.child)));
  await redis?.stop();
});

function addClient(index: number): Client {
  const client = {
    member: `m-${index}`,
    space: `room-${Math.floor(index / SPACE_SIZE)}`,
    picked: 0,
    node: undefined,
    gone: false,
  } as Omit<Client, "socket" | "presence"> as Client;
  client.socket = new ResilientSocket({
    transport: webSocketTransport({
      // A balancer that knows which nodes are up: the first attempt spread in turn over the nodes (the test
      // needs clients on the node it kills — 24 random picks left it none once, in a clean-clone CI run),
      // then a random live one on each attempt.
      url: () => {
        const live = nodes.filter((n) => n.alive);
        const turn = client.picked === 0 ? index % live.length : Math.floor(Math.random() * live.length);
        client.picked = (live[turn] as Node).port;
        return `ws://127.0.0.1:${client.picked}/?client=${index}`;
      },
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    }),
    backoff: decorrelatedJitter({ baseMs: 50, capMs: 300 }),
    circuitBreaker: false,
  });
  client.presence = new Presence(client.socket, { space: client.space, member: client.member });
  client.presence.on("sync", () => {
    client.node = client.picked;
  });
  client.socket.on("error", () => {}); // refusals by the killed node are the point
  client.socket.on("close", () => {
    client.node = undefined;
  });
  return client;
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const synced = (c: Client) => c.node !== undefined && c.presence.phase === "synced";

/** Each live node's roster per space, next to the members connected in it. */
async function presenceCheck() {
  const live = nodes.filter((n) => n.alive);
  const rosters = await Promise.all(
    live.map(
      async (n) =>
        (
          await ask<{ rosters: Record<string, string[]> }>(n.child, "rosters", {
            type: "rosters",
            spaces: SPACES,
          })
        ).rosters,
    ),
  );
  let phantom = 0;
  let missing = 0;
  let equal = true;
  for (const space of SPACES) {
    const connected = new Set(clients.filter((c) => !c.gone && c.space === space).map((c) => c.member));
    const sorted = (r: Record<string, string[]>) => [...(r[space] ?? [])].sort().join(",");
    for (const roster of rosters) {
      if (sorted(roster) !== sorted(rosters[0] as Record<string, string[]>)) equal = false;
      const held = new Set(roster[space] ?? []);
      for (const m of held) if (!connected.has(m)) phantom++;
      for (const m of connected) if (!held.has(m)) missing++;
    }
  }
  return { phantom, missing, equal };
}

describe("a node killed with SIGKILL, presence on Redis", () => {
  it("leaves 0 phantom and 0 missing members and equal rosters on every surviving node after grace", async () => {
    for (let i = 0; i < CLIENTS; i++) clients.push(addClient(i));
    await until("every client synced", () => clients.every(synced));
    await until("every node seeing every member", async () => {
      const check = await presenceCheck();
      return check.phantom === 0 && check.missing === 0 && check.equal;
    });

    const victim = nodes[0] as Node;
    const onVictim = clients.filter((c) => c.node === victim.port);
    // The test needs clients on the node it kills: a third of them went there first, and stayed.
    expect(onVictim.length).toBeGreaterThan(0);
    // Some of them vanish with the node (a tab closed, a laptop gone): their members must leave everywhere.
    const vanished = onVictim.slice(0, Math.ceil(onVictim.length / 2));
    victim.alive = false;
    await stopChild(victim.child, "SIGKILL");
    for (const c of vanished) {
      c.gone = true;
      await c.socket.close();
    }
    const killedAt = Date.now();

    await until("the others back on the surviving nodes", () =>
      clients.filter((c) => !c.gone).every((c) => synced(c) && c.node !== victim.port),
    );
    await until("presence converged on every surviving node", async () => {
      const check = await presenceCheck();
      return check.phantom === 0 && check.missing === 0 && check.equal;
    });
    // Converged means after the dead node's ownership (3 heartbeats) and its grace period ran out: the
    // vanished members cannot have left any earlier.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(GRACE_MS);
    for (const node of nodes) expect(node.unhandled).toEqual([]);
  }, 60_000);
});
