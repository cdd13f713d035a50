import { getEventListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ConnectionRefusedError, ResilientSocket } from "../../src/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import {
  closeAll,
  FAST,
  once,
  quietFor,
  startClient,
  startServer,
  TIMER_SLACK_MS,
  waitFor,
} from "./ws-harness.js";

afterEach(closeAll);

/** Longer than any backoff delay of the harness's FAST options (cap 200 ms), with room for a slow machine. */
const LONGER_THAN_BACKOFF_MS = 400;

describe("ResilientSocket over ws: reconnecting", () => {
  it("delivers messages sent while the server was down to the restarted server, in order", async () => {
    const server = await startServer();
    const { socket, log } = startClient(server);
    await log.nth("open", 1);

    await server.stop();
    await log.nth("close", 1);
    expect([socket.send("one"), socket.send("two"), socket.send("three")]).toEqual([
      "queued",
      "queued",
      "queued",
    ]);
    await server.listen();

    await waitFor(
      "three messages at the restarted server",
      () => server.connections[1]?.messages.length === 3,
    );
    expect(server.connections[1]?.messages).toEqual(["one", "two", "three"]);
    expect(server.connections[0]?.messages).toEqual([]);
  });

  it("keeps growing the backoff across connections that open and drop at once", async () => {
    const server = await startServer();
    server.onConnection = (connection) => connection.ws.close(1011, "accept-then-drop");
    const failuresAtRetry: number[] = [];
    // stableAfterMs far above the drop time, so even a slow machine never sees one of these as stable.
    const { socket, log } = startClient(server, { stableAfterMs: 5_000, random: () => 0.9 });
    socket.on("retry", () => failuresAtRetry.push(socket.stats().failures));

    await log.nth("retry", 4);
    const retries = log.values("retry").slice(0, 4);
    expect(log.values("open").slice(0, 4)).toEqual([
      { failures: 0, probe: false },
      { failures: 1, probe: false },
      { failures: 2, probe: false },
      { failures: 3, probe: false },
    ]);
    expect(retries.map((retry) => retry.attempt)).toEqual([1, 2, 3, 4]);
    expect(failuresAtRetry.slice(0, 4)).toEqual([1, 2, 3, 4]);
    const delays = retries.map((retry) => retry.delayMs);
    expect(delays[1]).toBeGreaterThan(delays[0] ?? Number.POSITIVE_INFINITY);
    expect(delays[2]).toBeGreaterThan(delays[1] ?? Number.POSITIVE_INFINITY);
  });

  it("starts the backoff again from attempt 1 when a connection that became stable drops", async () => {
    const server = await startServer();
    server.onConnection = (connection) => {
      if (connection.index < 2) connection.ws.close(1011, "accept-then-drop");
    };
    const { socket, log } = startClient(server, { stableAfterMs: 150 });
    const stableOpen = await log.nth("open", 3);
    expect(stableOpen.value.failures).toBe(2);
    await waitFor("the connection to become stable", () => socket.stats().failures === 0);

    const nextRetry = once(socket, "retry");
    server.connections[2]?.ws.terminate();
    const [retry] = await nextRetry;

    expect(retry.attempt).toBe(1);
    expect(log.values("close").at(-1)).toMatchObject({ kind: "closed", wasStable: true });
  });

  it("drops the oldest queued message on overflow and delivers only the newest after reconnecting", async () => {
    const server = await startServer();
    const { socket, log } = startClient(server, { queue: { maxMessages: 2 } });
    await log.nth("open", 1);
    await server.stop();
    await log.nth("close", 1);

    expect([socket.send("a"), socket.send("b"), socket.send("c")]).toEqual(["queued", "queued", "queued"]);
    expect(log.values("drop")).toEqual([{ data: "a", reason: "overflow" }]);
    await server.listen();
    await log.nth("open", 2);
    expect(socket.send("after")).toBe("sent");

    await waitFor("the marker message", () => server.connections[1]?.messages.includes("after"));
    expect(server.connections[1]?.messages).toEqual(["b", "c", "after"]);
  });

  it("stops after a deliberate server close (1000) and never reconnects", async () => {
    const server = await startServer();
    server.onConnection = (connection) => connection.ws.close(1000, "bye");
    const { socket, log } = startClient(server);
    await waitFor("state stopped", () => socket.state === "stopped");
    expect(log.values("close")).toEqual([
      { code: 1000, reason: "bye", kind: "deliberate", wasStable: false },
    ]);

    await quietFor(LONGER_THAN_BACKOFF_MS);
    expect(server.upgrades).toHaveLength(1);
    expect(log.values("retry")).toEqual([]);
    expect(socket.state).toBe("stopped");
  });

  it("reconnects after a deliberate server close when reconnectOnServerClose is set", async () => {
    const server = await startServer();
    server.onConnection = (connection) => {
      if (connection.index === 0) connection.ws.close(1000, "bye");
    };
    const { socket, log } = startClient(server, { reconnectOnServerClose: true });

    await log.nth("open", 2);
    expect(server.connections).toHaveLength(2);
    expect(log.values("retry")[0]).toMatchObject({ attempt: 1, cause: "backoff" });
    expect(socket.state).toBe("open");
  });
});

