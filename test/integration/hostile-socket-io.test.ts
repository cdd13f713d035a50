/**
 * Hostile server input over Socket.IO, against a real server on 127.0.0.1: hostile hints in a middleware
 * refusal or a drain notice, 10 KB error messages, `__proto__` payloads, packets the protocol does not
 * know. Each ends in bounded behaviour and an `error` event — never a crash, a hang or a wait past the ceiling.
 * Malformed hints, which must never stop the client, are in `hostile-hints.test.ts`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DRAIN_EVENT, decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { type Middleware, record, refuse, TestServer, waitFor } from "./socket-io-harness.js";

const MAX_DELAY_MS = 1_000;
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
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
    circuitBreaker: false,
    connectTimeoutMs: 1_000,
    stableAfterMs: 50,
    maxDelayMs: MAX_DELAY_MS,
  });
  clients.push(socket);
  return { server, socket, events: record(socket) };
}

/** Refuses every attempt with `data` as the hint. */
const refusingWith =
  (data: unknown, message = "overloaded"): Middleware =>
  (_socket, next) =>
    refuse(next, message, data);

describe("hostile hints in a Socket.IO refusal", () => {
  it("ignores a negative hint, reports BAD_HINT and retries on its own backoff", async () => {
    const { events } = await start(refusingWith({ retryAfterMs: -1 }));
    const retry = await waitFor("a retry", () => events.retries[0]);
    expect(events.errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(retry.cause).toBe("backoff");
  });

  it("ignores NaN (which JSON carries as null), reports BAD_HINT and retries", async () => {
    const { events } = await start(refusingWith({ retryAfterMs: Number.NaN, spreadMs: Number.NaN }));
    const retry = await waitFor("a retry", () => events.retries[0]);
    expect(events.errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(retry.delayMs).toBeLessThanOrEqual(200);
  });

  it("keeps a 10 KB refusal message out of the error message it reports", async () => {
    const { events } = await start(refusingWith(undefined, "x".repeat(10_240)));
    const error = await waitFor("an error", () => events.errors[0]);
    expect(error.code).toBe("REFUSED");
    expect(error.message.length).toBeLessThanOrEqual(600);
  });
});

describe("hostile drain notices and packets", () => {
  it("cuts a drain notice of 10^15 ms to maxDelayMs and reports BAD_HINT", async () => {
    const { server, events } = await start();
    await waitFor("the first open", () => events.opens[0]);
    for (const s of server.sockets()) {
      s.emit(DRAIN_EVENT, { retryAfterMs: 1e15, spreadMs: 1e15 });
      s.disconnect(true);
    }
    const retry = await waitFor("a retry", () => events.retries[0]);
    expect(events.errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(retry.delayMs).toBeLessThanOrEqual(MAX_DELAY_MS);
  });

  it("reports a Socket.IO packet of an unknown type as TRANSPORT_ERROR and reconnects", async () => {
    const { server, events } = await start();
    await waitFor("the first open", () => events.opens[0]);
    // An engine.io message whose content is Socket.IO packet type 9, which does not exist.
    for (const s of server.sockets()) s.conn.write("9[]");
    await waitFor("a second open", () => events.opens[1]);
    expect(events.errors.map((e) => e.code)).toEqual(["TRANSPORT_ERROR"]);
  });

  it("reports an engine.io frame of an unknown type as TRANSPORT_ERROR and reconnects", async () => {
    const { server, events } = await start();
    await waitFor("the first open", () => events.opens[0]);
    const raw = server.sockets()[0]?.conn.transport as unknown as { socket: { send(data: string): void } };
    raw.socket.send("zgarbage");
    await waitFor("a second open", () => events.opens[1]);
    expect(events.errors.map((e) => e.code)).toEqual(["TRANSPORT_ERROR"]);
  });
});
