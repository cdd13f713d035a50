/**
 * The connect-time reconnect budget through the governed `io()` against a real Socket.IO 4.8 server using
 * the library's own `reconnectBudget`: the budget event is the policy's, never the app's (listeners, onAny),
 * it paces the way back after the server vanished, and with connection-state recovery it advances the
 * recovery offset like any event, so a recovered socket is not handed the old budget again.
 */
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import type { RetryEvent } from "../../src/index.js";
import { decorrelatedJitter } from "../../src/index.js";
import { reconnectBudget } from "../../src/server/index.js";
import { io, type ResilientIoSocket } from "../../src/socket-io.js";
import { IoServer, next, until } from "./io-harness.js";

/** Two clients at one admit a second: W = 2 s. */
const budget = reconnectBudget({ population: 2, ratePerSecond: 1, validForMs: 60_000, headroom: 1 });
const servers: IoServer[] = [];
const sockets: ResilientIoSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) await socket.resilience.close();
  for (const s of servers.splice(0)) await s.close();
});

function client(url: string): ResilientIoSocket {
  const socket = io(url, {
    forceNew: true,
    transports: ["websocket"],
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
    circuitBreaker: false,
    connectTimeoutMs: 300,
    stableAfterMs: 10,
  });
  sockets.push(socket);
  return socket;
}

describe("the reconnect budget through the governed io()", () => {
  it("hides the budget event from the app's listeners and paces the way back by the announced window", async () => {
    const s = await IoServer.start({ onConnection: (socket) => budget.emitTo(socket) });
    servers.push(s);
    const socket = client(s.url);
    const seen: unknown[] = [];
    socket.onAny((event) => seen.push(event));
    socket.on("resilient:budget" as never, (() => seen.push("listener")) as never);
    const retries: RetryEvent[] = [];
    socket.resilience.on("retry", (e) => retries.push(e));
    await next(socket, "connect");
    socket.emit("echo", "after", () => {});
    await new Promise((resolve) => setTimeout(resolve, 50)); // past stableAfterMs, the budget read
    await s.close();
    const stoppedAt = performance.now();
    await until("the retry", () => retries.length > 0);
    expect(retries[0]?.cause).toBe("budget");
    expect(retries[0]?.delayMs).toBeLessThanOrEqual(2_000);
    await s.listen();
    await next(socket, "connect");
    expect(performance.now() - stoppedAt).toBeLessThan(4_000 + 500);
    expect(seen).toEqual([]);
  });

  it("advances the recovery offset past the budget event, so a recovered socket misses nothing and gets no stale budget", async () => {
    let budgets = 0;
    const s = await IoServer.start({
      server: { connectionStateRecovery: { maxDisconnectionDuration: 10_000 } },
      onConnection: (socket) => {
        // Only a fresh session is told the budget: a recovered one gets what it missed replayed instead.
        if (!socket.recovered) budget.emitTo(socket);
      },
    });
    servers.push(s);
    const socket = client(s.url);
    const events: unknown[][] = [];
    socket.onAny((...args) => events.push(args));
    await next(socket, "connect");
    await until("the budget sent", () => s.sockets().length === 1);
    // Count the budget packets the server replays on recovery: each is an offset the client did not keep.
    const received = socket as unknown as { _lastOffset?: string };
    await new Promise((resolve) => setTimeout(resolve, 50));
    const offset = received._lastOffset;
    expect(offset).toBeTypeOf("string");
    const engine = s.server.engine as unknown as { on(e: string, l: (...a: unknown[]) => void): void };
    engine.on("connection", (conn: unknown) => {
      const c = conn as { on(e: string, l: (p: { type: string; data?: unknown }) => void): void };
      c.on("packetCreate", (p) => {
        if (typeof p.data === "string" && p.data.includes("resilient:budget")) budgets++;
      });
    });
    const disconnected = next(socket, "disconnect");
    socket.io.engine.close();
    await disconnected;
    s.server.emit("news", 1);
    await next(socket, "connect");
    expect(socket.recovered).toBe(true);
    await until("the missed event", () => events.length === 1);
    // With recovery socket.io appends the offset to each event.
    expect(events.map((args) => args.slice(0, 2))).toEqual([["news", 1]]);
    expect(budgets).toBe(0);
  });
});
