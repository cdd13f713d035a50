/**
 * The cluster bench's population: N ResilientSocket + Presence clients in one process, each picking one of
 * the nodes at random on every connection attempt (its `url()` function, as a balancer would). A node
 * keeps its share of the picks until the parent says it is down ({ type: "down", port }: the balancer's
 * health check noticed; until then attempts on a dead node are refused at once). Client i is member
 * `m-i` of space `room-⌊i / spaceSize⌋`, and is "on" a node once its presence is synced there.
 *
 *   --ports P1,P2,P3 --clients N --space-size S
 *
 * IPC: sends { type: "progress", synced, perNode } every 100 ms; answers { type: "members" } with the synced
 * members and their node, and { type: "probe", count } with presence update latencies (a member sets its
 * emoji; the time until each other member of its space sees it, split by same node / other node).
 * Closes everything on { type: "stop" }.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { ResilientSocket } from "../../src/index.js";
import { Presence } from "../../src/presence/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { stateOf } from "../presence/hub-figures.js";

const { values } = parseArgs({
  options: {
    ports: { type: "string" },
    clients: { type: "string", default: "1500" },
    "space-size": { type: "string", default: "50" },
  },
});
const ports = (values.ports ?? "").split(",").map(Number);
const count = Number(values.clients);
const spaceSize = Number(values["space-size"]);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0))
  throw new RangeError(`--ports must list the nodes' ports; got ${values.ports}`);

interface Client {
  readonly index: number;
  readonly member: string;
  readonly space: string;
  readonly socket: ResilientSocket;
  readonly presence: Presence;
  /** The node of the attempt under way. */
  picked: number;
  /** The node its presence is synced on, while synced. */
  node: number | undefined;
}

const clients: Client[] = [];
/** Nodes the balancer's health check has taken out. */
const down = new Set<number>();
/** Probe tag → [sent at, writer's node]; receipts are recorded per observer. */
const probes = new Map<string, { sentAt: number; node: number; space: string; writer: string }>();
const receipts: { tag: string; latencyMs: number; sameNode: boolean }[] = [];

function onSeen(observer: Client, member: { id: string; state: Readonly<Record<string, unknown>> }) {
  const tag = member.state.emoji;
  if (typeof tag !== "string") return;
  const probe = probes.get(tag);
  if (probe === undefined || probe.writer !== member.id) return;
  receipts.push({ tag, latencyMs: performance.now() - probe.sentAt, sameNode: observer.node === probe.node });
}

for (let index = 0; index < count; index++) {
  const client = {
    index,
    member: `m-${index}`,
    space: `room-${Math.floor(index / spaceSize)}`,
    picked: 0,
    node: undefined,
  } as Omit<Client, "socket" | "presence"> as Client;
  const socket = new ResilientSocket({
    transport: webSocketTransport({
      url: () => {
        const healthy = ports.filter((p) => !down.has(p));
        const pool = healthy.length > 0 ? healthy : ports;
        client.picked = pool[Math.floor(Math.random() * pool.length)] as number;
        return `ws://127.0.0.1:${client.picked}/?client=${index}`;
      },
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    }),
  });
  // The state bench:presence measures its 612 B per member with: a room, an emoji and a layout position.
  const presence = new Presence(socket, {
    space: client.space,
    member: client.member,
    initial: stateOf(index),
  });
  Object.assign(client, { socket, presence });
  presence.on("sync", () => {
    client.node = client.picked;
  });
  socket.on("close", () => {
    client.node = undefined;
  });
  socket.on("error", () => {}); // refusals by the killed node are counted by the bench, not warned about
  presence.on("update", ({ member }) => onSeen(client, member));
  presence.on("join", ({ member }) => onSeen(client, member));
  clients.push(client);
}

const synced = () => clients.filter((c) => c.node !== undefined && c.presence.phase === "synced");

const ticker = setInterval(() => {
  const perNode: Record<number, number> = {};
  const live = synced();
  for (const c of live) perNode[c.node as number] = (perNode[c.node as number] ?? 0) + 1;
  process.send?.({ type: "progress", synced: live.length, perNode });
}, 100);

async function probe(total: number) {
  probes.clear();
  receipts.length = 0;
  const expected = { sameNode: 0, crossNode: 0 };
  for (let k = 0; k < total; k++) {
    const live = synced();
    const writer = live[Math.floor(Math.random() * live.length)];
    if (writer === undefined) break;
    const tag = `p${k}`;
    for (const other of live) {
      if (other === writer || other.space !== writer.space) continue;
      if (other.node === writer.node) expected.sameNode++;
      else expected.crossNode++;
    }
    probes.set(tag, {
      sentAt: performance.now(),
      node: writer.node as number,
      space: writer.space,
      writer: writer.member,
    });
    writer.presence.set("emoji", tag);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Time for the last updates to arrive (or not, when the nodes share nothing).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const pick = (same: boolean) => receipts.filter((r) => r.sameNode === same).map((r) => r.latencyMs);
  return { expected, sameNodeMs: pick(true), crossNodeMs: pick(false) };
}

process.on("message", async (message: { type?: string; count?: number; port?: number }) => {
  if (message?.type === "down" && typeof message.port === "number") down.add(message.port);
  else if (message?.type === "members") {
    process.send?.({
      type: "members",
      members: synced().map((c) => ({ member: c.member, space: c.space, node: c.node })),
    });
  } else if (message?.type === "probe") {
    process.send?.({ type: "probe", ...(await probe(message.count ?? 100)) });
  } else if (message?.type === "stop") {
    clearInterval(ticker);
    for (const c of clients) void c.socket.close();
    setTimeout(() => process.exit(0), 300).unref();
  }
});
process.on("disconnect", () => process.exit(0));
