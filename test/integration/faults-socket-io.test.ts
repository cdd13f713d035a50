/**
 * The faults of `faults-ws.test.ts`, over Socket.IO against a real `socket.io` server on 127.0.0.1: a server
 * killed mid-send (at-least-once delivery with the server's de-duplication: every message takes effect
 * exactly once), a half-open link (caught by Socket.IO's own ping/pong), a hanging handshake, a server that
 * accepts and drops forever, and 1 MB messages. Waits are event-driven; upper bounds are generous for a
 * shared two-core machine.
 */
import { performance } from "node:perf_hooks";
import type { Socket as ServerSocket } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import {
  atLeastOnce,
  decorrelatedJitter,
  exponentialNoJitter,
  ResilientSocket,
  type ResilientSocketOptions,
} from "../../src/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { CrashingProcess } from "../helpers/crashing-process.js";
import { FaultProxy } from "./fault-proxy.js";
import { type Middleware, TestServer, type TestServerOptions } from "./socket-io-harness.js";
import { EventLog, waitFor } from "./ws-harness.js";

const SLACK_MS = 1_500;
/** Socket.IO's own liveness, set on the server and sent to the client in the handshake. */
const PING = { pingInterval: 200, pingTimeout: 200 };
/**
 * socket.io's `maxHttpBufferSize` (default 1e6 bytes) bounds every inbound packet, framing included
 * (`42["message","…"]`): a 1,000,000-character message is over it and the server drops the connection.
 */
const MAX_PACKET = 2e6;

const clients: ResilientSocket[] = [];
const servers: TestServer[] = [];
const proxies: FaultProxy[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((socket) => socket.close()));
  // Proxies before servers: a server closing waits for its connections, and a black-holed one would only end
  // when \`ws\` gives up on its close handshake (30 s).
  await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
  await Promise.all(servers.splice(0).map((server) => server.dispose()));
});

async function startServer(options: TestServerOptions = {}, middleware?: Middleware): Promise<TestServer> {
  const server = await TestServer.start(middleware, options);
  servers.push(server);
  return server;
}

/** A proxy in front of `server`, and the URL that goes through it. */
async function behindProxy(server: TestServer): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = await FaultProxy.start(server.port);
  proxies.push(proxy);
  return { proxy, url: `http://127.0.0.1:${proxy.port}` };
}

/**
 * A client with small delays, websocket only (one TCP connection per attempt, so a proxy sees it whole),
 * its events logged from construction. The breaker is off unless a test is about it.
 */
function startClient(
  url: string,
  options: Omit<ResilientSocketOptions, "transport"> = {},
): { socket: ResilientSocket; log: EventLog } {
  const socket = new ResilientSocket({
    transport: socketIoTransport({ url, options: { transports: ["websocket"] } }),
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
    circuitBreaker: false,
    connectTimeoutMs: 500,
    stableAfterMs: 50,
    ...options,
  });
  clients.push(socket);
  return { socket, log: new EventLog(socket) };
}

describe("a Socket.IO server killed mid-send", () => {
  it("loses no message: with at-least-once delivery and de-duplication each takes effect exactly once, in order", async () => {
    const crashing = new CrashingProcess(50, async () => {
      await server.close();
      await server.listen();
    });
    const server = await startServer({
      onConnection: (socket: ServerSocket) =>
        socket.on(
          "message",
          crashing.connection((ack) => socket.emit("message", ack)),
        ),
    });
    const { socket, log } = startClient(server.url, {
      delivery: atLeastOnce(),
      queue: { ttlMs: Number.POSITIVE_INFINITY },
    });
    await log.nth("open", 1);
    for (let n = 0; n < 300; n++) socket.send(n);

    await waitFor("every message applied", () => crashing.applied.length >= 300, 10_000);
    expect(crashing.applied).toEqual(Array.from({ length: 300 }, (_, n) => n));
    await waitFor(
      "every message acknowledged",
      () => socket.stats().unacked === 0 && socket.stats().queue.messages === 0,
    );
    expect(log.all("drop")).toHaveLength(0);
    expect(crashing.generation).toBe(1);
    expect(log.all("open")).toHaveLength(2);
    // The 50th was processed but never acknowledged: it came again and did not take effect again.
    expect(crashing.duplicates).toBeGreaterThanOrEqual(1);
  });
});