describe("ResilientSocket over ws: what arrives", () => {
  /** A `ws` constructor that remembers the sockets it made. */
  function recording(): { made: WebSocket[]; Ctor: WebSocketConstructor } {
    const made: WebSocket[] = [];
    class Recording extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        made.push(this);
      }
    }
    return { made, Ctor: Recording as unknown as WebSocketConstructor };
  }

  it.each(["arraybuffer", "blob"] as const)(
    "hands over text as a string, binary data as binaryType %s made it, and the close code and reason as sent",
    async (binaryType) => {
      const server = await startServer();
      server.onConnection = ({ ws }) => {
        ws.send("text");
        ws.send(Buffer.from([1, 2, 3]));
        ws.on("message", (data) => String(data) === "bye" && ws.close(4000, "done here"));
      };
      const { Ctor } = recording();
      const socket = new ResilientSocket({
        transport: webSocketTransport({ url: server.url, WebSocket: Ctor, binaryType }),
        ...FAST,
      });
      const received: unknown[] = [];
      const closed = new Promise<unknown>((resolve) => socket.on("close", resolve));
      socket.on("message", (data) => {
        received.push(data);
        if (received.length === 2) socket.send("bye");
      });
      try {
        expect(await closed).toMatchObject({ code: 4000, reason: "done here", kind: "closed" });
        expect(received[0]).toBe("text");
        const binary = received[1];
        expect(binary).toBeInstanceOf(binaryType === "blob" ? Blob : ArrayBuffer);
        const bytes = binary instanceof Blob ? await binary.arrayBuffer() : (binary as ArrayBuffer);
        expect([...new Uint8Array(bytes)]).toEqual([1, 2, 3]);
      } finally {
        await socket.close();
      }
    },
  );

  it("takes ws 7's message events (text already a string, no binary flag) as they come", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => {
      ws.send("text");
      ws.send(Buffer.from([4, 5]));
    };
    // ws 8 underneath, emitting messages the way ws 7 did.
    class Ws7 extends WebSocket {
      override emit(event: string | symbol, ...args: unknown[]): boolean {
        if (event !== "message") return super.emit(event, ...args);
        const [data, isBinary] = args as [Buffer | ArrayBuffer, boolean];
        return super.emit("message", isBinary ? data : String(data));
      }
    }
    const socket = new ResilientSocket({
      transport: webSocketTransport({ url: server.url, WebSocket: Ws7 as unknown as WebSocketConstructor }),
      ...FAST,
    });
    const received: unknown[] = [];
    await new Promise<void>((resolve) =>
      socket.on("message", (data) => received.push(data) === 2 && resolve()),
    );
    await socket.close();
    expect(received[0]).toBe("text");
    expect([...new Uint8Array(received[1] as ArrayBuffer)]).toEqual([4, 5]);
  });

  it("listens to a constructor that is not ws's (a Proxy around a ws socket) the WHATWG way", async () => {
    const server = await startServer();
    server.onConnection = ({ ws }) => ws.send("hello");
    class Wrapped {
      constructor(url: string) {
        // biome-ignore lint/correctness/noConstructorReturn: the point: a constructor that hands out a Proxy.
        return new Proxy(new WebSocket(url), {});
      }
    }
    const socket = new ResilientSocket({
      transport: webSocketTransport({
        url: server.url,
        WebSocket: Wrapped as unknown as WebSocketConstructor,
      }),
      ...FAST,
    });
    const message = await new Promise((resolve) => socket.on("message", resolve));
    expect(message).toBe("hello");
    server.connections[0]?.ws.close(4001, "bye");
    expect(await new Promise((resolve) => socket.on("close", resolve))).toMatchObject({
      code: 4001,
      reason: "bye",
    });
    await socket.close();
  });

  it("listens to ws with the same few functions on every connection and leaves none behind", async () => {
    const server = await startServer();
    const { made, Ctor } = recording();
    const socket = new ResilientSocket({
      transport: webSocketTransport({ url: server.url, WebSocket: Ctor }),
      ...FAST,
    });
    const opens = () => new Promise((resolve) => socket.once("open", resolve));
    await opens();
    const firstListener = made[0]?.listeners("message")[0];
    expect(firstListener).toBeTypeOf("function");
    server.connections[0]?.ws.terminate();
    await opens();
    const [first, second] = made;
    if (first === undefined || second === undefined) throw new Error("two sockets expected");
    expect(first.eventNames().filter((event) => first.listenerCount(event) > 0)).toEqual([]);
    // ws's addEventListener would wrap every listener of every connection in a closure of its own.
    for (const event of ["open", "message", "error", "close"]) {
      expect(second.listeners(event)).toHaveLength(1);
    }
    expect(second.listeners("message")[0]).toBe(firstListener);
    await socket.close();
    await waitFor("the second socket closed", () => second.readyState === WebSocket.CLOSED);
    expect(second.eventNames().filter((event) => second.listenerCount(event) > 0)).toEqual([]);
  });
});

