/**
 * A buggy or hostile server's malformed hint over Socket.IO, against a real server on 127.0.0.1: a drain notice
 * with a bad delay (or no usable payload at all) followed by the server's disconnect, and a refusal whose
 * `err.data` is not a usable hint, are each `BAD_HINT` plus normal backoff — the client comes back, it is
 * never `stopped`. Only a refusal without any data is an auth refusal (`REFUSED`, stopped). WebSocket's 1013
 * with a malformed reason behaves the same way (`hostile-ws.test.ts`); these hold Socket.IO to it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DRAIN_EVENT, decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { type Middleware, record, refuse, TestServer, waitFor } from "./socket-io-harness.js";

const BACKOFF_CAP_MS = 200;
const clients: ResilientSocket[] = [];
const servers: TestServer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((socket) => socket.close()));
  await Promise.all(servers.splice(0).map((server) => server.dispose()));
});

async function start(middleware?: Middleware) {
  const server = await TestServer.start(middleware);
  servers.push(server);
  const socket = new ResilientSocket({
    transport: socketIoTransport({ url: server.url, options: { transports: ["websocket"] } }),
    backoff: decorrelatedJitter({ baseMs: 20, capMs: BACKOFF_CAP_MS }),
    circuitBreaker: false,
    connectTimeoutMs: 1_000,
    stableAfterMs: 50,
    maxDelayMs: 1_000,
  });
  clients.push(socket);
  return { server, socket, events: record(socket) };
}

/** Refuses the first attempt with `data` as `err.data` (none when `undefined`), admits the later ones. */
const refusingOnceWith =
  (data: unknown): Middleware =>
  (_socket, next, { call }) =>
    call === 1 ? refuse(next, "busy", data) : next();

describe("a malformed drain notice before the server's disconnect", () => {
  it.each([
    ["a negative delay", { retryAfterMs: -1 }],
    ["a delay that is a string", { retryAfterMs: "x" }],
    ["a string", "x"],
    ["a 10 KB string", "x".repeat(10_240)],
    ["an object without retryAfterMs", { spreadMs: 5 }],
    ["no payload", undefined],
    ["null", null],
    ["an empty object", {}],
  ])("with %s is BAD_HINT, then normal backoff and a new connection, never stopped", async (_, payload) => {
    const { server, events } = await start();
    await waitFor("the first open", () => events.opens[0]);
    for (const s of server.sockets()) {
      if (payload === undefined) s.emit(DRAIN_EVENT);
      else s.emit(DRAIN_EVENT, payload);
      s.disconnect(true);
    }
    const retry = await waitFor("a retry", () => events.retries[0]);
    expect(retry.cause).toBe("backoff");
    expect(retry.delayMs).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    await waitFor("a second open", () => events.opens[1]);
    expect(events.errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(events.states).not.toContain("stopped");
  });

  it("sent 2,000 times in a burst costs one BAD_HINT at the disconnect, one retry and a new connection", async () => {
    const { server, events } = await start();
    await waitFor("the first open", () => events.opens[0]);
    for (const s of server.sockets()) {
      for (let i = 0; i < 2_000; i++) s.emit(DRAIN_EVENT, i % 2 === 0 ? { retryAfterMs: -i } : "x".repeat(i));
      s.disconnect(true);
    }
    await waitFor("a second open", () => events.opens[1]);
    expect(events.errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(events.retries.map((r) => r.cause)).toEqual(["backoff"]);
    expect(events.states).not.toContain("stopped");
  });

  it("still stops after a disconnect(true) that no drain notice announced (a deliberate close)", async () => {
    const { server, events, socket } = await start();
    await waitFor("the first open", () => events.opens[0]);
    for (const s of server.sockets()) s.disconnect(true);
    await waitFor("the socket to stop", () => events.states.includes("stopped"));
    expect(events.retries).toEqual([]);
    expect(socket.stats().attempts).toBe(1);
  });
});

describe("a refusal's err.data", () => {
  it.each([
    ["an object without retryAfterMs", { reason: "maintenance" }],
    ["an object with a negative delay", { retryAfterMs: -1 }],
    ["a retryAfterMs only behind __proto__", JSON.parse('{"__proto__":{"retryAfterMs":1}}')],
    ["a string", "x"],
    ["a number", 42],
    ["an array", [1, 2]],
    ["false", false],
    ["0", 0],
    ["an empty string", ""],
    ["an empty array", []],
  ])("that is %s is BAD_HINT, then normal backoff and a new attempt, never stopped", async (_, data) => {
    const { events, socket } = await start(refusingOnceWith(data));
    const retry = await waitFor("a retry", () => events.retries[0]);
    expect(retry.cause).toBe("backoff");
    await waitFor("the open after the refusal", () => events.opens[0]);
    expect(events.errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(events.states).not.toContain("stopped");
    expect(socket.stats().attempts).toBe(2);
    expect(Object.hasOwn(Object.prototype, "retryAfterMs")).toBe(false);
  });

  it.each([
    ["absent", undefined],
    ["null", null],
  ])("that is %s is an auth refusal: REFUSED, stopped after one attempt", async (_, data) => {
    const { events, socket } = await start(refusingOnceWith(data));
    await waitFor("the socket to stop", () => events.states.includes("stopped"));
    expect(events.errors.map((e) => e.code)).toEqual(["REFUSED"]);
    expect(events.retries).toEqual([]);
    expect(socket.stats().attempts).toBe(1);
  });
});
