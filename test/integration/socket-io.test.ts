import { afterEach, describe, expect, it } from "vitest";
import {
  DRAIN_EVENT,
  decorrelatedJitter,
  ResilientSocket,
  type ResilientSocketOptions,
} from "../../src/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { elapse, type Middleware, record, refuse, TestServer, waitFor } from "./socket-io-harness.js";

/**
 * Lower bounds of waits are asserted exactly (server-side timestamps); upper bounds get this much slack
 * for a noisy two-core machine.
 */
const SLACK_MS = 1_500;
/** Long enough for several retries of the test backoff (first retry ≤ 60 ms, cap 200 ms) to have happened. */
const QUIET_MS = 300;
const ID = "client-1";

const clients: ResilientSocket[] = [];
const servers: TestServer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((socket) => socket.close()));
  await Promise.all(servers.splice(0).map((server) => server.dispose()));
});

async function startServer(middleware?: Middleware): Promise<TestServer> {
  const server = await TestServer.start(middleware);
  servers.push(server);
  return server;
}

/** A client with small, fast policy settings; the breaker is off unless a test is about it. */
function connect(
  server: TestServer,
  options: Omit<ResilientSocketOptions, "transport"> = {},
): ResilientSocket {
  const socket = new ResilientSocket({
    transport: socketIoTransport({
      url: server.url,
      options: { transports: ["websocket"], auth: { id: ID } },
    }),
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
    circuitBreaker: false,
    connectTimeoutMs: 500,
    stableAfterMs: 50,
    ...options,
  });
  clients.push(socket);
  return socket;
}

