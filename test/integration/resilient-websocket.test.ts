/**
 * ResilientWebSocket against real `ws` servers on 127.0.0.1: the WHATWG surface, what a consumer sees on a
 * drop, `close()` as final, `reconnect()`, the queue option, and the policy underneath (hints, maxAttempts,
 * timers). Written from the scenarios of reconnecting-websocket's and partysocket's suites, in our words,
 * where they apply (see docs/websocket.md for the mapping and the deliberate differences).
 */
import { afterEach, describe, expect, it } from "vitest";
import { decorrelatedJitter } from "../../src/index.js";
import { CloseEventShim, ResilientWebSocket, SocketErrorEvent } from "../../src/websocket.js";
import { closeSockets, connect, NodeWebSocket, next, record } from "./resilient-websocket-harness.js";
import { closeAll, quietFor, startServer, type TestServer, TIMER_SLACK_MS, waitFor } from "./ws-harness.js";

afterEach(async () => {
  closeSockets();
  await closeAll();
});

async function echoServer(): Promise<TestServer> {
  const server = await startServer();
  server.onConnection = ({ ws }) =>
    ws.on("message", (data, binary) => ws.readyState === ws.OPEN && ws.send(data, { binary }));
  return server;
}

describe("construction", () => {
  it("exposes the readyState constants on the class and on every instance", () => {
    const { socket } = connect("ws://127.0.0.1:9/", { autoConnect: false });
    expect([ResilientWebSocket.CONNECTING, ResilientWebSocket.OPEN]).toEqual([0, 1]);
    expect([ResilientWebSocket.CLOSING, ResilientWebSocket.CLOSED]).toEqual([2, 3]);
    expect([socket.CONNECTING, socket.OPEN, socket.CLOSING, socket.CLOSED]).toEqual([0, 1, 2, 3]);
  });

  it("throws a TypeError naming WebSocket when there is no constructor (Node 20 without ws)", () => {
    expect(() => new ResilientWebSocket("ws://127.0.0.1:9/")).toThrow(
      /WebSocket must be a WebSocket constructor/,
    );
    expect(() => new ResilientWebSocket("ws://127.0.0.1:9/", undefined, { WebSocket: {} as never })).toThrow(
      TypeError,
    );
  });

  it("throws for an unknown option or a bad url, naming it", () => {
    expect(() => connect("ws://127.0.0.1:9/", { maxRetries: 3 } as never)).toThrow(/maxRetries/);
    expect(() => connect(42 as never)).toThrow(/url must be a string, URL or function/);
  });

  it("reports CONNECTING and empty getters before the first attempt, CLOSED when autoConnect is off", () => {
    const { socket } = connect("ws://127.0.0.1:9/path");
    expect(socket.readyState).toBe(socket.CONNECTING);
    expect(socket.url).toBe("ws://127.0.0.1:9/path");
    expect([socket.protocol, socket.extensions, socket.bufferedAmount]).toEqual(["", "", 0]);
    expect(socket.binaryType).toBe("blob");
    expect(connect("ws://127.0.0.1:9/", { autoConnect: false }).socket.readyState).toBe(3);
  });

  it("uses the global WebSocket when none is passed", async () => {
    const server = await echoServer();
    const global = globalThis as { WebSocket?: unknown };
    const before = global.WebSocket;
    global.WebSocket = NodeWebSocket;
    try {
      const socket = new ResilientWebSocket(server.url);
      await next(socket, "open");
      socket.close();
    } finally {
      global.WebSocket = before;
    }
  });
});

