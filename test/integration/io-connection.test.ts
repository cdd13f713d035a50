/**
 * The governed `io()`'s connections against a real Socket.IO 4.8 server, as socket.io-client's own suite
 * expects of them (packages/socket.io-client/test/connection.ts), in our words — with our policy, not
 * socket.io's Manager, deciding each reconnection.
 */
import { afterEach, describe, expect, it } from "vitest";
import { decorrelatedJitter, VirtualClock } from "../../src/index.js";
import { type IoOptions, io, type ResilientIoSocket } from "../../src/socket-io.js";
import { IoServer, type IoServerOptions, next, until } from "./io-harness.js";

const servers: IoServer[] = [];
const sockets: ResilientIoSocket[] = [];

async function server(options: IoServerOptions = {}): Promise<IoServer> {
  const s = await IoServer.start(options);
  servers.push(s);
  return s;
}

function client(url: string, options: IoOptions = {}): ResilientIoSocket {
  const socket = io(url, options);
  // Refusals are expected here; unheard, each socket would print its one warning (unheard.ts).
  socket.resilience.on("error", () => {});
  sockets.push(socket);
  return socket;
}

/** A URL nothing listens on: a server started and closed again. */
async function deadUrl(): Promise<string> {
  const s = await IoServer.start();
  await s.close();
  return s.url;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const socket of sockets.splice(0)) await socket.resilience.close();
  for (const s of servers.splice(0)) await s.close();
});

