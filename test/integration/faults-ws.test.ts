/**
 * Faults over WebSocket against real servers on 127.0.0.1: a server killed mid-send (at-least-once delivery
 * with the server's de-duplication: every message takes effect exactly once), a half-open link, a hanging
 * handshake, a server that accepts and closes forever, and 1 MB messages. Waits are event-driven; upper
 * bounds are generous for a shared two-core machine.
 */
import { afterEach, describe, expect, it } from "vitest";
import { atLeastOnce, exponentialNoJitter } from "../../src/index.js";
import { CrashingProcess } from "../helpers/crashing-process.js";
import { FaultProxy } from "./fault-proxy.js";
import { closeAll, startClient, startServer, type TestServer, waitFor } from "./ws-harness.js";

const SLACK_MS = 1_500;
const proxies: FaultProxy[] = [];

afterEach(async () => {
  await closeAll();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
});

/** A proxy in front of `server`, and the URL that goes through it. */
async function behindProxy(server: TestServer): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = await FaultProxy.start(Number(new URL(server.url).port));
  proxies.push(proxy);
  return { proxy, url: `ws://127.0.0.1:${proxy.port}/` };
}

/** Answers heartbeat pings with pongs on every connection. */
function answerPings(server: TestServer): void {
  server.onConnection = ({ ws }) => ws.on("message", (data) => String(data) === "ping" && ws.send("pong"));
}

describe("a server killed mid-send", () => {
  it("loses no message: with at-least-once delivery and de-duplication each takes effect exactly once, in order", async () => {
    const server = await startServer();
    const crashing = new CrashingProcess(50, async () => {
      await server.stop();
      await server.listen();
    });
    server.onConnection = ({ ws }) =>
      ws.on(
        "message",
        crashing.connection((ack) => ws.send(JSON.stringify(ack))),
      );
    const { socket, log } = startClient(server, {
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
    // The 50th was processed but never acknowledged: it came again and did not take effect again.
    expect(crashing.duplicates).toBeGreaterThanOrEqual(1);
  });
});

describe("a half-open connection", () => {
  it("is detected by the heartbeat within intervalMs + timeoutMs of the link going silent, then replaced", async () => {
    const server = await startServer();
    answerPings(server);
    const { proxy, url } = await behindProxy(server);
    const { log } = startClient(
      server,
      { heartbeat: { intervalMs: 200, timeoutMs: 200 }, connectTimeoutMs: 500 },
      url,
    );
    await log.nth("open", 1);
    proxy.blackhole();
    const silentFrom = performance.now();
    const error = await log.nth("error", 1, 5_000);
    expect(error.value.code).toBe("HEARTBEAT_TIMEOUT");
    expect(error.at - silentFrom).toBeLessThanOrEqual(200 + 200 + SLACK_MS);
    proxy.restore();
    await log.nth("open", 2, 5_000);
  });
});

describe("a handshake slower than the connect timeout", () => {
  it("is abandoned with CONNECT_TIMEOUT, counted as a failure, and the next attempt connects", async () => {
    const server = await startServer();
    const { proxy, url } = await behindProxy(server);
    proxy.blackhole();
    const { log } = startClient(server, { connectTimeoutMs: 300 }, url);
    const error = await log.nth("error", 1);
    expect(error.value.code).toBe("CONNECT_TIMEOUT");
    expect((await log.nth("retry", 1)).value.attempt).toBe(1);
    proxy.restore();
    const open = await log.nth("open", 1, 5_000);
    expect(open.value.failures).toBeGreaterThanOrEqual(1);
  });
});

describe("a server that accepts and closes at once, forever", () => {
  it("grows the backoff with every attempt and then opens the breaker, which holds every attempt back", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => ws.close(1011);
    const { log } = startClient(server, {
      backoff: exponentialNoJitter({ baseMs: 10, capMs: 1_000 }),
      circuitBreaker: { consecutiveFailures: 4, openMs: 600, maxOpenMs: 600 },
    });
    const circuit = await log.nth("circuit", 1, 5_000);
    expect(circuit.value.state).toBe("open");
    const delays = log.values("retry").map((retry) => retry.delayMs);
    expect(delays.slice(0, 3)).toEqual([10, 20, 40]);
    // Flap damping: no open counted as a success, so the failures kept adding up.
    expect(log.values("open").map((open) => open.failures)).toEqual([0, 1, 2, 3]);
    const upgradesWhenOpened = server.upgrades.length;
    const reopensAt = circuit.value.reopensAt ?? 0;
    await log.nth("circuit", 2, 5_000); // half-open: the probe
    expect(Date.now()).toBeGreaterThanOrEqual(reopensAt - 1);
    expect(server.upgrades.length).toBeLessThanOrEqual(upgradesWhenOpened + 1);
  });
});

describe("1 MB messages", () => {
  const big = (fill: string) => fill.repeat(1_000_000);

  it("crosses a live connection in both directions intact", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => ws.on("message", (data) => ws.send(String(data).toUpperCase()));
    const { socket, log } = startClient(server);
    await log.nth("open", 1);
    expect(socket.send(big("a"))).toBe("sent");
    const echo = await log.nth("message", 1, 10_000);
    expect(echo.value === big("A")).toBe(true);
  });

  it("waits in the queue while the server is down and arrives intact after the restart", async () => {
    const server = await startServer();
    const { socket, log } = startClient(server);
    await log.nth("open", 1);
    await server.stop();
    await log.nth("close", 1);
    expect(socket.send(big("b"))).toBe("queued");
    await server.listen();
    await log.nth("open", 2, 5_000);
    const received = await waitFor("the 1 MB message", () => server.connections[1]?.messages[0], 10_000);
    expect(received).toHaveLength(1_000_000);
  });
});