describe("ResilientSocket over Socket.IO", () => {
  it("connects and exchanges a message in both directions", async () => {
    const server = await startServer();
    const socket = connect(server);
    const events = record(socket);
    await waitFor("the first open", () => events.opens[0]);

    expect(socket.send({ text: "hello" })).toBe("sent");

    await waitFor("the echo", () => events.messages[0]);
    expect(server.received).toEqual([{ text: "hello" }]);
    expect(events.messages).toEqual([{ echo: { text: "hello" } }]);
  });

  it("queues messages sent while the server restarts and delivers them in order after reconnecting", async () => {
    const server = await startServer();
    const socket = connect(server);
    const events = record(socket);
    await waitFor("the first open", () => events.opens[0]);
    const port = server.port;

    await server.close();
    await waitFor("the client to see the connection close", () => events.closes[0]);
    const results = ["a", "b", "c"].map((message) => socket.send(message));
    await server.listen();

    await waitFor("the reconnect", () => events.opens[1]);
    await waitFor("the queued messages to arrive", () => server.received.length >= 3);
    expect(server.port).toBe(port);
    expect(results).toEqual(["queued", "queued", "queued"]);
    expect(server.received).toEqual(["a", "b", "c"]);
  });

  it("waits at least the hint of a middleware refusal before trying again, then connects", async () => {
    const hint = { retryAfterMs: 400, spreadMs: 100 };
    const server = await startServer((_socket, next, { call }) =>
      call === 1 ? refuse(next, "overloaded", hint) : next(),
    );
    const socket = connect(server);
    const events = record(socket);

    const opened = await waitFor("the open after the refusal", () => events.opens[0]);

    const [first = Number.NaN, second = Number.NaN] = server.attempts;
    expect(server.attempts).toHaveLength(2);
    expect(second - first).toBeGreaterThanOrEqual(400);
    expect(second - first).toBeLessThan(400 + 100 + SLACK_MS);
    expect(events.retries).toEqual([
      {
        attempt: 1,
        delayMs: expect.any(Number),
        cause: "hint",
        hint: { source: "connect-error", delayMs: 400, spreadMs: 100 },
      },
    ]);
    expect(events.retries[0]?.delayMs).toBeGreaterThanOrEqual(400);
    expect(events.retries[0]?.delayMs).toBeLessThanOrEqual(500);
    expect(opened).toEqual({ failures: 1, probe: false });
  });

  it("stops without retrying when the middleware refuses without a hint", async () => {
    const server = await startServer((_socket, next) => refuse(next, "unauthorized"));
    const socket = connect(server);
    const events = record(socket);

    const error = await waitFor("the refusal error", () => events.errors[0]);
    expect(error.code).toBe("REFUSED");
    expect(socket.state).toBe("stopped");

    await elapse(QUIET_MS);
    expect(server.attempts).toHaveLength(1);
    expect(events.retries).toEqual([]);
    expect(socket.state).toBe("stopped");
  });

  it("retries a refusal without a hint when retryOnRefusal is set", async () => {
    const server = await startServer((_socket, next) => refuse(next, "unauthorized"));
    const socket = connect(server, { retryOnRefusal: true });
    const events = record(socket);

    await waitFor("a second attempt", () => server.attempts.length >= 2);
    expect(events.retries[0]).toEqual({ attempt: 1, delayMs: expect.any(Number), cause: "backoff" });
    expect(events.states).not.toContain("stopped");
  });

  it("reconnects no sooner than a drain notice says after the server disconnects it", async () => {
    const server = await startServer();
    const socket = connect(server);
    const events = record(socket);
    await waitFor("the first open", () => events.opens[0]);

    const drainedAt = Date.now();
    for (const serverSocket of server.sockets()) {
      serverSocket.emit(DRAIN_EVENT, { retryAfterMs: 300, spreadMs: 50 });
      serverSocket.disconnect(true);
    }

    await waitFor("the reconnect after the drain", () => events.opens[1]);
    const reconnectAt = server.attempts[1] ?? Number.NaN;
    expect(reconnectAt - drainedAt).toBeGreaterThanOrEqual(300);
    expect(reconnectAt - drainedAt).toBeLessThan(300 + 50 + SLACK_MS);
    expect(events.closes[0]?.kind).toBe("deliberate");
    expect(events.retries).toEqual([
      {
        attempt: 1,
        delayMs: expect.any(Number),
        cause: "hint",
        hint: { source: "drain", delayMs: 300, spreadMs: 50 },
      },
    ]);
    expect(events.states).not.toContain("stopped");
  });

  it("stays stopped after the server disconnects it without a drain notice", async () => {
    const server = await startServer();
    const socket = connect(server);
    const events = record(socket);
    await waitFor("the first open", () => events.opens[0]);

    for (const serverSocket of server.sockets()) serverSocket.disconnect(true);

    const closed = await waitFor("the close", () => events.closes[0]);
    expect(closed.kind).toBe("deliberate");
    expect(socket.state).toBe("stopped");
    await elapse(QUIET_MS);
    expect(server.attempts).toHaveLength(1);
    expect(events.retries).toEqual([]);
    expect(socket.state).toBe("stopped");
  });

  it("never has two connections open at once across restarts and abandoned slow attempts", async () => {
    // The first attempt after each restart is admitted only after the client gave up on it, so a client
    // that failed to close an abandoned attempt would end up connected twice.
    let slow = false;
    const server = await startServer((_socket, next, { later }) => {
      if (!slow) return next();
      slow = false;
      later(next, 400);
    });
    const socket = connect(server, { connectTimeoutMs: 250 });
    const events = record(socket);
    await waitFor("the first open", () => events.opens[0]);

    for (let restart = 1; restart <= 3; restart++) {
      slow = true;
      await server.restart();
      await waitFor(`the reconnect after restart ${restart}`, () => events.opens.length > restart);
    }
    await waitFor("every slow admission to be processed", () => server.lateAdmissions >= 3);

    expect(events.errors.filter((e) => e.code === "CONNECT_TIMEOUT").length).toBeGreaterThanOrEqual(3);
    expect(server.connections(ID)).toBe(4);
    expect(server.peakConnections(ID)).toBe(1);
    expect(server.liveConnections(ID)).toBe(1);
  });

  it("abandons an attempt that is still connecting when closed, and makes no other", async () => {
    const server = await startServer((_socket, next, { later }) => later(next, 300));
    const socket = connect(server);

    await waitFor("the attempt to reach the middleware", () => server.attempts.length === 1);
    expect(socket.state).toBe("connecting");
    await socket.close();
    await waitFor("the slow middleware to admit the attempt", () => server.lateAdmissions === 1);

    expect(server.liveConnections(ID)).toBe(0);
    await elapse(QUIET_MS);
    expect(server.attempts).toHaveLength(1);
    expect(server.connections(ID)).toBe(0);
    expect(socket.stats()).toMatchObject({ state: "closed", attempts: 1, connections: 0 });
  });

  it("opens the circuit after consecutive failures and sends one probe only once it reopens", async () => {
    const server = await startServer((_socket, next) => refuse(next, "unavailable", { retryAfterMs: 0 }));
    const socket = connect(server, {
      circuitBreaker: { consecutiveFailures: 3, openMs: 300, maxOpenMs: 600 },
    });
    const events = record(socket);

    const opened = await waitFor("the breaker to open", () =>
      events.circuits.find((c) => c.state === "open"),
    );
    expect(server.attempts).toHaveLength(3);
    const reopensAt = opened.reopensAt ?? Number.NaN;
    const thirdAt = server.attempts[2] ?? Number.NaN;
    expect(reopensAt - thirdAt).toBeGreaterThanOrEqual(150);
    expect(reopensAt - thirdAt).toBeLessThanOrEqual(300 + SLACK_MS);

    await waitFor("the breaker to open again after its probe", () =>
      events.circuits.filter((c) => c.state === "open").at(1),
    );
    expect(events.circuits.map((c) => c.state)).toEqual(["open", "half-open", "open"]);
    expect(server.attempts).toHaveLength(4);
    expect(server.attempts[3]).toBeGreaterThanOrEqual(reopensAt);
  });

  it("reports a hostile hint and waits no longer than maxDelayMs", async () => {
    const server = await startServer((_socket, next) => refuse(next, "overloaded", { retryAfterMs: 1e15 }));
    const socket = connect(server, { maxDelayMs: 1_000 });
    const events = record(socket);

    const retry = await waitFor("the first retry", () => events.retries[0]);
    expect(events.errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(retry.delayMs).toBeLessThanOrEqual(1_000);
    expect(retry).toMatchObject({ cause: "hint", hint: { source: "connect-error", delayMs: 1_000 } });
  });
});
