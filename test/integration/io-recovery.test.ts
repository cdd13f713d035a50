/**
 * Connection-state recovery end to end, and the bounded offline buffer, against real Socket.IO 4.8
 * servers: the governed Socket is never replaced, so socket.io's recovery id and offset survive our
 * reconnects; a restarted server cannot recover and says so; what waits offline is bounded and reported.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ResilientSocket } from "../../src/index.js";
import { drainSocketIo, socketIoAdmission } from "../../src/server/index.js";
import {
  EmitDiscardedError,
  type EmitDropped,
  io,
  type ResilientIoSocket,
  socketIoTransport,
} from "../../src/socket-io.js";
import { IoServer, type IoServerOptions, next, until } from "./io-harness.js";

const servers: IoServer[] = [];
const closers: (() => Promise<void>)[] = [];

async function server(recovery: boolean, extra: IoServerOptions = {}): Promise<IoServer> {
  const s = await IoServer.start({
    server: recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 10_000 } } : {},
    ...extra,
  });
  servers.push(s);
  return s;
}

function client(url: string, options: Parameters<typeof io>[1] = {}): ResilientIoSocket {
  const socket = io(url, { forceNew: true, transports: ["websocket"], ...options });
  closers.push(() => socket.resilience.close());
  return socket;
}

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const s of servers.splice(0)) await s.close();
});

describe("connection-state recovery through the governed io()", () => {
  it("comes back recovered after its transport dropped and receives the events emitted meanwhile", async () => {
    const s = await server(true);
    const socket = client(s.url);
    const news: number[] = [];
    socket.on("news", (n: number) => news.push(n));
    await next(socket, "connect");
    expect(socket.recovered).toBe(false);
    // socket.io sends a recovery offset with each event; recovery starts from the last one received.
    s.server.emit("news", -1);
    await until("the first event", () => news.length === 1);
    const firstId = socket.id;
    const disconnected = next(socket, "disconnect");
    socket.io.engine.close();
    await disconnected;
    for (let i = 0; i < 5; i++) s.server.emit("news", i);
    await next(socket, "connect");
    expect(socket.recovered).toBe(true);
    expect(socket.id).toBe(firstId);
    await until("the missed events", () => news.length === 6);
    expect(news).toEqual([-1, 0, 1, 2, 3, 4]);
  });

  it("comes back not recovered from a restarted server, which has forgotten the session", async () => {
    const s = await server(true);
    const socket = client(s.url);
    await next(socket, "connect");
    const disconnected = next(socket, "disconnect");
    await s.restart();
    await disconnected;
    await next(socket, "connect");
    expect(socket.recovered).toBe(false);
  });

  it("comes back recovered after a drain, at the appointment the drain gave", async () => {
    const s = await server(true);
    const socket = client(s.url);
    await next(socket, "connect");
    s.server.emit("news", 0);
    await new Promise((r) => setTimeout(r, 50));
    const drainedAt = Date.now();
    const summary = drainSocketIo(s.server, { windowMs: 300 });
    expect(summary.clients).toBe(1);
    const [reason] = await next<[string]>(socket, "disconnect");
    expect(reason).toBe("transport close");
    await next(socket, "connect");
    expect(socket.recovered).toBe(true);
    expect(socket.resilience.stats().lastHint?.source).toBe("drain");
    expect(Date.now() - drainedAt).toBeLessThan(2_000);
  });

  it("admits a recovered client without spending admission's token, also with skipMiddlewares: false", async () => {
    // One token, then none for minutes: any connection charged after the first would be refused.
    const admission = socketIoAdmission({ ratePerSecond: 0.01, burst: 1 });
    const s = await IoServer.start({
      server: { connectionStateRecovery: { maxDisconnectionDuration: 10_000, skipMiddlewares: false } },
      middleware: admission,
    });
    servers.push(s);
    const socket = client(s.url);
    const news: number[] = [];
    socket.on("news", (n: number) => news.push(n));
    await next(socket, "connect");
    s.server.emit("news", 1);
    await until("the event", () => news.length === 1);
    const refusals: unknown[] = [];
    socket.on("connect_error", (e) => refusals.push(e));
    socket.io.engine.close();
    await next(socket, "connect");
    expect(socket.recovered).toBe(true);
    expect(refusals).toEqual([]);
  });

  it("cuts a drain window that would outlast maxDisconnectionDuration, and says so", async () => {
    const s = await server(true);
    const socket = client(s.url);
    await next(socket, "connect");
    const summary = drainSocketIo(s.server, { windowMs: 60_000, startInMs: 500 });
    // 10 s recovery window, 1 s kept back for the client's own connect time: 9 s from now.
    expect(summary.windowMs).toBe(8_500);
    expect(summary.warning).toMatch(/windowMs 60000 .*maxDisconnectionDuration.*8500/);
    const [reason] = await next<[string]>(socket, "disconnect");
    expect(reason).toBe("transport close");
    expect(socket.resilience.stats().plannedAt).toBeDefined();
    expect(
      (socket.resilience.stats().lastHint?.delayMs ?? 0) +
        (socket.resilience.stats().lastHint?.spreadMs ?? 0),
    ).toBeLessThanOrEqual(9_000);
  });

  it("keeps recovery for the socketIoTransport message pipe too (one code path)", async () => {
    const s = await server(true, {
      onConnection: (sock: {
        on: (e: string, l: (d: unknown) => void) => void;
        emit: (e: string, d: unknown) => void;
      }) => sock.on("message", (d) => sock.emit("message", { echo: d })),
    });
    const plain = socketIoTransport({ url: s.url, options: { transports: ["websocket"] } });
    const socket = new ResilientSocket({ transport: plain });
    closers.push(() => socket.close());
    const messages: unknown[] = [];
    socket.on("message", (m) => messages.push(m));
    await next(socket, "open");
    socket.send("hello");
    await until("the echo", () => messages.length === 1);
    const [serverSide] = s.sockets();
    serverSide?.conn.close();
    await next(socket, "close");
    s.server.emit("message", "missed");
    await next(socket, "open");
    await until("the missed message", () => messages.includes("missed"));
    expect(s.sockets()[0]?.recovered).toBe(true);
  });
});

describe("the bounded offline buffer of io()", () => {
  it("holds 1,000 emits over a server restart within queue.maxMessages, reporting every discard and erroring its ack", async () => {
    const s = await server(false);
    const socket = client(s.url, { queue: { maxMessages: 400 } });
    await next(socket, "connect");
    await s.close();
    await until("disconnected", () => !socket.connected);
    const drops: EmitDropped[] = [];
    socket.resilience.on("drop", (d) => drops.push(d));
    const ackErrors: unknown[] = [];
    const acked: number[] = [];
    for (let i = 0; i < 1_000; i++) {
      socket.emit("echo", i, (first: unknown) => {
        if (first instanceof EmitDiscardedError) ackErrors.push(first);
        else acked.push(first as number);
      });
    }
    expect(socket.resilience.stats().queue.messages).toBe(400);
    await s.listen();
    await until("every kept emit acknowledged", () => acked.length === 400, 8_000);
    expect(drops).toHaveLength(600);
    expect(drops.every((d) => d.reason === "overflow" && d.data[0] === "echo")).toBe(true);
    expect(ackErrors).toHaveLength(600);
    // drop-oldest: the newest 400 survive, in order.
    expect(acked).toEqual(Array.from({ length: 400 }, (_, i) => 600 + i));
    expect(socket.resilience.stats().dropped).toBe(600);
  });

  it("keeps at most maxMessages of 100,000 offline emits, reporting the other 99,000, in linear time", async () => {
    const socket = client("http://127.0.0.1:9", { autoConnect: false, queue: { maxMessages: 1_000 } });
    let drops = 0;
    socket.resilience.on("drop", () => drops++);
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) socket.emit("flood", i, "x".repeat(16));
    const elapsedMs = performance.now() - started;
    expect(socket.resilience.stats().queue.messages).toBe(1_000);
    expect(drops).toBe(99_000);
    // A generous cap against a regression to re-counting the whole buffer on every emit (1,000 × the work).
    expect(elapsedMs).toBeLessThan(10_000);
  });

  it("bounds by bytes and by age, and drops the newest with overflow: drop-newest", async () => {
    let now = 0;
    const clock = {
      now: () => now,
      setTimeout: (f: () => void, ms: number) => setTimeout(f, ms),
      clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    const socket = client("http://127.0.0.1:9", {
      autoConnect: false,
      clock: clock as never,
      queue: { maxMessages: 2, maxBytes: 100, ttlMs: 1_000, overflow: "drop-newest" },
    });
    const drops: EmitDropped[] = [];
    socket.resilience.on("drop", (d) => drops.push(d));
    socket.emit("big", "x".repeat(200));
    socket.emit("a", 1);
    socket.emit("b", 2);
    socket.emit("c", 3);
    expect(drops.map((d) => [d.data[0], d.reason])).toEqual([
      ["big", "too-large"],
      ["c", "overflow"],
    ]);
    now = 2_000;
    expect(socket.resilience.stats().queue.messages).toBe(0);
    expect(drops.slice(2).map((d) => d.reason)).toEqual(["expired", "expired"]);
  });

  it("counts only what socket.io still buffers after an ack timeout took an emit out", async () => {
    const socket = client("http://127.0.0.1:9", { autoConnect: false, queue: { maxMessages: 2 } });
    const drops: EmitDropped[] = [];
    socket.resilience.on("drop", (d) => drops.push(d));
    socket.emit("a", 1);
    const timedOut = new Promise<Error>((resolve) => socket.timeout(20).emit("gone", "x", resolve));
    expect(socket.resilience.stats().queue.messages).toBe(2);
    // socket.io takes the emit out of its buffer itself when its ack times out.
    await expect(timedOut).resolves.toBeInstanceOf(Error);
    socket.emit("b", 2);
    expect(drops).toEqual([]);
    expect(socket.resilience.stats().queue).toEqual({ messages: 2, bytes: 4 });
    socket.emit("c", 3);
    expect(drops).toEqual([{ data: ["a", 1], reason: "overflow" }]);
    expect(socket.resilience.stats().queue).toEqual({ messages: 2, bytes: 4 });
  });

  it("bounds an emit of socket.io's retries queue once when it is buffered while still connected (a wake from sleep)", async () => {
    const s = await server(false);
    const socket = client(s.url, { retries: 1, ackTimeout: 5_000, queue: { maxBytes: 1_000 } });
    await next(socket, "connect");
    const drops: EmitDropped[] = [];
    socket.resilience.on("drop", (d) => drops.push(d));
    const answers: unknown[][] = [];
    // A laptop waking up: no timer has fired yet, but the clock says the server's ping is long overdue, so
    // socket.io buffers the emit of its retries queue (re-entering emit) while the Socket is still connected.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 600_000 });
    try {
      socket.emit("echo", "x".repeat(600), (...args: unknown[]) => answers.push(args));
    } finally {
      vi.useRealTimers();
    }
    expect(drops).toEqual([]);
    expect(socket.resilience.stats().queue).toEqual({ messages: 1, bytes: 604 });
    // socket.io closes the expired connection; our policy reconnects and the buffered emit goes out.
    await until("the answer", () => answers.length > 0, 8_000);
    expect(answers[0]).toEqual([null, "x".repeat(600)]);
    expect(drops).toEqual([]);
  });

  it("reports what is still buffered as dropped (closed) on close(), leaving nothing behind", async () => {
    const socket = client("http://127.0.0.1:9", { autoConnect: false });
    const drops: EmitDropped[] = [];
    socket.resilience.on("drop", (d) => drops.push(d));
    const rejected = socket.emitWithAck("echo", 1);
    await socket.resilience.close();
    await expect(rejected).rejects.toBeInstanceOf(EmitDiscardedError);
    expect(drops.map((d) => d.reason)).toEqual(["closed"]);
    expect(socket.resilience.state).toBe("closed");
    socket.connect();
    expect(socket.active).toBe(false);
  });
});

describe("a hostile server against the governed io()", () => {
  it("keeps 10,000 drain notices away from the app's listeners and obeys only a bounded hint", async () => {
    const s = await server(false, {
      onConnection: (sock) =>
        sock.on("flood", () => {
          for (let i = 0; i < 10_000; i++)
            sock.emit("resilient:drain", { retryAfterMs: 1e15, junk: "x".repeat(100) });
          sock.conn.close();
        }),
    });
    const socket = client(s.url, { maxDelayMs: 600_000 });
    const seen: unknown[] = [];
    socket.onAny((event) => seen.push(event));
    await next(socket, "connect");
    const codes: string[] = [];
    socket.resilience.on("error", (e) => codes.push(e.code));
    socket.emit("flood");
    await until("the retry", () => socket.resilience.state === "waiting");
    expect(seen).toEqual([]);
    expect(codes).toContain("BAD_HINT");
    // The planner applies the ceiling once; stats() shows the hint as obeyed, like the retry event.
    const stats = socket.resilience.stats();
    expect(stats.lastHint?.source).toBe("drain");
    expect(stats.lastHint?.delayMs).toBeLessThanOrEqual(600_000);
    expect(stats.currentDelayMs).toBeLessThanOrEqual(600_000);
  });
});