describe("an open connection", () => {
  it("connects, sends, receives and closes, with the WHATWG event objects", async () => {
    const server = await echoServer();
    const { socket, clock } = connect(server.url);
    const opened = await next(socket, "open");
    expect(opened).toBeInstanceOf(Event);
    expect(socket.readyState).toBe(socket.OPEN);
    expect(socket.url).toBe(server.url);
    socket.send("hello");
    const message = await next<MessageEvent>(socket, "message");
    expect(message).toBeInstanceOf(MessageEvent);
    expect(message.data).toBe("hello");
    expect(message.origin).toBe(new URL(server.url).origin);
    socket.close(4001, "bye");
    expect(socket.readyState).toBe(socket.CLOSED);
    await waitFor("the server to see the close", () => server.connections[0]?.closed);
    expect(server.connections[0]?.closed).toMatchObject({ code: 4001, reason: "bye" });
    expect(clock.pending).toBe(0);
    expect(socket.resilient.eventNames()).toEqual([]);
  });

  it("reads the subprotocol the server chose, and none when none was asked", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url, {}, ["v2.chat", "v1.chat"]);
    await next(socket, "open");
    expect(socket.protocol).toBe("v2.chat");
    const plain = connect(server.url).socket;
    await next(plain, "open");
    expect(plain.protocol).toBe("");
  });

  it("calls onopen, onmessage and onclose (and addEventListener listeners, also handleEvent objects) on every connection", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    const seen: string[] = [];
    socket.onopen = () => seen.push("onopen");
    socket.onclose = (event) => seen.push(`onclose:${event.code}`);
    socket.addEventListener("open", { handleEvent: () => seen.push("handleEvent") });
    await next(socket, "open");
    server.connections[0]?.ws.close(4000, "again");
    await next(socket, "open");
    expect(seen).toEqual(["onopen", "handleEvent", "onclose:4000", "onopen", "handleEvent"]);
    expect(typeof socket.onopen).toBe("function");
    socket.onopen = null;
    expect(socket.onopen).toBeNull();
  });

  it("removes a listener with removeEventListener", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    let count = 0;
    const listener = () => count++;
    socket.addEventListener("message", listener);
    await next(socket, "open");
    socket.send("1");
    await next(socket, "message");
    socket.removeEventListener("message", listener);
    socket.send("2");
    await next(socket, "message");
    expect(count).toBe(1);
  });

  it("delivers binary messages as Blob by default and as ArrayBuffer once binaryType says so, across reconnects", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    await next(socket, "open");
    socket.send(new Uint8Array([1, 2, 3]));
    const asBlob = await next<MessageEvent>(socket, "message");
    expect(asBlob.data).toBeInstanceOf(Blob);
    socket.binaryType = "arraybuffer";
    socket.send(new Uint8Array([4]));
    expect((await next<MessageEvent>(socket, "message")).data).toBeInstanceOf(ArrayBuffer);
    server.connections[0]?.ws.close(4000);
    await next(socket, "open");
    socket.send(new Uint8Array([5]));
    expect((await next<MessageEvent>(socket, "message")).data).toBeInstanceOf(ArrayBuffer);
    socket.binaryType = "nonsense" as BinaryType;
    expect(socket.binaryType).toBe("arraybuffer");
  });
});

