/**
 * A real consumer end to end on loopback: ShareDB's client `Connection` over a ResilientWebSocket (with
 * `queue: false`, as ShareDB asks of reconnecting sockets), the server `sharedb` + `ws` +
 * @teamwork/websocket-json-stream. The WebSocket server restarts (crash: every connection cut, port closed)
 * while the ShareDB backend and its database stay; ops submitted before and during the outage must each be
 * applied exactly once after the server is back.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import WebSocketJSONStream from "@teamwork/websocket-json-stream";
import ShareDB from "sharedb";
import { Connection } from "sharedb/lib/client/index.js";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { ResilientWebSocket } from "../../src/websocket.js";
import { NodeWebSocket } from "./resilient-websocket-harness.js";
import { CountingClock, FAST, quietFor, waitFor } from "./ws-harness.js";

/** The WebSocket half of a ShareDB server: it can crash and come back on the same port; the backend stays. */
class ShareDbServer {
  readonly backend = new ShareDB();
  /** Connections accepted since the start, over every restart. */
  accepted = 0;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private port = 0;

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<void> {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    wss.on("connection", (ws) => {
      this.accepted++;
      this.backend.listen(new WebSocketJSONStream(ws));
    });
    await new Promise<void>((resolve) => http.listen(this.port, "127.0.0.1", resolve));
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.wss = wss;
  }

  /** Like a crashed process: every connection cut, nothing listening. The backend and its db remain. */
  async crash(): Promise<void> {
    const { http, wss } = this;
    if (http === undefined || wss === undefined) return;
    this.http = undefined;
    this.wss = undefined;
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

function call<T>(fn: (callback: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
}

async function setup(): Promise<{
  server: ShareDbServer;
  socket: ResilientWebSocket;
  connection: Connection;
  clock: CountingClock;
}> {
  const server = new ShareDbServer();
  await server.start();
  const clock = new CountingClock();
  const socket = new ResilientWebSocket(server.url, undefined, {
    ...FAST,
    WebSocket: NodeWebSocket,
    queue: false,
    clock,
  });
  const connection = new Connection(socket);
  cleanups.push(async () => {
    connection.close();
    socket.close();
    await server.crash();
  });
  return { server, socket, connection, clock };
}

describe("ShareDB over a ResilientWebSocket", () => {
  it("applies every op submitted around a server restart exactly once after it returns", async () => {
    const { server, socket, connection, clock } = await setup();
    const doc = connection.get("lists", "restart");
    // One op per submit, so the count on the server is the count submitted (ShareDB may otherwise merge them).
    doc.preventCompose = true;
    await call((cb) => doc.create({ items: [] }, cb));
    await waitFor("ShareDB connected", () => connection.state === "connected");

    const N = 100;
    const acknowledged: number[] = [];
    const submit = (i: number) =>
      doc.submitOp([{ p: ["items", i], li: i }], (error) => {
        if (error) throw error;
        acknowledged.push(i);
      });
    // Half in flight as the server dies, half while it is down.
    for (let i = 0; i < N / 2; i++) submit(i);
    await server.crash();
    await waitFor("ShareDB to see the drop", () => connection.state === "disconnected");
    for (let i = N / 2; i < N; i++) submit(i);
    await quietFor(100);
    expect(doc.hasPending()).toBe(true);

    await server.start();
    await new Promise<void>((resolve) => doc.whenNothingPending(resolve));
    expect(acknowledged.sort((a, b) => a - b)).toEqual([...Array(N).keys()]);

    // The server's view: the snapshot and the op log, from a fresh server-side connection.
    const check = server.backend.connect().get("lists", "restart");
    await call((cb) => check.fetch(cb));
    const items = (check.data as { items: number[] }).items;
    const ops = await call<{ op?: unknown[] }[]>((cb) =>
      server.backend.db.getOps("lists", "restart", 1, null, {}, cb),
    );
    const applied = ops.map((o) => (o.op?.[0] as { li: number } | undefined)?.li);
    const duplicates = applied.length - new Set(applied).size;
    expect(applied).toHaveLength(N);
    expect(duplicates).toBe(0);
    expect([...items].sort((a, b) => a - b)).toEqual([...Array(N).keys()]);
    expect(check.version).toBe(N + 1);
    expect(server.accepted).toBeGreaterThanOrEqual(2);
    expect(socket.readyState).toBe(socket.OPEN);
    console.info(`ShareDB restart: ${applied.length}/${N} ops applied, ${duplicates} duplicates`);
    connection.close();
    expect(socket.readyState).toBe(socket.CLOSED);
    expect(clock.pending).toBe(0);
  });

  it("follows ShareDB's states through an outage, and close() ends it for good", async () => {
    const { server, socket, connection } = await setup();
    const states: string[] = [];
    connection.on("state", (state) => states.push(String(state)));
    await waitFor("connected", () => connection.state === "connected");
    await server.crash();
    await waitFor("disconnected", () => connection.state === "disconnected");
    await server.start();
    await waitFor("connected again", () => connection.state === "connected");
    const accepted = server.accepted;
    // ShareDB's close() closes the socket; with any WebSocket it then reads "disconnected".
    connection.close();
    expect(socket.readyState).toBe(socket.CLOSED);
    await waitFor("disconnected", () => connection.state === "disconnected");
    await quietFor(300);
    expect(server.accepted).toBe(accepted);
    expect(states).toEqual(["connected", "disconnected", "connecting", "connected", "disconnected"]);
  });
});
