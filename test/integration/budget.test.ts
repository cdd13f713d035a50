/**
 * The connect-time reconnect budget against real servers on 127.0.0.1, over both transports: the server
 * announces it in its first message (a `ws` text frame, a Socket.IO event) with the library's own
 * `reconnectBudget`; the app never sees it; when the server then vanishes without a word, the client's next
 * attempt waits for its own slot in the announced window instead of its backoff, and comes back when the
 * server does. Hostile budgets end in an `error` event and bounded waits.
 */
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { ResilientSocket, type RetryEvent } from "../../src/index.js";
import { encodeBudgetFrame } from "../../src/internals.js";
import { reconnectBudget } from "../../src/server/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { TestServer as IoServer } from "./socket-io-harness.js";
import { closeAll, EventLog, FAST, startClient, startServer } from "./ws-harness.js";

/** Two clients at one admit a second: W = 2 s. */
const budget = reconnectBudget({ population: 2, ratePerSecond: 1, validForMs: 60_000, headroom: 1 });
const ioServers: IoServer[] = [];
const ioClients: ResilientSocket[] = [];

afterEach(async () => {
  await closeAll();
  await Promise.all(ioClients.splice(0).map((socket) => socket.close()));
  await Promise.all(ioServers.splice(0).map((server) => server.dispose()));
});

describe("budget over a plain WebSocket", () => {
  it("swallows the budget frame, hands the app its messages untouched, and paces the way back by the window", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => {
      budget.sendTo(ws);
      ws.send('{"resilient":"not a budget","windowMs":1}');
    };
    const { log } = startClient(server, { stableAfterMs: 10 });
    expect((await log.nth("message", 1)).value).toBe('{"resilient":"not a budget","windowMs":1}');
    expect(log.values("error")).toEqual([]);
    await log.nth("open", 1);
    await new Promise((resolve) => setTimeout(resolve, 30)); // past stableAfterMs
    await server.stop();
    const stoppedAt = performance.now();
    const retry = (await log.nth("retry", 1)).value as RetryEvent;
    expect(retry.cause).toBe("budget");
    expect(retry.delayMs).toBeGreaterThan(0);
    expect(retry.delayMs).toBeLessThanOrEqual(2_000);
    await server.listen();
    const back = await log.nth("open", 2, 6_000);
    // Back within two windows of the crash, whatever the phase (one attempt may hit the dead port).
    expect(back.at - stoppedAt).toBeLessThan(4_000 + 500);
    expect(log.values("message")).toHaveLength(2);
  });

  it("reports a hostile budget frame (window 0, validity 10^15 ms) and still retries at most once a second", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => ws.send(encodeBudgetFrame({ windowMs: 0, validForMs: 1e15 }));
    const { log } = startClient(server, { stableAfterMs: 10 });
    const error = await log.nth("error", 1);
    expect(error.value.code).toBe("BAD_HINT");
    expect(log.values("message")).toEqual([]);
    await server.stop();
    const retry = (await log.nth("retry", 1)).value as RetryEvent;
    expect(retry.cause).toBe("budget");
    expect(retry.delayMs).toBeLessThanOrEqual(1_000);
    const second = (await log.nth("retry", 2)).value as RetryEvent;
    expect(second.cause).toBe("budget");
    // The window floor: the next slot is a whole second after the one whose attempt just failed (a refused
    // connection fails within milliseconds on loopback).
    expect(second.delayMs).toBeGreaterThan(1_000 - 200);
    expect(second.delayMs).toBeLessThanOrEqual(1_000);
  });

  it("ignores an oversized budget frame with an error and keeps its own backoff", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) =>
      ws.send(`{"resilient:budget":{"windowMs":5000,"pad":"${"x".repeat(1_000)}"}}`);
    const { log } = startClient(server, { stableAfterMs: 10 });
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    await server.stop();
    expect(((await log.nth("retry", 1)).value as RetryEvent).cause).toBe("backoff");
  });
});

describe("budget over Socket.IO", () => {
  async function startIo(): Promise<IoServer> {
    const server = await IoServer.start(undefined, {
      onConnection: (socket) => {
        budget.emitTo(socket);
        socket.on("message", (data: unknown) => socket.emit("message", { echo: data }));
      },
    });
    ioServers.push(server);
    return server;
  }

  it("reads the budget event, keeps it out of the app's messages, and paces the way back by the window", async () => {
    const server = await startIo();
    const socket = new ResilientSocket({
      transport: socketIoTransport({ url: server.url, options: { transports: ["websocket"] } }),
      ...FAST,
      stableAfterMs: 10,
    });
    ioClients.push(socket);
    const log = new EventLog(socket);
    await log.nth("open", 1);
    socket.send("hi");
    expect((await log.nth("message", 1)).value).toEqual({ echo: "hi" });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await server.close();
    const stoppedAt = performance.now();
    const retry = (await log.nth("retry", 1)).value as RetryEvent;
    expect(retry.cause).toBe("budget");
    expect(retry.delayMs).toBeLessThanOrEqual(2_000);
    await server.listen();
    const back = await log.nth("open", 2, 6_000);
    expect(back.at - stoppedAt).toBeLessThan(4_000 + 500);
    expect(log.values("message")).toEqual([{ echo: "hi" }]);
    expect(log.values("error").filter((e) => e.code === "BAD_HINT")).toEqual([]);
  });

  it("reports a hostile budget event (a string) and keeps its own backoff", async () => {
    const server = await IoServer.start(undefined, {
      onConnection: (socket) => void socket.emit("resilient:budget", "x".repeat(100_000)),
    });
    ioServers.push(server);
    const socket = new ResilientSocket({
      transport: socketIoTransport({ url: server.url, options: { transports: ["websocket"] } }),
      ...FAST,
      stableAfterMs: 10,
    });
    ioClients.push(socket);
    const log = new EventLog(socket);
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    expect((await log.nth("error", 1)).value.message.length).toBeLessThan(300);
    await server.close();
    expect(((await log.nth("retry", 1)).value as RetryEvent).cause).toBe("backoff");
  });
});