describe("ResilientSocket over ws: server hints", () => {
  it("makes no attempt before a close-1013 hint has passed, and reports the hint", async () => {
    const server = await startServer();
    let closedAt = Number.NaN;
    server.onConnection = (connection) => {
      if (connection.index > 0) return;
      closedAt = performance.now();
      connection.ws.close(1013, JSON.stringify({ retryAfterMs: 400, spreadMs: 100 }));
    };
    const { log } = startClient(server);

    const retry = await log.nth("retry", 1);
    await log.nth("open", 2);
    const gap = (server.upgrades[1]?.at ?? Number.NaN) - closedAt;
    expect(gap).toBeGreaterThanOrEqual(400 - TIMER_SLACK_MS);
    expect(gap).toBeLessThan(500 + 1_000);
    expect(retry.value).toEqual({
      attempt: 1,
      cause: "hint",
      delayMs: expect.any(Number),
      hint: { source: "close-code", code: 1013, delayMs: 400, spreadMs: 100 },
    });
    expect(retry.value.delayMs).toBeGreaterThanOrEqual(400);
    expect(retry.value.delayMs).toBeLessThanOrEqual(500);
  });

  it("makes no attempt before the Retry-After of a 503 handshake refusal has passed, and reports the hint", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => {
      if (upgrade.index === 0) server.refuse(upgrade, 503, { "Retry-After": "1" });
      else server.accept(upgrade);
    };
    const { log } = startClient(server);

    const retry = await log.nth("retry", 1);
    await log.nth("open", 1, 3_000);
    const gap = (server.upgrades[1]?.at ?? Number.NaN) - (server.upgrades[0]?.at ?? Number.NaN);
    expect(gap).toBeGreaterThanOrEqual(1_000 - TIMER_SLACK_MS);
    expect(gap).toBeLessThan(1_250 + 1_000);
    expect(retry.value).toEqual({
      attempt: 1,
      cause: "hint",
      delayMs: expect.any(Number),
      hint: { source: "retry-after", code: 503, delayMs: 1_000, spreadMs: undefined },
    });
    expect(retry.value.delayMs).toBeGreaterThanOrEqual(1_000);
  });

  it("stops with a REFUSED error on a 401 refusal without Retry-After, and attempts nothing more", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => server.refuse(upgrade, 401);
    const { socket, log } = startClient(server);

    const error = await log.nth("error", 1);
    expect(error.value).toBeInstanceOf(ConnectionRefusedError);
    expect(error.value).toMatchObject({ code: "REFUSED", status: 401 });
    expect(socket.state).toBe("stopped");

    await quietFor(LONGER_THAN_BACKOFF_MS);
    expect(server.upgrades).toHaveLength(1);
    expect(log.values("retry")).toEqual([]);
    expect(socket.state).toBe("stopped");
  });
});

