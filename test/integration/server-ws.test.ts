/**
 * The server helpers on the upgrade path of a real Node HTTP server with `ws` in noServer mode, on
 * 127.0.0.1 (port 0), against real ResilientSocket clients over the `ws` constructor: admission refusing
 * in band (close 1013) and by HTTP (503 + Retry-After), and a drain that spreads a deploy's reconnects.
 *
 * Upgrade times are `performance.now()` taken before the admission decides; each client's `retry` events
 * carry the hint it read, in order, so "next upgrade − this upgrade ≥ the hint this refusal carried" is a
 * strict check that no client came back early.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { ResilientSocket, seededRandom } from "../../src/index.js";
import { drainWs, type WsAdmission, wsAdmission } from "../../src/server/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { EventLog, FAST, TIMER_SLACK_MS, waitFor } from "./ws-harness.js";

/** Upper bounds get this much room on a noisy two-core machine. */
const SLACK_MS = 1_500;

interface TestWs {
  readonly wss: WebSocketServer;
  readonly url: string;
  /** Upgrade request times per client id (`?id=`), in order. */
  readonly upgrades: Map<string, number[]>;
  /** Client ids of the connections the application saw (`connection` events). */
  readonly connections: string[];
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

function clientId(request: IncomingMessage): string {
  return new URL(request.url ?? "/", "http://localhost").searchParams.get("id") ?? "anonymous";
}

/**
 * An HTTP server whose upgrades are recorded, then handed to `admission(wss)` (default: accept all). The
 * application's `connection` handler only records which client it saw.
 */
async function startServer(admission?: (wss: WebSocketServer) => WsAdmission): Promise<TestWs> {
  const http = createServer((_request, response) => response.writeHead(426).end());
  const wss = new WebSocketServer({ noServer: true });
  const upgrades = new Map<string, number[]>();
  const connections: string[] = [];
  const admit = admission?.(wss);
  wss.on("connection", (ws: WebSocket, request: IncomingMessage) => {
    ws.on("error", () => {});
    connections.push(clientId(request));
  });
  http.on("upgrade", (request: IncomingMessage) => {
    const id = clientId(request);
    upgrades.set(id, [...(upgrades.get(id) ?? []), performance.now()]);
  });
  // The admission is the upgrade listener itself, as the README shows.
  if (admit !== undefined) http.on("upgrade", admit);
  else {
    http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request)),
    );
  }
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  });
  return { wss, url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`, upgrades, connections };
}

interface TestClient {
  readonly socket: ResilientSocket;
  readonly log: EventLog;
}

function startClients(server: TestWs, count: number): Map<string, TestClient> {
  const clients = new Map<string, TestClient>();
  for (let i = 0; i < count; i++) {
    const id = `client-${i}`;
    const socket = new ResilientSocket({
      transport: webSocketTransport({
        url: `${server.url}?id=${id}`,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
      }),
      ...FAST,
      connectTimeoutMs: 2_000,
    });
    clients.set(id, { socket, log: new EventLog(socket) });
    cleanups.push(() => socket.close());
  }
  return clients;
}

function openCount(clients: Map<string, TestClient>): number {
  return [...clients.values()].filter(({ socket }) => socket.state === "open").length;
}

/** Checks every client came back no sooner than each hint it read; returns attempts per client. */
function expectAppointmentsKept(server: TestWs, clients: Map<string, TestClient>): number {
  let total = 0;
  for (const [id, { log }] of clients) {
    const upgrades = server.upgrades.get(id) ?? [];
    const retries = log.values("retry");
    total += upgrades.length;
    expect(retries).toHaveLength(upgrades.length - 1);
    for (let i = 1; i < upgrades.length; i++) {
      const gap = (upgrades[i] as number) - (upgrades[i - 1] as number);
      expect(gap).toBeGreaterThanOrEqual((retries[i - 1]?.hint?.delayMs ?? 0) - TIMER_SLACK_MS);
    }
  }
  return total / clients.size;
}

describe("wsAdmission with real clients", () => {
  it("brings 40 clients in through 20/s refusing with close 1013, about two attempts each, none early", async () => {
    let admission: WsAdmission | undefined;
    const server = await startServer((wss) => {
      admission = wsAdmission({ ratePerSecond: 20, burst: 5, spreadMs: 500, wss });
      return admission;
    });
    const clients = startClients(server, 40);

    // A client refused in band is briefly open too: wait for the application to have seen all 40.
    await waitFor(
      "all 40 clients admitted and open",
      () => server.connections.length === 40 && openCount(clients) === 40,
      7_000,
    );

    const perClient = expectAppointmentsKept(server, clients);
    expect(perClient).toBeLessThanOrEqual(2.25);
    expect(admission?.controller.admitted).toBe(40);
    const hinted = [...clients.values()].flatMap(({ log }) => log.values("retry").map((retry) => retry.hint));
    expect(hinted.every((hint) => hint?.source === "close-code" && hint.code === 1013)).toBe(true);
    // Refused upgrades never reach the application.
    expect(server.connections.sort()).toEqual([...clients.keys()].sort());
  });

  it("brings 20 clients in through 20/s refusing with HTTP 503, and Node clients wait the Retry-After", async () => {
    let admission: WsAdmission | undefined;
    const server = await startServer((wss) => {
      admission = wsAdmission({ ratePerSecond: 20, burst: 5, wss, refuseWith: "http-503" });
      return admission;
    });
    const clients = startClients(server, 20);

    await waitFor(
      "all 20 clients admitted and open",
      () => server.connections.length === 20 && openCount(clients) === 20,
      7_000,
    );

    const perClient = expectAppointmentsKept(server, clients);
    // Whole seconds put every client refused in the same second on the same beat: more retries than 1013.
    expect(perClient).toBeLessThanOrEqual(3);
    expect(admission?.controller.admitted).toBe(20);
    const hints = [...clients.values()].flatMap(({ log }) => log.values("retry").map((retry) => retry.hint));
    expect(hints.length).toBeGreaterThan(0);
    for (const hint of hints) {
      expect(hint).toMatchObject({ source: "retry-after", code: 503 });
      expect((hint?.delayMs ?? 0) % 1_000).toBe(0);
      expect(hint?.delayMs).toBeGreaterThanOrEqual(1_000);
    }
    expect(server.connections).toHaveLength(20);
  });
});

describe("wsAdmission told the budget it announces", () => {
  it("books no one past one window when the herd does not fit soon, and spreads refusals over ten slot spacings", async () => {
    let admission: WsAdmission | undefined;
    const server = await startServer((wss) => {
      // 1,000 clients at 5/s take 200 s: past max(window, 20 s), so the herd cycles once per 1 s window.
      admission = wsAdmission({
        ratePerSecond: 5,
        burst: 1,
        wss,
        budgetWindowMs: 1_000,
        budgetPopulation: 1_000,
      });
      return admission;
    });
    const clients = startClients(server, 8);

    await waitFor(
      "all 8 clients admitted and open",
      () => server.connections.length === 8 && openCount(clients) === 8,
      10_000,
    );

    expectAppointmentsKept(server, clients);
    const hints = [...clients.values()].flatMap(({ log }) => log.values("retry").map((retry) => retry.hint));
    expect(hints.length).toBeGreaterThan(0);
    for (const hint of hints) {
      expect(hint?.delayMs).toBeLessThanOrEqual(1_000);
      // Ten slot spacings of 200 ms (at most spreadMs' 2,500), cut so delay + spread stays in the ceiling.
      if (hint?.spreadMs !== undefined) expect(hint.spreadMs).toBe(2_000);
    }
    expect(hints.some((hint) => hint?.delayMs === 1_000)).toBe(true);
    expect(admission?.controller.options.budgetPopulation).toBe(1_000);
  });
});

describe("drainWs with real clients", () => {
  it("spreads the reconnects of 20 drained clients across a 1 s window, each no sooner than told", async () => {
    const server = await startServer();
    const clients = startClients(server, 20);
    await waitFor("all 20 clients open", () => openCount(clients) === 20, 5_000);

    const drainedAt = performance.now();
    const summary = drainWs(server.wss, { windowMs: 1_000, random: seededRandom(5) });
    expect(summary).toEqual({ clients: 20, windowMs: 1_000 });

    await waitFor(
      "all 20 clients reconnected",
      () => [...clients.values()].every(({ log }) => log.values("open").length === 2),
      1_000 + SLACK_MS + 1_500,
    );
    const offsets: number[] = [];
    for (const [id, { log }] of clients) {
      const retry = log.values("retry")[0];
      expect(retry?.hint).toMatchObject({ source: "close-code", code: 1012 });
      const offset = (server.upgrades.get(id)?.[1] ?? Number.NaN) - drainedAt;
      expect(offset).toBeGreaterThanOrEqual((retry?.hint?.delayMs ?? 0) - TIMER_SLACK_MS);
      offsets.push(offset);
    }
    const appointments = [...clients.values()].map(({ log }) => log.values("retry")[0]?.hint?.delayMs);
    expect(new Set(appointments).size).toBe(20);
    expect(offsets.filter((offset) => offset < 100).length).toBeLessThanOrEqual(5);
    // Evenly spaced appointments put about 5 of 20 in each quarter of the window.
    const quarters = [0, 1, 2, 3].map(
      (q) => offsets.filter((offset) => offset >= q * 250 && (q === 3 || offset < (q + 1) * 250)).length,
    );
    expect(Math.min(...quarters)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...offsets)).toBeLessThan(1_000 + SLACK_MS);
  });
});