describe("connections of a governed io() socket, as socket.io-client's own suite expects", () => {
  it("does not connect with autoConnect: false until connect() is called", async () => {
    const s = await server();
    const socket = client(s.url, { autoConnect: false, forceNew: true });
    await pause(100);
    expect(s.engineConnections).toBe(0);
    expect(socket.resilience.state).toBe("idle");
    socket.connect();
    await next(socket, "connect");
  });

  it("opens two connections for forceNew or multiplex: false, and one for two namespaces", async () => {
    const s = await server();
    const a = client(s.url, { forceNew: true });
    const b = client(s.url, { multiplex: false });
    expect(a.io).not.toBe(b.io);
    const main = client(s.url);
    const custom = client(`${s.url}/custom`);
    expect(custom.io).toBe(main.io);
    await Promise.all([a, b, main, custom].map((socket) => next(socket, "connect")));
    expect(s.engineConnections).toBe(3);
  });

  it("connects a namespace on a Manager that is connected already, and after it was closed", async () => {
    const s = await server();
    const main = client(s.url);
    await next(main, "connect");
    const custom = client(`${s.url}/custom`);
    await next(custom, "connect");
    expect(s.engineConnections).toBe(1);
    main.disconnect();
    custom.disconnect();
    await until("the engine closed", () => main.io.engine?.readyState === "closed");
    custom.connect();
    await next(custom, "connect");
    expect(s.engineConnections).toBe(2);
  });

  it("brings two namespaces back over one new engine connection after it dropped, each on its own schedule", async () => {
    const s = await server();
    const main = client(s.url);
    const custom = client(`${s.url}/custom`);
    await Promise.all([next(main, "connect"), next(custom, "connect")]);
    const retries: string[] = [];
    main.resilience.on("retry", () => retries.push("main"));
    custom.resilience.on("retry", () => retries.push("custom"));
    main.io.engine.close();
    await Promise.all([next(main, "connect"), next(custom, "connect")]);
    expect(retries.sort()).toEqual(["custom", "main"]);
    expect(s.engineConnections).toBe(2);
  });

  it("sends a namespace's CONNECT only when its own policy asks, even when another reopened the connection", async () => {
    const s = await server();
    const main = client(s.url);
    // The custom namespace's first retry is drawn from 5 s up: far later than main's.
    const custom = client(`${s.url}/custom`, { backoff: decorrelatedJitter({ baseMs: 5_000 }) });
    await Promise.all([next(main, "connect"), next(custom, "connect")]);
    const calls = s.middlewareCalls;
    main.io.engine.close();
    await next(main, "connect");
    await pause(300);
    expect(custom.connected).toBe(false);
    expect(s.middlewareCalls).toBe(calls + 1);
    expect(custom.resilience.state).toBe("waiting");
  });

  it("keeps the connection when one of two namespaces disconnects", async () => {
    const s = await server();
    const main = client(s.url);
    const custom = client(`${s.url}/custom`);
    await Promise.all([next(main, "connect"), next(custom, "connect")]);
    custom.disconnect();
    expect(await main.emitWithAck("echo", "still here")).toBe("still here");
    expect(main.connected).toBe(true);
  });

  it("reconnects by default after the connection drops, through our policy's retry", async () => {
    const s = await server();
    const socket = client(s.url, { forceNew: true });
    await next(socket, "connect");
    const retries: unknown[] = [];
    socket.resilience.on("retry", (e) => retries.push(e));
    socket.io.engine.close();
    await next(socket, "connect");
    expect(retries).toHaveLength(1);
    expect(socket.resilience.stats().connections).toBe(2);
  });

  it("keeps socket.resilience, its listeners and its counters across disconnect() and connect()", async () => {
    const s = await server();
    const socket = client(s.url, { forceNew: true });
    const resilience = socket.resilience;
    const states: string[] = [];
    resilience.on("state", (state) => states.push(state));
    await next(socket, "connect");
    socket.disconnect();
    expect(resilience.state).toBe("stopped");
    socket.connect();
    await next(socket, "connect");
    expect(socket.resilience).toBe(resilience);
    // The first "connecting" came inside io(), before the listener.
    expect(states).toEqual(["open", "stopped", "connecting", "open"]);
    expect(resilience.stats()).toMatchObject({ attempts: 2, connections: 2, failures: 0, state: "open" });
  });

  it("closes and reopens the engine after a packet it cannot decode", async () => {
    const s = await server();
    const socket = client(s.url, { forceNew: true });
    await next(socket, "connect");
    const codes: string[] = [];
    socket.resilience.on("error", (e) => codes.push(e.code));
    const disconnected = next<[string]>(socket, "disconnect");
    (socket.io.engine as unknown as { emit(e: string, d: string): void }).emit("data", "bad");
    expect((await disconnected)[0]).toBe("parse error");
    await next(socket, "connect");
    expect(codes).toContain("TRANSPORT_ERROR");
  });

  it("keeps retrying a server that is down, with growing waits, and stops for good on disconnect()", async () => {
    const url = await deadUrl();
    const socket = client(url, { forceNew: true, transports: ["websocket"] });
    const delays: number[] = [];
    socket.resilience.on("retry", (e) => delays.push(e.delayMs));
    await until("three retries", () => delays.length >= 3, 8_000);
    socket.disconnect();
    const attempts = socket.resilience.stats().attempts;
    await pause(Math.max(...delays) + 200);
    expect(socket.resilience.stats().attempts).toBe(attempts);
    expect(socket.resilience.state).toBe("stopped");
    expect(socket.active).toBe(false);
  });

  it("stops retrying one namespace and keeps retrying the other on the same Manager", async () => {
    const url = await deadUrl();
    const main = client(url, { transports: ["websocket"] });
    const custom = client(`${url}/custom`, { transports: ["websocket"] });
    await until(
      "both retrying",
      () => main.resilience.state === "waiting" && custom.resilience.state === "waiting",
    );
    main.disconnect();
    const before = custom.resilience.stats().attempts;
    await until("custom tries again", () => custom.resilience.stats().attempts > before, 8_000);
    expect(main.resilience.state).toBe("stopped");
  });

  it("gives up after reconnectionAttempts (maxAttempts) failed attempts with MAX_ATTEMPTS", async () => {
    const url = await deadUrl();
    const socket = client(url, {
      forceNew: true,
      transports: ["websocket"],
      reconnectionAttempts: 2,
      circuitBreaker: false,
    });
    const codes: string[] = [];
    socket.resilience.on("error", (e) => codes.push(e.code));
    await until("stopped", () => socket.resilience.state === "stopped", 8_000);
    expect(codes).toContain("MAX_ATTEMPTS");
    expect(socket.resilience.stats().attempts).toBe(2);
  });

  it("makes one attempt and no other with reconnection: false", async () => {
    const url = await deadUrl();
    const socket = client(url, { forceNew: true, transports: ["websocket"], reconnection: false });
    await next(socket, "connect_error");
    await pause(600);
    expect(socket.resilience.stats().attempts).toBe(1);
    expect(socket.resilience.state).toBe("stopped");
  });

  it("sends binary payloads (alone, mixed with JSON) and keeps their order with text", async () => {
    const s = await server();
    const socket = client(s.url, { forceNew: true });
    await next(socket, "connect");
    socket.emit("bin", new Uint8Array([1, 2, 3]).buffer);
    socket.emit("mixed", { label: "x", bytes: Uint8Array.of(9) });
    socket.emit("text", "after");
    await until("three events", () => s.received.length === 3);
    expect(s.received.map((e) => e[0])).toEqual(["bin", "mixed", "text"]);
    const [bin, mixed] = s.received as [[string, Buffer], [string, { bytes: Buffer }]];
    expect([...bin[1]]).toEqual([1, 2, 3]);
    expect([...mixed[1].bytes]).toEqual([9]);
  });

  it("opens the circuit after repeated failures and reports it", async () => {
    const url = await deadUrl();
    const socket = client(url, {
      forceNew: true,
      transports: ["websocket"],
      circuitBreaker: { consecutiveFailures: 2, minimumAttempts: 2 },
    });
    const states: string[] = [];
    socket.resilience.on("circuit", (e) => states.push(e.state));
    await until("the circuit opened", () => states.includes("open"), 8_000);
    expect(socket.resilience.stats().circuit).toBe("open");
  });

  it("closes for good when its AbortSignal aborts, with no policy timer left", async () => {
    const url = await deadUrl();
    const clock = new VirtualClock(Date.now());
    const controller = new AbortController();
    const socket = client(url, {
      forceNew: true,
      transports: ["websocket"],
      clock,
      signal: controller.signal,
    });
    await until("a retry planned", () => clock.pendingTimers() > 0 && socket.resilience.state === "waiting");
    controller.abort();
    expect(socket.resilience.state).toBe("closed");
    expect(clock.pendingTimers()).toBe(0);
    expect(socket.active).toBe(false);
    socket.connect();
    expect(socket.active).toBe(false);
  });

  it("leaves no listener of its own on the Socket or the Manager after close()", async () => {
    const s = await server();
    const socket = client(s.url, { forceNew: true });
    const appListener = () => {};
    socket.on("connect", appListener);
    await next(socket, "connect");
    await socket.resilience.close();
    expect(socket.listeners("connect")).toEqual([appListener]);
    expect(socket.listeners("disconnect")).toEqual([]);
    expect(socket.listeners("connect_error")).toEqual([]);
    expect(socket.io.listeners("open")).toEqual([]);
    expect(socket.io.engine?.readyState ?? "closed").toMatch(/closed|closing/);
  });
});

