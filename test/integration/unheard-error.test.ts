/**
 * A socket whose errors nobody listens for reports the first one once, as a Node warning, instead of retrying
 * a dead port for ever in silence; a socket failing many times still prints one line. Real closed ports.
 */
import { createServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { exponentialNoJitter, ResilientSocket } from "../../src/index.js";
import { io } from "../../src/socket-io.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

const warnings: (Error & { code?: string })[] = [];
const onWarning = (warning: Error) => {
  if (warning.name === "ResilientReconnectWarning") warnings.push(warning);
};
const closers: (() => unknown)[] = [];
/** Node's own listener, which prints warnings: off while these tests make them on purpose (clean output). */
let printers: ((...args: unknown[]) => void)[] = [];
beforeEach(() => {
  warnings.length = 0;
  printers = process.listeners("warning") as typeof printers;
  process.removeAllListeners("warning");
  process.on("warning", onWarning);
});
afterEach(() => {
  process.off("warning", onWarning);
  for (const printer of printers) process.on("warning", printer);
  for (const close of closers.splice(0)) close();
});

const fast = { backoff: exponentialNoJitter({ baseMs: 5, capMs: 5 }), circuitBreaker: false as const };

/** A ws socket on a closed port; resolves after `failures` retries. */
async function failing(failures: number, listen: boolean): Promise<void> {
  const port = await closedPort();
  const socket = new ResilientSocket({
    ...fast,
    transport: webSocketTransport({
      url: `ws://127.0.0.1:${port}`,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    }),
  });
  closers.push(() => socket.close());
  if (listen) socket.on("error", () => {});
  await new Promise<void>((resolve) => {
    socket.on("retry", (event) => event.attempt >= failures && resolve());
  });
  // emitWarning delivers on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
}

describe("an error nobody listens for", () => {
  it("is reported once per socket, naming what happened, however often the socket fails", async () => {
    await failing(20, false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.code).toBe("TRANSPORT_ERROR");
    expect(warnings[0]?.message).toMatch(
      /^ResilientSocket has no "error" listener and reported: TransportError: connection failed: ECONNREFUSED 127\.0\.0\.1:\d+ \(it carries on; listen to "error" to handle errors — this is reported once per socket\)$/,
    );
  });

  it("is not reported when the app listens to error", async () => {
    await failing(3, true);
    expect(warnings).toHaveLength(0);
  });

  it("never stops the socket when the warning itself cannot be shown", async () => {
    const original = process.emitWarning;
    let calls = 0;
    process.emitWarning = (() => {
      calls++;
      throw new Error("warnings are turned into errors here");
    }) as typeof process.emitWarning;
    try {
      await failing(5, false);
    } finally {
      process.emitWarning = original;
    }
    expect(calls).toBe(1);
  });

  it("is reported once for a governed io() socket with no listener, and never when the app listens to connect_error", async () => {
    for (const listen of [false, true]) {
      const port = await closedPort();
      const socket = io(`http://127.0.0.1:${port}`, { ...fast, transports: ["websocket"], forceNew: true });
      closers.push(() => socket.resilience.close());
      if (listen) socket.on("connect_error", () => {});
      await new Promise<void>((resolve) => {
        socket.resilience.on("retry", (event) => event.attempt >= 5 && resolve());
      });
      await new Promise((resolve) => setImmediate(resolve));
      socket.resilience.close();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(
      /^socket\.resilience has no "error" listener and reported: TransportError: connection failed: ECONNREFUSED 127\.0\.0\.1:\d+ \(websocket error\)/,
    );
  });
});
