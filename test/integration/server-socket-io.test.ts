/**
 * The server helpers against a real Socket.IO server on 127.0.0.1 (port 0) and real ResilientSocket
 * clients: admission that schedules a storm, and a drain that spreads a deploy's reconnects.
 *
 * Server-side times are `performance.now()` taken in the middleware, before the admission decides, so
 * "next attempt − this attempt ≥ the hint this attempt was given" is a strict check of obedience.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { Server, type Socket as ServerSocket } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { decorrelatedJitter, type HintPayload, ResilientSocket, seededRandom } from "../../src/index.js";
import { systemClock } from "../../src/internals.js";
import { drainSocketIo, OverloadedError, socketIoAdmission } from "../../src/server/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { type Recording, record, waitFor } from "./socket-io-harness.js";

/** Node timers may fire up to 1 ms short of their delay measured with performance.now(). */
const TIMER_SLACK_MS = 1;
/** Upper bounds get this much room on a noisy two-core machine. */
const SLACK_MS = 1_500;

/** One middleware call: when, and the hint it was refused with (none when admitted). */
interface Attempt {
  readonly at: number;
  hint?: HintPayload;
}

interface TestIo {
  readonly io: Server;
  readonly url: string;
  /** Middleware calls per client id (`auth: { id }`), in order. */
  readonly attempts: Map<string, Attempt[]>;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

function clientId(socket: ServerSocket): string {
  const { id } = socket.handshake.auth as { id?: unknown };
  return typeof id === "string" ? id : "anonymous";
}

/** A Socket.IO server whose first middleware records each attempt, then hands it to `admit` (default: admit). */
async function startServer(
  admit: (socket: ServerSocket, next: (err?: Error & { data?: unknown }) => void) => void = (_s, next) =>
    next(),
): Promise<TestIo> {
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"] });
  const attempts = new Map<string, Attempt[]>();
  io.use((socket, next) => {
    const attempt: Attempt = { at: performance.now() };
    const id = clientId(socket);
    attempts.set(id, [...(attempts.get(id) ?? []), attempt]);
    admit(socket, (err) => {
      if (err !== undefined) attempt.hint = err.data as HintPayload;
      next(err);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    io.disconnectSockets(true);
    http.closeAllConnections();
    await io.close();
  });
  return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, attempts };
}

interface TestClient {
  readonly socket: ResilientSocket;
  readonly events: Recording;
}

function startClients(server: TestIo, count: number): Map<string, TestClient> {
  const clients = new Map<string, TestClient>();
  for (let i = 0; i < count; i++) {
    const id = `client-${i}`;
    const socket = new ResilientSocket({
      transport: socketIoTransport({ url: server.url, options: { transports: ["websocket"], auth: { id } } }),
      backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
      circuitBreaker: false,
      connectTimeoutMs: 2_000,
      stableAfterMs: 50,
    });
    clients.set(id, { socket, events: record(socket) });
    cleanups.push(() => socket.close());
  }
  return clients;
}

function connectedCount(server: TestIo): number {
  return server.io.of("/").sockets.size;
}

describe("socketIoAdmission with real clients", () => {
  it("brings 40 clients in through 20/s with about two attempts each, none back before its appointment", async () => {
    const admission = socketIoAdmission({ ratePerSecond: 20, burst: 5 });
    const server = await startServer(admission);
    const clients = startClients(server, 40);

    await waitFor("all 40 clients connected", () => connectedCount(server) === 40, 7_000);

    const all = [...server.attempts.values()];
    const total = all.reduce((sum, attempts) => sum + attempts.length, 0);
    expect(server.attempts.size).toBe(40);
    expect(total / 40).toBeLessThanOrEqual(2.25);
    expect(admission.controller.admitted).toBe(40);
    expect(admission.controller.refused).toBe(total - 40);
    for (const attempts of all) {
      expect(attempts.at(-1)?.hint).toBeUndefined();
      for (let i = 1; i < attempts.length; i++) {
        const previous = attempts[i - 1] as Attempt;
        const gap = (attempts[i] as Attempt).at - previous.at;
        expect(gap).toBeGreaterThanOrEqual((previous.hint?.retryAfterMs ?? 0) - TIMER_SLACK_MS);
      }
    }
    for (const { events } of clients.values()) expect(events.opens).toHaveLength(1);
  });

  it("tells the k-th refused client of a burst to come back about k / rate from now", async () => {
    // The clock the controller reads, remembered, so each appointment is placed on the controller's own
    // time line; and a slow rate, so tokens refilled while 15 handshakes arrive change little.
    let decidedAt = Number.NaN;
    const clock = { ...systemClock, now: () => (decidedAt = systemClock.now()) };
    const admission = socketIoAdmission({ ratePerSecond: 4, burst: 5, refusalCost: 0, clock });
    const appointments: number[] = [];
    const server = await startServer((socket, next) =>
      admission(socket, (err) => {
        if (err instanceof OverloadedError) appointments.push(decidedAt + err.data.retryAfterMs);
        next(err);
      }),
    );
    startClients(server, 15);

    await waitFor("the first attempt of all 15 clients", () => server.attempts.size === 15);

    expect(appointments.length).toBeGreaterThanOrEqual(6);
    // One appointment every 1 / rate = 250 ms, whenever each client arrived (rounded up to whole ms).
    for (let k = 1; k < appointments.length; k++) {
      const spacing = (appointments[k] as number) - (appointments[k - 1] as number);
      expect(Math.abs(spacing - 250)).toBeLessThanOrEqual(1);
    }
  });
});

describe("socketIoAdmission told the budget it announces", () => {
  it("books no one past one window when the herd does not fit soon, and spreads refusals over ten slot spacings", async () => {
    // 1,000 clients at 5/s take 200 s: past max(window, 20 s), so the herd cycles once per 1 s window.
    const admission = socketIoAdmission({
      ratePerSecond: 5,
      burst: 1,
      budgetWindowMs: 1_000,
      budgetPopulation: 1_000,
    });
    const server = await startServer(admission);
    startClients(server, 8);

    await waitFor("all 8 clients connected", () => connectedCount(server) === 8, 10_000);

    const hints = [...server.attempts.values()].flatMap((list) => list.flatMap((a) => a.hint ?? []));
    expect(hints.length).toBeGreaterThan(0);
    for (const hint of hints) {
      expect(hint.retryAfterMs).toBeLessThanOrEqual(1_000);
      // Ten slot spacings of 200 ms, at most spreadMs' default 2,500.
      expect(hint.spreadMs).toBe(2_000);
    }
    expect(hints.some((hint) => hint.retryAfterMs === 1_000)).toBe(true);
    for (const list of server.attempts.values()) {
      for (let i = 1; i < list.length; i++) {
        const previous = list[i - 1] as Attempt;
        const gap = (list[i] as Attempt).at - previous.at;
        expect(gap).toBeGreaterThanOrEqual((previous.hint?.retryAfterMs ?? 0) - TIMER_SLACK_MS);
      }
    }
  });
});

describe("socketIoAdmission plugged straight into io.use", () => {
  it("refuses past the burst with a connect_error the client reads as its appointment", async () => {
    const http = createServer();
    const io = new Server(http, { transports: ["websocket"] });
    io.use(socketIoAdmission({ ratePerSecond: 10, burst: 1, spreadMs: 100, refusalCost: 0 }));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      http.closeAllConnections();
      await io.close();
    });
    const server: TestIo = {
      io,
      url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      attempts: new Map(),
    };
    const clients = [...startClients(server, 2).values()];

    await waitFor("both clients connected", () => connectedCount(server) === 2);

    const retries = clients.flatMap(({ events }) => events.retries);
    expect(retries).toHaveLength(1);
    // Due when the bucket next holds a whole token: 100 ms after the first admission, less the time between.
    expect(retries[0]?.hint).toEqual({ source: "connect-error", delayMs: expect.any(Number), spreadMs: 100 });
    expect(retries[0]?.hint?.delayMs).toBeGreaterThan(50);
    expect(retries[0]?.hint?.delayMs).toBeLessThanOrEqual(100);
    expect(clients.flatMap(({ events }) => events.errors)).toEqual([]);
  });
});

