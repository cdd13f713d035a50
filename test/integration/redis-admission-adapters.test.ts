/**
 * wsAdmission and socketIoAdmission on the shared schedule: two real servers (two nodes in one process, on
 * 127.0.0.1 port 0) with one redis-server admit the configured burst together, not each; refusals reach
 * real clients as close 1013 / connect_error with the hint; and while Redis hangs, at most `maxPending`
 * upgrades wait for it — the rest are answered at once with a 503.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import type { Duplex } from "node:stream";
import { Redis } from "ioredis";
import { Server as IoServer } from "socket.io";
import { io as ioClient } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { socketIoAdmission, type WsScheduledAdmission, wsAdmission } from "../../src/server/index.js";
import { type RedisAdmissionOptions, redisAdmission } from "../../src/server/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

let server: RedisServer;
const cleanups: Array<() => Promise<void> | void> = [];
let run = 0;

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  server.resume();
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});
afterAll(async () => {
  await server.stop();
});

async function redisClient(): Promise<Redis> {
  const redis = new Redis(server.port, "127.0.0.1", { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  redis.on("error", () => {});
  cleanups.push(() => redis.disconnect());
  for (let i = 0; i < 200 && redis.status !== "ready"; i++) await new Promise((r) => setTimeout(r, 10));
  return redis;
}

async function listen(http: Server): Promise<number> {
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  );
  return (http.address() as AddressInfo).port;
}

/** A `ws` node: admission on the shared schedule, the application's sockets kept open. */
async function wsNode(
  schedule: Omit<RedisAdmissionOptions, "redis">,
  maxPending?: number,
): Promise<{ url: string; admission: WsScheduledAdmission; connections: () => number }> {
  const wss = new WebSocketServer({ noServer: true });
  const admission = wsAdmission({
    wss,
    // Every test client comes from 127.0.0.1: each is its own key by its URL, as a user id would be.
    key: (request) => request.url,
    schedule: redisAdmission({ ...schedule, redis: await redisClient() }),
    ...(maxPending === undefined ? {} : { maxPending }),
  });
  let connections = 0;
  wss.on("connection", (ws: WebSocket) => {
    connections++;
    ws.on("error", () => {});
  });
  const http = createServer((_q, response) => response.writeHead(426).end());
  http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void admission(request, socket, head);
  });
  cleanups.push(() => {
    for (const ws of wss.clients) ws.terminate();
  });
  return { url: `ws://127.0.0.1:${await listen(http)}/`, admission, connections: () => connections };
}

type Outcome =
  | { kind: "open" }
  | { kind: "1013"; reason: string }
  | { kind: "http"; status: number; retryAfter?: string };

/** Opens one raw `ws` client and reports how the server answered. */
function attempt(url: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    cleanups.push(() => ws.terminate());
    ws.on("error", () => {});
    let opened = false;
    ws.on("open", () => {
      opened = true;
      // An admitted socket stays open; a refused one is closed at once with 1013 (the close comes next).
      setTimeout(() => resolve({ kind: "open" }), 150);
    });
    ws.on("close", (code, reason) => {
      if (code === 1013) resolve({ kind: "1013", reason: reason.toString() });
      else if (!opened) resolve({ kind: "http", status: code });
    });
    ws.on("unexpected-response", (_request, response) => {
      resolve({
        kind: "http",
        status: response.statusCode ?? 0,
        retryAfter: response.headers["retry-after"],
      });
      response.resume();
    });
  });
}

