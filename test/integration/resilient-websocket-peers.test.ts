/**
 * The remaining scenarios of reconnecting-websocket's and partysocket's suites that apply to us, in our own
 * words, against real `ws` servers on 127.0.0.1. The rest are in resilient-websocket.test.ts; the ones that
 * do not apply (debug logging, async url/protocol providers, `drainQueuedMessages`, reconnecting after
 * `close()`) are listed with the reason in docs/websocket.md.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ResilientWebSocket } from "../../src/websocket.js";
import { closeSockets, connect, next, record } from "./resilient-websocket-harness.js";
import { closeAll, quietFor, startServer, waitFor } from "./ws-harness.js";

afterEach(async () => {
  closeSockets();
  await closeAll();
});

/** A port on 127.0.0.1 where nothing listens (taken, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("from the peers' suites", () => {
  it("cannot be called without new", () => {
    const call = ResilientWebSocket as unknown as (url: string) => unknown;
    expect(() => call("ws://127.0.0.1:9/")).toThrow(TypeError);
  });

  it("reports a refused TCP connection at once (error, then close 1006), long before connectTimeoutMs", async () => {
    const port = await deadPort();
    const { socket } = connect(`ws://127.0.0.1:${port}/`, { connectTimeoutMs: 10_000 });
    const seen = record(socket);
    const started = performance.now();
    await waitFor("the failed attempt", () => seen.length >= 2);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(seen.slice(0, 2)).toEqual(["error", "close:1006"]);
  });

  it("makes exactly one attempt with maxAttempts: 1", async () => {
    const port = await deadPort();
    const { socket, clock } = connect(`ws://127.0.0.1:${port}/`, { maxAttempts: 1 });
    const seen = record(socket);
    await waitFor("the stop", () => socket.resilient.state === "stopped");
    await quietFor(300);
    expect(socket.resilient.stats().attempts).toBe(1);
    expect(seen.filter((e) => e.startsWith("close"))).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it("starts again with reconnect() once maxAttempts ran out, with retryCount back to 0", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => server.refuse(upgrade, 503);
    const { socket } = connect(server.url, { maxAttempts: 2 });
    await waitFor("the stop", () => socket.resilient.state === "stopped");
    expect(socket.retryCount).toBe(2);
    server.onUpgrade = (upgrade) => server.accept(upgrade);
    socket.reconnect();
    expect(socket.retryCount).toBe(0);
    await next(socket, "open");
  });

  it("counts a connection that drops before stableAfterMs as a failure (flap damping, reconnecting-websocket's minUptime)", async () => {
    const server = await startServer();
    server.onConnection = ({ ws, index }) => index === 0 && ws.close(4000);
    const { socket } = connect(server.url, { stableAfterMs: 5_000 });
    await next(socket, "close");
    expect(socket.retryCount).toBe(1);
    await next(socket, "open");
  });

  it("counts binary messages queued while not open in bufferedAmount by their byte length", () => {
    const { socket } = connect("ws://127.0.0.1:9/", { autoConnect: false });
    socket.send(new ArrayBuffer(10));
    socket.send(new Uint8Array(6));
    socket.send("é");
    expect(socket.bufferedAmount).toBe(18);
  });

  it("keeps a binaryType set while disconnected for the next connection", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => ws.send(Buffer.from([1, 2]));
    const { socket } = connect(server.url, { autoConnect: false });
    socket.binaryType = "arraybuffer";
    socket.reconnect();
    const message = await next<MessageEvent>(socket, "message");
    expect(message.data).toBeInstanceOf(ArrayBuffer);
  });

  it("sends nothing and dispatches nothing after a close() that raced a pending reconnect()", async () => {
    const server = await startServer();
    const { socket } = connect(server.url);
    await next(socket, "open");
    const seen = record(socket);
    socket.reconnect(4000);
    socket.close();
    await quietFor(300);
    expect(seen).toEqual(["close:1000"]);
    expect(server.connections).toHaveLength(1);
  });
});