describe("what a consumer sees on a drop", () => {
  it("sees close with the server's code, then open again on the next connection", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    const seen = record(socket);
    let stateInListener = -1;
    socket.addEventListener("close", () => {
      stateInListener = socket.readyState;
    });
    await next(socket, "open");
    server.connections[0]?.ws.close(4000, "restarting");
    const closed = await next<CloseEvent>(socket, "close");
    expect(stateInListener).toBe(socket.CLOSED);
    expect(closed.code).toBe(4000);
    expect(closed.reason).toBe("restarting");
    expect(closed.wasClean).toBe(true);
    expect(socket.readyState).toBe(socket.CLOSED);
    await next(socket, "open");
    expect(seen).toEqual(["open", "close:4000", "open"]);
    expect(server.connections).toHaveLength(2);
  });

  it("sees a close with code 1006 (not clean) when the server vanishes, and reconnects once it is back", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    await next(socket, "open");
    await server.stop();
    const closed = await next<CloseEvent>(socket, "close");
    expect(closed.code).toBe(1006);
    expect(closed.wasClean).toBe(false);
    await server.listen();
    await next(socket, "open", 5_000);
  });

  it("sees error then close(1006) for each attempt that fails, and counts them in retryCount", async () => {
    const server = await echoServer();
    server.onUpgrade = (upgrade) => server.refuse(upgrade, 503);
    const { socket } = connect(server.url);
    const seen = record(socket);
    const [error] = await Promise.all([next<SocketErrorEvent>(socket, "error"), next(socket, "close")]);
    expect(error).toBeInstanceOf(SocketErrorEvent);
    expect(error.message).toMatch(/503/);
    expect(seen).toEqual(["error", "close:1006"]);
    expect(socket.retryCount).toBe(1);
    expect(socket.retry).toMatchObject({ attempt: 1, cause: "backoff" });
    server.onUpgrade = (upgrade) => server.accept(upgrade);
    await next(socket, "open", 5_000);
    await waitFor("the connection to become stable", () => socket.retryCount === 0);
  });

  it("stops after maxAttempts failed attempts, CLOSED, with no timer left", async () => {
    const server = await echoServer();
    server.onUpgrade = (upgrade) => server.refuse(upgrade, 503);
    const { socket, clock } = connect(server.url, { maxAttempts: 3 });
    const errors: unknown[] = [];
    socket.addEventListener("error", (event) => errors.push((event as SocketErrorEvent).error));
    await waitFor("the socket to stop", () => socket.resilient.state === "stopped");
    expect(server.upgrades).toHaveLength(3);
    expect(errors.at(-1)).toMatchObject({ code: "MAX_ATTEMPTS" });
    expect(socket.readyState).toBe(socket.CLOSED);
    expect(clock.pending).toBe(0);
    await quietFor(300);
    expect(server.upgrades).toHaveLength(3);
  });

  it("obeys a server's close 1013 hint before coming back", async () => {
    const server = await echoServer();
    server.onConnection = ({ ws, index }) =>
      index === 0 && ws.close(1013, JSON.stringify({ retryAfterMs: 300, spreadMs: 0 }));
    const { socket } = connect(server.url);
    await next(socket, "open");
    // Taken in the listener: the retry is armed after the close event is dispatched.
    let droppedAt = Number.NaN;
    socket.addEventListener("close", () => {
      droppedAt = performance.now();
    });
    const closed = await next<CloseEvent>(socket, "close");
    expect(closed.code).toBe(1013);
    expect(socket.retry).toMatchObject({ cause: "hint" });
    expect(socket.retry?.delayMs).toBeGreaterThanOrEqual(300);
    await next(socket, "open");
    expect(performance.now() - droppedAt).toBeGreaterThanOrEqual(300 - TIMER_SLACK_MS);
  });

  it("gives up a handshake that never completes after connectTimeoutMs, and tries again", async () => {
    const server = await echoServer();
    server.onUpgrade = (upgrade) => (upgrade.index === 0 ? server.hold(upgrade) : server.accept(upgrade));
    const { socket } = connect(server.url, { connectTimeoutMs: 150 });
    const [error, closed] = await Promise.all([
      next<SocketErrorEvent>(socket, "error"),
      next<CloseEvent>(socket, "close"),
    ]);
    expect(error.error).toMatchObject({ code: "CONNECT_TIMEOUT" });
    expect(closed.code).toBe(1006);
    expect(closed.reason).toMatch(/connectTimeoutMs/);
    await next(socket, "open");
  });

  it("stops after a deliberate close 1000 from the server unless reconnectOnServerClose is set", async () => {
    const server = await echoServer();
    server.onConnection = ({ ws, index }) => index === 0 && ws.close(1000, "done");
    const { socket } = connect(server.url);
    await next(socket, "open");
    expect((await next<CloseEvent>(socket, "close")).code).toBe(1000);
    await quietFor(300);
    expect(server.upgrades).toHaveLength(1);
    expect(socket.readyState).toBe(socket.CLOSED);
    const again = connect(server.url, { reconnectOnServerClose: true }).socket;
    await next(again, "open");
    server.connections.at(-1)?.ws.close(1000);
    await next(again, "close");
    await next(again, "open");
  });

  it("keeps closed when the app calls close() from the close listener of a drop", async () => {
    const server = await echoServer();
    server.onConnection = ({ ws }) => ws.close(4001, "go");
    const { socket, clock } = connect(server.url);
    const seen = record(socket);
    socket.addEventListener("close", () => socket.close());
    await waitFor("the final close", () => socket.readyState === socket.CLOSED && seen.length >= 3);
    await quietFor(300);
    expect(seen).toEqual(["open", "close:4001", "close:1000"]);
    expect(server.upgrades).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });
});

