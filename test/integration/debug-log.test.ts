/**
 * The `debug` option logs each decision as one line, against real parts: a port on 127.0.0.1 that refuses,
 * a real `ws` server that closes with 1013 and a hint, and a breaker that opens after real refusals.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { type DebugDetail, exponentialNoJitter, ResilientSocket } from "../../src/index.js";
import { io } from "../../src/socket-io.js";
import { ResilientWebSocket, type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  vi.restoreAllMocks();
});

const fast = { backoff: exponentialNoJitter({ baseMs: 20, capMs: 20 }), circuitBreaker: false as const };
const Ws = WebSocket as unknown as WebSocketConstructor;

/** A ws socket logging to an array; resolves once `until` matches a line. */
function logging(url: string, options: object, until: RegExp) {
  const lines: string[] = [];
  const details: DebugDetail[] = [];
  return new Promise<{ lines: string[]; details: DebugDetail[] }>((resolve) => {
    const socket = new ResilientSocket({
      ...options,
      transport: webSocketTransport({ url, WebSocket: Ws }),
      debug: (line, detail) => {
        lines.push(line);
        details.push(detail);
        // A copy: the socket carries on (and logs) before the awaiting test resumes.
        if (until.test(line)) resolve({ lines: [...lines], details: [...details] });
      },
    });
    socket.on("error", () => {});
    closers.push(() => socket.close());
  });
}

describe("the debug log", () => {
  it("tells a refused port's attempt, its outcome with the system error, the wait and why, and the states", async () => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}`;
    const { lines, details } = await logging(url, fast, /^attempt 2 /);
    expect(lines).toEqual([
      "state idle -> connecting",
      `attempt 1 to ${url}/`,
      `ended: error 1006 (connection failed: ECONNREFUSED 127.0.0.1:${port})`,
      "wait 20 ms (backoff)",
      "state connecting -> waiting",
      "state waiting -> connecting",
      `attempt 2 to ${url}/`,
    ]);
    expect(details[1]).toEqual({ event: "attempt", attempt: 1, url: `${url}/`, probe: false });
    expect(details[3]).toEqual({ event: "wait", delayMs: 20, cause: "backoff" });
  });

  it("tells a hinted close: the code, the hint it read and a wait set by the hint", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((resolve) => wss.once("listening", resolve));
    closers.push(() => new Promise((resolve) => wss.close(resolve)));
    wss.on("connection", (ws) => ws.close(1013, JSON.stringify({ retryAfterMs: 300, spreadMs: 0 })));
    const { port } = wss.address() as { port: number };
    const { lines } = await logging(`ws://127.0.0.1:${port}`, fast, /^wait /);
    expect(lines).toContain("state connecting -> open");
    expect(lines.at(-2)).toBe("ended: closed 1013; hint: close-code 300 ms");
    expect(lines.at(-1)).toBe("wait 300 ms (hint)");
  });

  it("tells the breaker opening, how long it stays open, and a wait set by the breaker", async () => {
    const port = await closedPort();
    const { lines, details } = await logging(
      `ws://127.0.0.1:${port}`,
      { ...fast, circuitBreaker: { consecutiveFailures: 2, openMs: 5_000 } },
      /\(breaker\)$/,
    );
    const opened = lines.findIndex((line) => line.startsWith("breaker open until "));
    expect(opened).toBeGreaterThan(0);
    expect(
      lines.filter((line) => line.startsWith("ended: error 1006 (connection failed: ECONNREFUSED")),
    ).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/^wait \d+ ms \(breaker\)$/);
    // The wait lasts until the breaker lets its probe through, within its open period.
    const wait = details.at(-1) as { delayMs: number };
    expect(wait.delayMs).toBeGreaterThan(0);
    expect(wait.delayMs).toBeLessThanOrEqual(5_000);
    // The second refusal opens it, and that same decision waits on it.
    expect(lines[opened - 1]).toMatch(/^ended: error 1006 \(connection failed: ECONNREFUSED /);
    expect(lines.length).toBe(opened + 2);
  });

  it("writes to console.debug with the [resilient-reconnect] prefix when debug is true", async () => {
    const port = await closedPort();
    const calls: unknown[][] = [];
    vi.spyOn(console, "debug").mockImplementation((...args: unknown[]) => {
      calls.push(args);
    });
    const socket = new ResilientSocket({
      ...fast,
      transport: webSocketTransport({ url: `ws://127.0.0.1:${port}`, WebSocket: Ws }),
      debug: true,
    });
    socket.on("error", () => {});
    closers.push(() => socket.close());
    await new Promise<void>((resolve) => socket.on("retry", () => resolve()));
    expect(calls[0]).toEqual([
      "[resilient-reconnect] state idle -> connecting",
      { event: "state", state: "connecting", previous: "idle" },
    ]);
    expect(calls.map((call) => call[0])).toContain("[resilient-reconnect] wait 20 ms (backoff)");
  });

  it("goes through io() and ResilientWebSocket as through ResilientSocket", async () => {
    const port = await closedPort();
    const ioLines: string[] = [];
    const socket = io(`http://127.0.0.1:${port}`, {
      ...fast,
      transports: ["websocket"],
      forceNew: true,
      debug: (line) => ioLines.push(line),
    });
    socket.on("connect_error", () => {});
    closers.push(() => socket.resilience.close());
    const wsLines: string[] = [];
    const ws = new ResilientWebSocket(`ws://127.0.0.1:${port}`, undefined, {
      ...fast,
      WebSocket: Ws,
      debug: (line) => wsLines.push(line),
    });
    closers.push(() => ws.close());
    await vi.waitFor(() => {
      expect(ioLines).toContain("wait 20 ms (backoff)");
      expect(wsLines).toContain("wait 20 ms (backoff)");
    });
    expect(ioLines).toContain(`attempt 1 to http://127.0.0.1:${port}`);
    expect(
      ioLines.some((line) =>
        line.startsWith(`ended: error (connection failed: ECONNREFUSED 127.0.0.1:${port}`),
      ),
    ).toBe(true);
    expect(wsLines).toContain(`attempt 1 to ws://127.0.0.1:${port}/`);
  });

  it("keeps the socket going when the logger throws", async () => {
    const port = await closedPort();
    const socket = new ResilientSocket({
      ...fast,
      transport: webSocketTransport({ url: `ws://127.0.0.1:${port}`, WebSocket: Ws }),
      debug: () => {
        throw new Error("logger broke");
      },
    });
    socket.on("error", () => {});
    closers.push(() => socket.close());
    await new Promise<void>((resolve) => socket.on("retry", (event) => event.attempt >= 3 && resolve()));
    expect(socket.stats().attempts).toBeGreaterThanOrEqual(3);
  });

  it("rejects a debug option that is neither a boolean nor a function, naming it", () => {
    expect(
      () =>
        new ResilientSocket({
          transport: webSocketTransport({ url: "ws://127.0.0.1:1", WebSocket: Ws }),
          debug: "yes" as never,
          autoConnect: false,
        }),
    ).toThrow(/debug must be/);
  });
});