describe("wsAdmission on the shared schedule", () => {
  it("admits the burst once across two nodes and tells every refused client its slot", async () => {
    const options = { ratePerSecond: 1, burst: 2, prefix: `ws${run++}:`, nodes: 2, commandTimeoutMs: 5_000 };
    const [a, b] = await Promise.all([wsNode(options), wsNode(options)]);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => attempt(`${(i % 2 ? a : b).url}?id=${i}`)),
    );
    expect(outcomes.filter((o) => o.kind === "open").length).toBe(2);
    const refused = outcomes.filter((o): o is Extract<Outcome, { kind: "1013" }> => o.kind === "1013");
    expect(refused.length).toBe(6);
    const waits = refused
      .map((o) => (JSON.parse(o.reason) as { retryAfterMs: number }).retryAfterMs)
      .sort((x, y) => x - y);
    // Six slots one second apart (C = 1/s), whichever node refused: one order for both.
    for (let i = 1; i < waits.length; i++) {
      expect((waits[i] as number) - (waits[i - 1] as number)).toBeGreaterThan(900);
    }
  });

  it("holds at most maxPending upgrades while Redis hangs and answers the rest at once with 503", async () => {
    const node = await wsNode(
      { ratePerSecond: 10, burst: 10, prefix: `pending${run++}:`, nodes: 2, commandTimeoutMs: 1_500 },
      2,
    );
    server.pause();
    const started = Date.now();
    const outcomes = Array.from({ length: 6 }, (_, i) => attempt(`${node.url}?id=${i}`));
    const early = await Promise.race([
      Promise.all(outcomes.slice(2)),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000)),
    ]);
    expect(early).toBeDefined();
    expect(Date.now() - started).toBeLessThan(1_000);
    for (const outcome of early ?? [])
      expect(outcome).toEqual({ kind: "http", status: 503, retryAfter: "1" });
    expect(node.admission.pending).toBe(2);
    expect(node.admission.refusedPending).toBe(4);
    server.resume();
    // The two that waited are decided once Redis answers (or the command times out): admitted.
    expect(await Promise.all(outcomes.slice(0, 2))).toEqual([{ kind: "open" }, { kind: "open" }]);
    expect(node.admission.pending).toBe(0);
  });

  it("survives clients that reset while their decision is awaited, and hands none of them on", async () => {
    const node = await wsNode(
      { ratePerSecond: 10, burst: 10, prefix: `reset${run++}:`, nodes: 2, commandTimeoutMs: 1_500 },
      10,
    );
    server.pause();
    const { port } = new URL(node.url);
    for (let i = 0; i < 5; i++) {
      const tcp = connect(Number(port), "127.0.0.1");
      tcp.on("error", () => {});
      await new Promise<void>((resolve) => tcp.once("connect", () => resolve()));
      tcp.write(
        `GET /?id=r${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      for (let t = 0; t < 100 && node.admission.pending <= i; t++) await new Promise((r) => setTimeout(r, 5));
      tcp.resetAndDestroy();
    }
    expect(node.admission.pending).toBe(5);
    server.resume();
    for (let t = 0; t < 300 && node.admission.pending > 0; t++) await new Promise((r) => setTimeout(r, 10));
    expect(node.admission.pending).toBe(0);
    expect(node.connections()).toBe(0);
    // The node still serves.
    expect(await attempt(`${node.url}?id=after`)).toEqual({ kind: "open" });
  });

  it("refuses a schedule option beside a rate, and a schedule without decide, naming the option", () => {
    const wss = new WebSocketServer({ noServer: true });
    const schedule = { decide: () => ({ admit: true }) as const };
    expect(() => wsAdmission({ wss, schedule, ratePerSecond: 5 } as never)).toThrow(
      /ratePerSecond belongs to the schedule/,
    );
    expect(() => wsAdmission({ wss, schedule: {} } as never)).toThrow(/schedule must have decide/);
    expect(() => wsAdmission({ wss, schedule, maxPending: 0 })).toThrow(/maxPending must be an integer >= 1/);
  });
});

describe("socketIoAdmission on the shared schedule", () => {
  it("admits the burst once across two Socket.IO nodes and refuses the rest with their hint", async () => {
    const options = { ratePerSecond: 1, burst: 2, prefix: `io${run++}:`, nodes: 2, commandTimeoutMs: 5_000 };
    const urls: string[] = [];
    for (let n = 0; n < 2; n++) {
      const http = createServer();
      const io = new IoServer(http);
      io.use(
        socketIoAdmission({
          schedule: redisAdmission({ ...options, redis: await redisClient() }),
          key: (handshake) => String(handshake.auth?.id),
        }),
      );
      cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
      urls.push(`http://127.0.0.1:${await listen(http)}`);
    }
    const results = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) =>
          new Promise<{ connected: boolean; retryAfterMs?: number }>((resolve) => {
            const socket = ioClient(urls[i % 2] as string, {
              reconnection: false,
              transports: ["websocket"],
              forceNew: true,
              auth: { id: String(i) },
            });
            cleanups.push(() => {
              socket.close();
            });
            socket.on("connect", () => resolve({ connected: true }));
            socket.on("connect_error", (error: Error & { data?: { retryAfterMs: number } }) =>
              resolve({ connected: false, retryAfterMs: error.data?.retryAfterMs }),
            );
          }),
      ),
    );
    expect(results.filter((r) => r.connected).length).toBe(2);
    const waits = results.filter((r) => !r.connected).map((r) => r.retryAfterMs as number);
    expect(waits.length).toBe(4);
    expect(new Set(waits.map((w) => Math.round(w / 1000))).size).toBe(4);
  });

  it("holds at most maxPending connections while Redis hangs and refuses the rest at once with a hint", async () => {
    const http = createServer();
    const io = new IoServer(http);
    const admission = socketIoAdmission({
      schedule: redisAdmission({
        ratePerSecond: 10,
        burst: 10,
        prefix: `iopending${run++}:`,
        nodes: 2,
        commandTimeoutMs: 1_500,
        redis: await redisClient(),
      }),
      key: (handshake) => String(handshake.auth?.id),
      maxPending: 2,
    });
    io.use(admission);
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    const url = `http://127.0.0.1:${await listen(http)}`;
    server.pause();
    const started = Date.now();
    const results: Array<Promise<{ connected: boolean; retryAfterMs?: number; atMs: number }>> = [];
    for (let i = 0; i < 5; i++) {
      results.push(
        new Promise((resolve) => {
          const socket = ioClient(url, {
            reconnection: false,
            transports: ["websocket"],
            forceNew: true,
            auth: { id: String(i) },
          });
          cleanups.push(() => {
            socket.close();
          });
          socket.on("connect", () => resolve({ connected: true, atMs: Date.now() - started }));
          socket.on("connect_error", (error: Error & { data?: { retryAfterMs: number } }) =>
            resolve({ connected: false, retryAfterMs: error.data?.retryAfterMs, atMs: Date.now() - started }),
          );
        }),
      );
      // In order: the first two are the ones waiting.
      for (let t = 0; t < 100 && admission.pending + admission.refusedPending <= i; t++) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const refused = await Promise.all(results.slice(2));
    for (const result of refused) {
      expect(result.connected).toBe(false);
      expect(result.retryAfterMs).toBe(1_000);
      expect(result.atMs).toBeLessThan(1_000);
    }
    expect(admission.pending).toBe(2);
    expect(admission.refusedPending).toBe(3);
    server.resume();
    expect((await Promise.all(results.slice(0, 2))).map((r) => r.connected)).toEqual([true, true]);
    expect(admission.pending).toBe(0);
  });
});
