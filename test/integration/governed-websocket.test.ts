/**
 * governedWebSocket() against real `ws` servers on 127.0.0.1: one connection per instance, the policy
 * shared by the class, a connection opened before the consumer asked held for the next instance (bounded),
 * and let go when the consumer stops making sockets.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type GovernedWebSocketClass, governedWebSocket } from "../../src/websocket.js";
import { NodeWebSocket, next } from "./resilient-websocket-harness.js";
import { CountingClock, closeAll, FAST, quietFor, startServer, waitFor } from "./ws-harness.js";

const classes: GovernedWebSocketClass[] = [];
afterEach(async () => {
  for (const Class of classes.splice(0)) Class.closeAll();
  await closeAll();
});

function governed(options: Parameters<typeof governedWebSocket>[0] = {}): {
  Governed: GovernedWebSocketClass;
  clock: CountingClock;
} {
  const clock = new CountingClock();
  const Governed = governedWebSocket({ ...FAST, WebSocket: NodeWebSocket, clock, ...options });
  classes.push(Governed);
  return { Governed, clock };
}

describe("governedWebSocket()", () => {
  it("rejects a bad releaseAfterMs or maxHeldMessages, naming it", () => {
    expect(() => governedWebSocket({ releaseAfterMs: 0 })).toThrow(/releaseAfterMs/);
    expect(() => governedWebSocket({ maxHeldMessages: Number.NaN })).toThrow(RangeError);
    expect(() => governedWebSocket({ maxHeldBytes: -1 })).toThrow(/maxHeldBytes/);
  });

  it("exposes the WebSocket constants on the class, as consumers check before using it", () => {
    const { Governed } = governed();
    expect([Governed.CONNECTING, Governed.OPEN, Governed.CLOSING, Governed.CLOSED]).toEqual([0, 1, 2, 3]);
  });

  it("makes each instance one connection: closed for good when it drops, the next instance connects", async () => {
    const server = await startServer();
    const { Governed } = governed();
    const first = new Governed(server.url);
    await next(first, "open");
    server.connections[0]?.ws.close(4000, "bye");
    const closed = await next<CloseEvent>(first, "close");
    expect([closed.code, closed.reason]).toEqual([4000, "bye"]);
    await quietFor(300);
    expect(first.readyState).toBe(first.CLOSED);
    const second = new Governed(server.url);
    await next(second, "open");
    second.send("on the second");
    await waitFor("the message", () => server.connections.at(-1)?.messages.length === 1);
    expect(server.connections).toHaveLength(2);
    expect(first.readyState).toBe(first.CLOSED);
  });

  it("hands a connection the policy opened before the consumer asked to the next instance, with what the server sent", async () => {
    const server = await startServer();
    server.onConnection = ({ ws, index }) => {
      if (index === 0) ws.close(4000);
      else ws.send("hello from the server");
    };
    const { Governed } = governed();
    const first = new Governed(server.url);
    await next(first, "close");
    await waitFor("the policy's reconnect", () => server.connections.length === 2);
    await quietFor(50);
    const second = new Governed(server.url);
    const received: unknown[] = [];
    second.onmessage = (event) => received.push(event.data);
    await next(second, "open");
    await waitFor("the held message", () => received.length === 1);
    expect(received).toEqual(["hello from the server"]);
    expect(server.connections).toHaveLength(2);
  });

  it("cuts a held connection whose server sends more than maxHeldMessages before any instance takes it", async () => {
    const server = await startServer();
    server.onConnection = ({ ws, index }) => {
      if (index === 0) ws.close(4000);
      else for (let i = 0; i < 50; i++) ws.send(`flood ${i}`);
    };
    const { Governed } = governed({ maxHeldMessages: 10 });
    const first = new Governed(server.url);
    await next(first, "close");
    await waitFor("the held connection to be cut", () => server.connections[1]?.closed);
    expect(server.connections[1]?.closed?.code).toBe(4000);
  });

  it("cuts a held connection whose server sends more than maxHeldBytes before any instance takes it", async () => {
    const server = await startServer();
    server.onConnection = ({ ws, index }) => {
      if (index === 0) ws.close(4000);
      else for (let i = 0; i < 3; i++) ws.send("x".repeat(600));
    };
    const { Governed } = governed({ maxHeldBytes: 1_000 });
    const first = new Governed(server.url);
    await next(first, "close");
    await waitFor("the held connection to be cut", () => server.connections[1]?.closed);
    expect(server.connections[1]?.closed?.code).toBe(4000);
  });

  it("lets go of the shared connection releaseAfterMs after the last instance ended, leaving no timer", async () => {
    const server = await startServer();
    const { Governed, clock } = governed({ releaseAfterMs: 100 });
    const socket = new Governed(server.url);
    await next(socket, "open");
    socket.close(1000);
    expect(socket.readyState).toBe(socket.CLOSED);
    await waitFor("the release", () => Governed.current === undefined);
    await quietFor(200);
    expect(clock.pending).toBe(0);
    expect(server.connections.every((c) => c.closed !== undefined)).toBe(true);
  });

  it("supersedes an instance still waiting when the consumer makes a newer one", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => server.acceptAfter(upgrade, 100);
    const { Governed } = governed();
    const older = new Governed(server.url);
    const newer = new Governed(server.url);
    await next(newer, "open");
    expect(older.readyState).toBe(older.CLOSED);
    expect(server.connections).toHaveLength(1);
  });
});

describe("governedWebSocket() against a consumer that makes its next socket at once", () => {
  /** A consumer with no backoff of its own: a new instance the moment the last one closes. */
  function eager(Governed: GovernedWebSocketClass, url: string): () => void {
    let stopped = false;
    const make = () => {
      if (stopped) return;
      const socket = new Governed(url);
      socket.addEventListener("close", make);
    };
    make();
    return () => {
      stopped = true;
    };
  }

  it("paces a server that closes every connection with 1000 by the policy's backoff (measured bound)", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => ws.close(1000);
    const { Governed } = governed();
    const stop = eager(Governed, server.url);
    await quietFor(1_000);
    stop();
    // FAST: decorrelated jitter from 20 ms, cap 200 ms, and none of these connections becomes stable.
    console.info(`governed, server closing with 1000: ${server.upgrades.length} attempts in 1 s`);
    expect(server.upgrades.length).toBeGreaterThan(2);
    expect(server.upgrades.length).toBeLessThanOrEqual(25);
  });

  it("restarts a policy stopped by the app's own options when the consumer asks again", async () => {
    const server = await startServer();
    server.onConnection = ({ ws, index }) => index === 0 && ws.close(1000);
    const { Governed } = governed({ reconnectOnServerClose: false });
    const stop = eager(Governed, server.url);
    await waitFor("the second connection", () => server.connections.length === 2);
    stop();
  });

  it("keeps the instance CONNECTING while a server refuses with 401, retrying only at the policy's pace", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => server.refuse(upgrade, 401);
    const { Governed } = governed();
    const socket = new Governed(server.url);
    await quietFor(1_000);
    expect(socket.readyState).toBe(socket.CONNECTING);
    console.info(`governed, server refusing with 401: ${server.upgrades.length} attempts in 1 s`);
    expect(server.upgrades.length).toBeLessThanOrEqual(25);
  });
});