describe("ResilientSocket over ws: circuit breaker", () => {
  it("opens after 3 failures, attempts nothing while open, sends one probe, and reopens when it fails", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => server.refuse(upgrade, 500);
    // An open period (≥ 500 ms) always longer than the harness's backoff cap (200 ms), so the wait after
    // the third failure is the breaker's and its retry event says so.
    const { socket, log } = startClient(server, {
      circuitBreaker: { consecutiveFailures: 3, openMs: 1_000, maxOpenMs: 2_000 },
    });

    const opened = await log.nth("circuit", 1);
    expect(opened.value.state).toBe("open");
    expect(server.upgrades).toHaveLength(3);
    expect(socket.state).toBe("circuit-open");
    expect(log.values("retry").at(-1)?.cause).toBe("circuit");
    const reopensAt = opened.value.reopensAt ?? Number.NaN;
    expect(reopensAt).toBeGreaterThan(opened.wallAt);

    const halfOpen = await log.nth("circuit", 2);
    expect(halfOpen.value).toEqual({ state: "half-open" });
    const reopened = await log.nth("circuit", 3);
    expect(reopened.value.state).toBe("open");
    expect(reopened.value.reopensAt).toBeGreaterThan(reopened.wallAt);

    const whileOpen = server.upgrades.filter(
      (upgrade) => upgrade.at > opened.at && upgrade.wallAt < reopensAt,
    );
    expect(whileOpen).toHaveLength(0);
    expect(server.upgrades).toHaveLength(4);
    expect(server.upgrades[3]?.at).toBeGreaterThan(halfOpen.at);
  });
});