describe("close() is final", () => {
  it("dispatches exactly one close event before it returns, also when called again or from a close listener", async () => {
    const server = await echoServer();
    const { socket, clock } = connect(server.url);
    let closes = 0;
    socket.addEventListener("close", () => {
      closes++;
      socket.close();
    });
    await next(socket, "open");
    socket.close(1000, "bye");
    expect(closes).toBe(1);
    expect(socket.readyState).toBe(socket.CLOSED);
    socket.close();
    await quietFor(200);
    expect(closes).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("before the connection opened: no open, one close, no attempt after", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    const seen = record(socket);
    socket.close();
    await quietFor(300);
    expect(seen).toEqual(["close:1000"]);
    expect(server.connections).toHaveLength(0);
  });

  it("while the handshake is still pending: one close event, at once", async () => {
    const server = await echoServer();
    server.onUpgrade = (upgrade) => server.hold(upgrade);
    const { socket } = connect(server.url);
    await waitFor("the upgrade request", () => server.upgrades.length === 1);
    expect(socket.readyState).toBe(socket.CONNECTING);
    const seen = record(socket);
    socket.close();
    expect(seen).toEqual(["close:1000"]);
    await quietFor(200);
    expect(seen).toEqual(["close:1000"]);
  });

  it("is what aborting the signal does", async () => {
    const server = await echoServer();
    const controller = new AbortController();
    const { socket, clock } = connect(server.url, { signal: controller.signal });
    await next(socket, "open");
    const closed = next<CloseEvent>(socket, "close");
    controller.abort();
    expect((await closed).code).toBe(1000);
    expect(socket.readyState).toBe(socket.CLOSED);
    expect(clock.pending).toBe(0);
  });

  it("is CLOSED from the start with a signal that was already aborted, and never connects", async () => {
    const server = await echoServer();
    const { socket, clock } = connect(server.url, { signal: AbortSignal.abort() });
    expect(socket.readyState).toBe(socket.CLOSED);
    await quietFor(100);
    expect(server.upgrades).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it("refuses a code or reason a WebSocket would refuse, with the same DOMException names", () => {
    const { socket } = connect("ws://127.0.0.1:9/", { autoConnect: false });
    expect(() => socket.close(1001)).toThrow(expect.objectContaining({ name: "InvalidAccessError" }));
    expect(() => socket.close(5000)).toThrow(expect.objectContaining({ name: "InvalidAccessError" }));
    expect(() => socket.close(1000, "x".repeat(124))).toThrow(
      expect.objectContaining({ name: "SyntaxError" }),
    );
    expect(socket.readyState).toBe(socket.CLOSED);
  });

  it("drops what is sent after it, without throwing", async () => {
    const { socket } = connect("ws://127.0.0.1:9/", { autoConnect: false });
    socket.close();
    expect(socket.send("late")).toBe("dropped");
    socket.reconnect();
    expect(socket.readyState).toBe(socket.CLOSED);
  });
});

describe("reconnect()", () => {
  it("closes an open connection with the given code and comes back through the policy", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    const seen = record(socket);
    await next(socket, "open");
    socket.reconnect(4100, "switch");
    expect(socket.readyState).toBe(socket.CLOSING);
    await next(socket, "open");
    expect(seen).toEqual(["open", "close:4100", "open"]);
    expect(server.connections[0]?.closed).toMatchObject({ code: 4100, reason: "switch" });
  });

  it("starts a socket created with autoConnect off, and does nothing while an attempt is in flight", async () => {
    const server = await echoServer();
    server.onUpgrade = (upgrade) => server.acceptAfter(upgrade, 100);
    const { socket } = connect(server.url, { autoConnect: false });
    await quietFor(50);
    expect(server.upgrades).toHaveLength(0);
    socket.reconnect();
    expect(socket.readyState).toBe(socket.CONNECTING);
    socket.reconnect();
    socket.reconnect();
    await next(socket, "open");
    expect(server.upgrades).toHaveLength(1);
  });

  it("starts a stopped socket again", async () => {
    const server = await echoServer();
    server.onConnection = ({ ws, index }) => index === 0 && ws.close(1000);
    const { socket } = connect(server.url);
    await next(socket, "close");
    await waitFor("the stop", () => socket.resilient.state === "stopped");
    socket.reconnect();
    await next(socket, "open");
  });
});

describe("sending while not open (the queue option)", () => {
  it("queues by default and sends in order once open, counting the bytes in bufferedAmount", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url);
    expect(socket.send("one")).toBe("queued");
    expect(socket.send("two")).toBe("queued");
    expect(socket.bufferedAmount).toBe(6);
    await next(socket, "open");
    await waitFor("both messages", () => server.connections[0]?.messages.length === 2);
    expect(server.connections[0]?.messages).toEqual(["one", "two"]);
    expect(socket.bufferedAmount).toBe(0);
  });

  it("keeps at most queue.maxMessages, dropping the oldest", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url, { queue: { maxMessages: 2 } });
    for (const text of ["a", "b", "c"]) socket.send(text);
    await next(socket, "open");
    await waitFor("two messages", () => server.connections[0]?.messages.length === 2);
    await quietFor(50);
    expect(server.connections[0]?.messages).toEqual(["b", "c"]);
  });

  it("with queue: false sends nothing that was sent while not open (ShareDB's requirement)", async () => {
    const server = await echoServer();
    const { socket } = connect(server.url, { queue: false });
    const dropped: unknown[] = [];
    socket.resilient.on("drop", (event) => dropped.push(event.reason));
    expect(socket.send("early")).toBe("dropped");
    await next(socket, "open");
    expect(socket.send("now")).toBe("sent");
    await waitFor("the message", () => server.connections[0]?.messages.length === 1);
    server.connections[0]?.ws.close(4000);
    await next(socket, "close");
    expect(socket.send("between")).toBe("dropped");
    await next(socket, "open");
    await quietFor(50);
    expect(server.connections.map((c) => c.messages)).toEqual([["now"], []]);
    expect(dropped).toEqual(["disconnected", "disconnected"]);
  });
});

