/**
 * One realtime node of the cluster bench, run as a child process (so SIGKILL is a real crash: every socket
 * drops at once and nothing is cleaned up): a `ws` server on 127.0.0.1 with `wsAdmission` (close 1013 with
 * the hint) and a PresenceHub on it.
 *
 *   --port 0 --capacity C --grace-ms G --batch-ms B --store memory|redis [--redis-url U] [--node-id ID]
 *   [--nodes M] [--heartbeat-ms H]
 *
 * `--store memory`: today's in-memory roster and per-node admission (each node admits C/s on its own).
 * `--store redis`: the shared stores (see ./stores.ts).
 *
 * IPC: sends { type: "ready", port }; answers { type: "rosters", spaces } with { type: "rosters", rosters }
 * (member ids per space, as this node's hub sees them) and { type: "stats" } with { type: "stats", ... }
 * (connections, the upgrade attempts it saw per 100 ms since `startedAt`, CPU, RSS).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { attachPresenceToWs, PresenceHub } from "../../src/server/presence/index.js";
import { clusterStores } from "./stores.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    capacity: { type: "string", default: "100" },
    "grace-ms": { type: "string", default: "3000" },
    "batch-ms": { type: "string", default: "50" },
    store: { type: "string", default: "memory" },
    "redis-url": { type: "string" },
    "node-id": { type: "string", default: "node" },
    nodes: { type: "string", default: "3" },
    "heartbeat-ms": { type: "string", default: "2000" },
  },
});
const store = values.store;
if (store !== "memory" && store !== "redis")
  throw new RangeError(`--store must be memory or redis; got ${store}`);

const http = createServer();
const wss = new WebSocketServer({ noServer: true });
const stores = clusterStores(store, {
  capacity: Number(values.capacity),
  nodes: Number(values.nodes),
  nodeId: values["node-id"],
  heartbeatMs: Number(values["heartbeat-ms"]),
  redisUrl: values["redis-url"],
  wss,
  // Every client is on 127.0.0.1: its own id (as a user id would be) keys its admission, not the address.
  key: (request) => new URL(request.url ?? "/", "http://node").searchParams.get("client") ?? undefined,
});
const hub = new PresenceHub({
  graceMs: Number(values["grace-ms"]),
  batchMs: Number(values["batch-ms"]),
  ...(stores.store === undefined ? {} : { store: stores.store }),
});
attachPresenceToWs(hub, wss);
wss.on("connection", (ws) => ws.on("error", () => {}));
const startedAt = Date.now();
const attemptsPer100ms: number[] = [];
http.on("upgrade", (request, socket, head) => {
  const bucket = Math.floor((Date.now() - startedAt) / 100);
  attemptsPer100ms[bucket] = (attemptsPer100ms[bucket] ?? 0) + 1;
  socket.on("error", () => socket.destroy());
  void stores.admission(request, socket, head);
});

http.listen(Number(values.port), "127.0.0.1", () => {
  const { port } = http.address() as AddressInfo;
  process.send?.({ type: "ready", port });
});

process.on("message", async (message: { type?: string; spaces?: string[] }) => {
  if (message?.type === "rosters") {
    const rosters: Record<string, string[]> = {};
    for (const space of message.spaces ?? []) {
      const roster = await hub.readRoster(space);
      rosters[space] = [...roster.keys()];
    }
    process.send?.({ type: "rosters", rosters });
  } else if (message?.type === "stats") {
    const cpu = process.cpuUsage();
    process.send?.({
      type: "stats",
      connections: hub.stats().connections,
      redisCalls: stores.redisCalls(),
      startedAt,
      attemptsPer100ms: Array.from(attemptsPer100ms, (n) => n ?? 0),
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssBytes: process.memoryUsage().rss,
    });
  }
});
// A rejection nobody handled is a bug the node-kill test must see, not a line lost in a child's stderr.
process.on("unhandledRejection", (reason) => {
  process.send?.({ type: "unhandled", reason: String(reason) });
});
process.on("disconnect", () => process.exit(0));