describe("drainSocketIo with real clients", () => {
  it("spreads the reconnects of 20 drained clients across a 1 s window, each no sooner than told", async () => {
    const server = await startServer();
    const clients = startClients(server, 20);
    await waitFor("all 20 clients connected", () => connectedCount(server) === 20, 5_000);

    const drainedAt = performance.now();
    const summary = drainSocketIo(server.io, { windowMs: 1_000, random: seededRandom(11) });
    expect(summary).toEqual({ clients: 20, windowMs: 1_000 });

    await waitFor(
      "all 20 clients reconnected",
      () => [...clients.values()].every(({ events }) => events.opens.length === 2),
      1_000 + SLACK_MS + 1_500,
    );
    const offsets: number[] = [];
    for (const [id, { events }] of clients) {
      const retry = events.retries[0];
      expect(retry?.hint).toMatchObject({ source: "drain" });
      const reconnectAt = server.attempts.get(id)?.[1]?.at ?? Number.NaN;
      const offset = reconnectAt - drainedAt;
      expect(offset).toBeGreaterThanOrEqual((retry?.hint?.delayMs ?? 0) - TIMER_SLACK_MS);
      offsets.push(offset);
    }
    const appointments = [...clients.values()].map(({ events }) => events.retries[0]?.hint?.delayMs);
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

describe("socketIoAdmission against a hostile client", () => {
  it("makes one decision per connection however often a client repeats CONNECT, and closes it after a grace", async () => {
    const admission = socketIoAdmission({ ratePerSecond: 1, burst: 1, refusalCost: 0 });
    const server = await startServer((socket, next) => admission(socket, next));
    // A first client takes the only token.
    const first = new WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    await new Promise((resolve) => first.once("message", resolve));
    const connected = new Promise((resolve) =>
      first.on("message", (m) => String(m).startsWith("40") && resolve(m)),
    );
    first.send("40");
    await connected;
    expect(admission.controller.admitted).toBe(1);
    // The hostile one repeats CONNECT on one refused connection.
    const hostile = new WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    await new Promise((resolve) => hostile.once("message", resolve));
    const closed = new Promise((resolve) => hostile.once("close", resolve));
    for (let i = 0; i < 200; i++) hostile.send("40");
    await closed;
    expect(admission.controller.refused).toBe(1);
    expect(admission.controller.backlogMs(Date.now())).toBeLessThanOrEqual(2_000);
    first.close();
  });
});