describe("the url provider", () => {
  it("is called before every attempt, and url reports the one in use", async () => {
    const server = await echoServer();
    let calls = 0;
    const { socket } = connect(() => `${server.url}?n=${++calls}`);
    expect(socket.url).toBe("");
    await next(socket, "open");
    expect(socket.url).toBe(`${server.url}?n=1`);
    server.connections[0]?.ws.close(4000);
    await next(socket, "open");
    expect(socket.url).toBe(`${server.url}?n=2`);
    expect(server.upgrades.map((u) => u.request.url)).toEqual(["/?n=1", "/?n=2"]);
  });
});

describe("bounds", () => {
  it("holds the same listeners and no timer of its own after 30 drops and reconnects", async () => {
    const server = await echoServer();
    const { socket, clock } = connect(server.url, { backoff: decorrelatedJitter({ baseMs: 1, capMs: 5 }) });
    await next(socket, "open");
    const before = socket.resilient.eventNames().map((e) => socket.resilient.listenerCount(e));
    for (let i = 0; i < 30; i++) {
      server.connections.at(-1)?.ws.close(4000);
      await next(socket, "open");
    }
    expect(socket.resilient.eventNames().map((e) => socket.resilient.listenerCount(e))).toEqual(before);
    socket.close();
    expect(clock.pending).toBe(0);
  });

  it("dispatches a CloseEvent-compatible object where the platform has no CloseEvent", () => {
    const event = new CloseEventShim("close", { code: 4000, reason: "r", wasClean: true });
    expect(event).toBeInstanceOf(Event);
    expect([event.type, event.code, event.reason, event.wasClean]).toEqual(["close", 4000, "r", true]);
  });
});
