/**
 * A reconnect storm inside the grace period, over real sockets: N ResilientSocket + Presence clients on a
 * real `ws` server (127.0.0.1, port 0) running a PresenceHub, all in this process. Once everyone sees
 * everyone, the server drops every socket at once (terminate: no close frame, as a crashed proxy would);
 * the clients come back on their own backoff. Counted after the drop: join/leave events the clients saw,
 * join/leave changes the server put in diff broadcasts, and presence messages up and down per reconnect.
 * With the default grace period all of those join/leave counts must be 0; `graceMs: 0` shows the storm
 * the grace period prevents. Everything is closed before the function returns (or throws).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { isPresenceMessage } from "../../src/internals.js";
import { Presence } from "../../src/presence/index.js";
import { attachPresenceToWs, PresenceHub } from "../../src/server/presence/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { stateOf } from "./hub-figures.js";

export interface ReconnectOptions {
  clients: number;
  /** The hub's grace period. Default 30,000 (the hub's default). */
  graceMs?: number;
  /** The hub's batch. Default 50 (the hub's default). */
  batchMs?: number;
  /** Client backoff; default the library's (decorrelated jitter, base 250 ms). */
  backoff?: { baseMs: number; capMs: number };
  /** Each phase must finish within this. Default 60,000. */
  timeoutMs?: number;
}

export interface ReconnectFigure {
  clients: number;
  graceMs: number;
  /** join + leave events all clients saw after the drop (each other member's, from diffs and answers). */
  joinLeaveEvents: number;
  /** join/leave changes in diff broadcasts the server sent after the drop, summed over recipients. */
  joinLeaveBroadcast: number;
  /** Diff messages the server sent after the drop. */
  diffMessages: number;
  /** Presence messages per reconnect, counted at the server (sync up; answer down). */
  upPerReconnect: number;
  answersPerReconnect: number;
  /** Connections the server saw after the drop. */
  reconnections: number;
  /** Time until every client was connected, synced and seeing all the others (ms). */
  fillMs: number;
  /** Time from the drop until every client was back and synced and no one was away (ms). */
  reconnectMs: number;
}

interface Counts {
  up: number;
  answers: number;
  diffs: number;
  joinLeaveBroadcast: number;
  connections: number;
}

async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function countDown(counts: Counts, text: string): void {
  if (text.startsWith('{"$presence":"diff"')) {
    counts.diffs++;
    const { changes } = JSON.parse(text) as { changes: { op: string }[] };
    for (const change of changes) if (change.op !== "update") counts.joinLeaveBroadcast++;
  } else if (isPresenceMessage(text)) counts.answers++;
}

export async function reconnectInsideGrace(options: ReconnectOptions): Promise<ReconnectFigure> {
  const { clients: n, graceMs = 30_000, batchMs = 50, timeoutMs = 60_000 } = options;
  const hub = new PresenceHub({ graceMs, batchMs });
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  let counts: Counts = { up: 0, answers: 0, diffs: 0, joinLeaveBroadcast: 0, connections: 0 };
  // Registered before the hub's adapter, so the counting wrapper is in place before the hub sends.
  wss.on("connection", (ws: WebSocket) => {
    counts.connections++;
    ws.on("error", () => {});
    ws.on("message", (data) => {
      if (isPresenceMessage(String(data))) counts.up++;
    });
    const send = ws.send.bind(ws);
    ws.send = ((text: string) => {
      countDown(counts, text);
      send(text);
    }) as typeof ws.send;
  });
  const detach = attachPresenceToWs(hub, wss);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  const backoff = options.backoff === undefined ? undefined : decorrelatedJitter(options.backoff);
  const joinLeave = { events: 0 };
  const synced = { count: 0 };
  const clients = Array.from({ length: n }, (_, i) => {
    const socket = new ResilientSocket({
      transport: webSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
      ...(backoff === undefined ? {} : { backoff }),
      circuitBreaker: false,
      connectTimeoutMs: 10_000,
    });
    const presence = new Presence(socket, { space: "office", member: `member-${i}`, initial: stateOf(i) });
    presence.on("join", () => joinLeave.events++);
    presence.on("leave", () => joinLeave.events++);
    presence.on("sync", () => synced.count++);
    return { socket, presence };
  });
  try {
    const started = Date.now();
    await until(
      `${n} clients to see each other`,
      () => clients.every((c) => c.presence.phase === "synced" && c.presence.roster.size === n - 1),
      timeoutMs,
    );
    const fillMs = Date.now() - started;
    // Let the last batch of the fill go out before counting starts.
    await new Promise((resolve) => setTimeout(resolve, batchMs * 4));

    counts = { up: 0, answers: 0, diffs: 0, joinLeaveBroadcast: 0, connections: 0 };
    joinLeave.events = 0;
    synced.count = 0;
    const dropped = Date.now();
    for (const ws of wss.clients) ws.terminate();
    await until(
      "every client back, synced, and seeing all the others",
      () =>
        synced.count >= n &&
        clients.every((c) => c.presence.phase === "synced" && c.presence.roster.size === n - 1) &&
        hub.stats().connections === n &&
        hub.stats().away === 0,
      timeoutMs,
    );
    const reconnectMs = Date.now() - dropped;
    // An observation window for broadcasts that must not come (a batch still pending), not a timing claim.
    await new Promise((resolve) => setTimeout(resolve, batchMs * 4));
    return {
      clients: n,
      graceMs,
      joinLeaveEvents: joinLeave.events,
      joinLeaveBroadcast: counts.joinLeaveBroadcast,
      diffMessages: counts.diffs,
      upPerReconnect: counts.up / counts.connections,
      answersPerReconnect: counts.answers / counts.connections,
      reconnections: counts.connections,
      fillMs,
      reconnectMs,
    };
  } finally {
    await Promise.all(clients.map((c) => c.socket.close()));
    for (const c of clients) c.presence.detach();
    detach();
    hub.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  }
}