describe("socket.io's Manager events, at our policy's moments", () => {
  it("emits reconnect_attempt, reconnect_error, reconnect on socket.io, and reconnect_failed when giving up", async () => {
    const s = await server();
    const socket = client(s.url, { forceNew: true, transports: ["websocket"] });
    const events: string[] = [];
    for (const name of ["reconnect_attempt", "reconnect_error", "reconnect", "reconnect_failed"] as const)
      socket.io.on(name, () => events.push(name));
    await next(socket, "connect");
    await s.close();
    await until(
      "two failed reconnection attempts",
      () => events.filter((e) => e === "reconnect_error").length >= 1,
      8_000,
    );
    await s.listen();
    await until("reconnected", () => events.includes("reconnect"), 8_000);
    expect(events[0]).toBe("reconnect_attempt");
    expect(events.at(-1)).toBe("reconnect");
    const url = await deadUrl();
    const doomed = client(url, {
      forceNew: true,
      transports: ["websocket"],
      reconnectionAttempts: 2,
      circuitBreaker: false,
    });
    const failed = next(doomed.io, "reconnect_failed");
    await failed;
  });
});

describe("io() options", () => {
  it("throws a RangeError or TypeError naming a misconfigured option, before connecting", () => {
    expect(() => io("http://127.0.0.1:9", { maxDelayMs: -1 })).toThrow(RangeError);
    expect(() => io("http://127.0.0.1:9", { maxDelayMs: -1 })).toThrow(/maxDelayMs/);
    expect(() => io("http://127.0.0.1:9", { queue: { overflow: "sideways" as never } })).toThrow(
      /queue.overflow/,
    );
    expect(() => io("http://127.0.0.1:9", { heartbeat: { intervalMs: 1, timeoutMs: 1 } } as never)).toThrow(
      /^io: unknown option "heartbeat"$/,
    );
  });
});