describe("a half-open Socket.IO connection", () => {
  it("is detected by Socket.IO's ping/pong within pingInterval + pingTimeout of the link going silent, then replaced", async () => {
    const server = await startServer({ server: PING });
    const { proxy, url } = await behindProxy(server);
    const { log } = startClient(url);
    await log.nth("open", 1);
    proxy.blackhole();
    const silentFrom = performance.now();
    const close = await log.nth("close", 1, 5_000);
    expect(close.value.reason).toBe("ping timeout");
    expect(close.at - silentFrom).toBeLessThanOrEqual(PING.pingInterval + PING.pingTimeout + SLACK_MS);
    proxy.restore();
    await log.nth("open", 2, 5_000);
  });
});

describe("a Socket.IO handshake slower than the connect timeout", () => {
  it("is abandoned with CONNECT_TIMEOUT, counted as a failure, and the next attempt connects", async () => {
    const server = await startServer();
    const { proxy, url } = await behindProxy(server);
    proxy.blackhole();
    const { log } = startClient(url, { connectTimeoutMs: 300 });
    const error = await log.nth("error", 1);
    expect(error.value.code).toBe("CONNECT_TIMEOUT");
    expect((await log.nth("retry", 1)).value.attempt).toBe(1);
    expect(server.attempts).toHaveLength(0);
    proxy.restore();
    const open = await log.nth("open", 1, 5_000);
    expect(open.value.failures).toBeGreaterThanOrEqual(1);
  });
});

describe("a Socket.IO server that accepts and drops at once, forever", () => {
  it("grows the backoff with every attempt and then opens the breaker, which holds every attempt back", async () => {
    // Closing the engine.io connection (not `socket.disconnect()`, which the client takes as deliberate
    // and stops for): the client sees "transport close", as when a process dies right after accepting.
    const server = await startServer({ onConnection: (socket) => socket.conn.close() });
    const { log } = startClient(server.url, {
      backoff: exponentialNoJitter({ baseMs: 10, capMs: 1_000 }),
      circuitBreaker: { consecutiveFailures: 4, openMs: 600, maxOpenMs: 600 },
    });
    const circuit = await log.nth("circuit", 1, 5_000);
    expect(circuit.value.state).toBe("open");
    const delays = log.values("retry").map((retry) => retry.delayMs);
    expect(delays.slice(0, 3)).toEqual([10, 20, 40]);
    // Flap damping: no open counted as a success, so the failures kept adding up.
    expect(log.values("open").map((open) => open.failures)).toEqual([0, 1, 2, 3]);
    expect(log.values("close").map((close) => close.reason)).toEqual(Array(4).fill("transport close"));
    const attemptsWhenOpened = server.attempts.length;
    const reopensAt = circuit.value.reopensAt ?? 0;
    await log.nth("circuit", 2, 5_000); // half-open: the probe
    expect(Date.now()).toBeGreaterThanOrEqual(reopensAt - 1);
    expect(server.attempts.length).toBeLessThanOrEqual(attemptsWhenOpened + 1);
  });
});

describe("1 MB messages over Socket.IO", () => {
  const big = (fill: string) => fill.repeat(1_000_000);

  it("crosses a live connection in both directions intact", async () => {
    const server = await startServer({ server: { maxHttpBufferSize: MAX_PACKET } });
    const { socket, log } = startClient(server.url);
    await log.nth("open", 1);
    expect(socket.send(big("a"))).toBe("sent");
    const echo = await log.nth("message", 1, 10_000);
    expect((echo.value as { echo: unknown }).echo === big("a")).toBe(true);
    expect(log.all("close")).toHaveLength(0);
  });

  it("over the server's maxHttpBufferSize, ends the connection with close code 1009 (Message Too Big)", async () => {
    const server = await startServer(); // maxHttpBufferSize left at socket.io's 1e6
    const { socket, log } = startClient(server.url);
    await log.nth("open", 1);
    expect(socket.send(big("c"))).toBe("sent");
    const close = await log.nth("close", 1, 10_000);
    expect(close.value).toMatchObject({ code: 1009, reason: "transport close", kind: "closed" });
  });

  it("waits in the queue while the server is down and arrives intact after the restart", async () => {
    const server = await startServer({ server: { maxHttpBufferSize: MAX_PACKET } });
    const { socket, log } = startClient(server.url);
    await log.nth("open", 1);
    await server.close();
    await log.nth("close", 1);
    expect(socket.send(big("b"))).toBe("queued");
    await server.listen();
    await log.nth("open", 2, 5_000);
    const received = await waitFor("the 1 MB message", () => server.received[0], 10_000);
    expect(received === big("b")).toBe(true);
    expect(socket.stats().queue.messages).toBe(0);
  });
});