describe("ResilientSocket over ws: closing", () => {
  it("close() while waiting for a retry cancels it for good and leaves no timer or listener", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => server.refuse(upgrade, 500);
    const controller = new AbortController();
    const { socket, log, clock } = startClient(server, { signal: controller.signal });

    await log.nth("retry", 1);
    expect(socket.state).toBe("waiting");
    const pendingDelayMs = socket.stats().currentDelayMs ?? Number.NaN;
    expect(pendingDelayMs).toBeGreaterThan(0);
    await socket.close();

    expect(socket.state).toBe("closed");
    expect(socket.eventNames()).toEqual([]);
    expect(getEventListeners(controller.signal, "abort")).toEqual([]);
    expect(clock.pending).toBe(0);
    await quietFor(pendingDelayMs + LONGER_THAN_BACKOFF_MS);
    expect(server.upgrades).toHaveLength(1);
  });

  it("close() while the handshake is in flight abandons it: never opens, and the server sees it go away", async () => {
    const server = await startServer();
    let stateAtUpgrade: string | undefined;
    let closing: Promise<void> | undefined;
    server.onUpgrade = (upgrade) => {
      server.acceptAfter(upgrade, 200);
      stateAtUpgrade = socket.state;
      closing = socket.close();
    };
    const { socket, clock } = startClient(server, { connectTimeoutMs: 2_000 });

    await waitFor("the client to close as its handshake reaches the server", () => closing);
    expect(stateAtUpgrade).toBe("connecting");
    expect(clock.pending).toBe(0);
    await waitFor("the server to see the connection close", () => server.upgrades[0]?.closedAt !== undefined);
    await quietFor(200 + LONGER_THAN_BACKOFF_MS);
    expect(server.connections).toHaveLength(0);
    expect(server.upgrades).toHaveLength(1);
    expect(socket.stats().connections).toBe(0);
    expect(socket.state).toBe("closed");
  });

  it("aborting the signal closes the socket like close()", async () => {
    const server = await startServer();
    const controller = new AbortController();
    const { socket, log, clock } = startClient(server, { signal: controller.signal });
    await log.nth("open", 1);

    controller.abort();
    expect(socket.state).toBe("closed");
    expect(socket.eventNames()).toEqual([]);
    expect(clock.pending).toBe(0);
    expect(log.values("close")).toEqual([{ kind: "client", wasStable: false }]);
    const closed = await waitFor("the server to see the close", () => server.connections[0]?.closed);
    expect(closed.code).toBe(1000);

    await quietFor(LONGER_THAN_BACKOFF_MS);
    expect(server.upgrades).toHaveLength(1);
    expect(socket.send("late")).toBe("dropped");
  });
});

describe("ResilientSocket over ws: liveness", () => {
  it("stays open while the server answers heartbeat pings, and keeps the pongs out of message events", async () => {
    const server = await startServer();
    server.onConnection = (connection) => {
      connection.ws.on("message", (data) => {
        if (String(data) === "ping") connection.ws.send("pong");
      });
      connection.ws.send("hello");
    };
    const { socket, log } = startClient(server, { heartbeat: { intervalMs: 50, timeoutMs: 50 } });

    await waitFor("three answered pings", () => server.connections[0]?.messages.length === 3);
    expect(server.connections[0]?.messages).toEqual(["ping", "ping", "ping"]);
    expect(log.values("message")).toEqual(["hello"]);
    expect(log.values("error")).toEqual([]);
    expect(log.values("close")).toEqual([]);
    expect(server.upgrades).toHaveLength(1);
    expect(socket.state).toBe("open");
  });

  it("declares a silent connection dead with HEARTBEAT_TIMEOUT and reconnects", async () => {
    const server = await startServer();
    const { log } = startClient(server, { heartbeat: { intervalMs: 50, timeoutMs: 50 } });

    const error = await log.nth("error", 1);
    expect(error.value.code).toBe("HEARTBEAT_TIMEOUT");
    await log.nth("open", 2);
    expect(server.connections).toHaveLength(2);
    const closed = await waitFor(
      "the server to see the dead connection closed",
      () => server.connections[0]?.closed,
    );
    expect(closed.code).toBe(1000);
    // The close frame follows the ping on the same stream, so by now the server has read the ping.
    expect(server.connections[0]?.messages).toEqual(["ping"]);
  });

  it("abandons a handshake slower than connectTimeoutMs with CONNECT_TIMEOUT, then tries again", async () => {
    const server = await startServer();
    server.onUpgrade = (upgrade) => {
      if (upgrade.index === 0) server.hold(upgrade);
      else server.accept(upgrade);
    };
    const { log } = startClient(server, { connectTimeoutMs: 300 });

    const error = await log.nth("error", 1);
    expect(error.value.code).toBe("CONNECT_TIMEOUT");
    const connecting = log.all("state").find((entry) => entry.value === "connecting");
    expect(error.at - (connecting?.at ?? Number.NaN)).toBeGreaterThanOrEqual(300 - TIMER_SLACK_MS);
    await log.nth("open", 1);
    expect(server.upgrades).toHaveLength(2);
    await waitFor(
      "the server to see the abandoned handshake close",
      () => server.upgrades[0]?.closedAt !== undefined,
    );
  });
});
