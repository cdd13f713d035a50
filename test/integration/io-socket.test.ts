/**
 * The governed `io()` against a real Socket.IO 4.8 server, scenario by scenario as socket.io-client's own
 * suite expects of a Socket (packages/socket.io-client/test/socket.ts), in our words.
 */
import { afterEach, describe, expect, it } from "vitest";
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
  const socket = io(url, { forceNew: true, ...options });
  sockets.push(socket);
  return socket;
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) await socket.resilience.close();
  for (const s of servers.splice(0)) await s.close();
});

describe("a governed io() socket, as socket.io-client's own suite expects", () => {
  it("has the server-side id on the main namespace once connected", async () => {
    const s = await server();
    const socket = client(s.url);
    await next(socket, "connect");
    const [id] = await new Promise<[string]>((resolve) =>
      socket.emit("getId", (id: string) => resolve([id])),
    );
    expect(socket.id).toBe(id);
  });

  it("has the server-side id on a custom namespace once connected", async () => {
    const s = await server();
    const socket = client(`${s.url}/custom`);
    await next(socket, "connect");
    const id = await socket.emitWithAck("getId");
    expect(socket.id).toBe(id);
  });

  it("clears socket.id on disconnect and gets a new one on reconnect", async () => {
    const s = await server();
    const socket = client(s.url, { backoff: undefined, stableAfterMs: 0 });
    await next(socket, "connect");
    const first = socket.id;
    const disconnected = next(socket, "disconnect");
    socket.io.engine.close();
    await disconnected;
    expect(socket.id).toBeUndefined();
    await next(socket, "connect");
    expect(socket.id).toBeDefined();
    expect(socket.id).not.toBe(first);
  });

  it("fires no connect_error when disconnected by the app while the connection is still opening", async () => {
    const s = await server();
    const socket = client(s.url);
    const errors: unknown[] = [];
    socket.on("connect_error", (e) => errors.push(e));
    socket.disconnect();
    await new Promise((r) => setTimeout(r, 100));
    expect(errors).toEqual([]);
    expect(socket.connected).toBe(false);
    expect(socket.resilience.state).toBe("stopped");
  });

  it("fires connect_error when the server cannot be reached, and retries on its own schedule", async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    const socket = client(url, { transports: ["websocket"] });
    const [error] = await next<[Error]>(socket, "connect_error");
    expect(error).toBeInstanceOf(Error);
    const [retry] = await next<[{ cause: string; delayMs: number }]>(socket.resilience, "retry");
    expect(retry.cause).toBe("backoff");
  });

  it("fires connect_error on an open timeout (connectTimeoutMs, or socket.io's timeout option)", async () => {
    const s = await server({ middleware: () => {} });
    const socket = client(s.url, { timeout: 100, transports: ["websocket"] });
    const errors: string[] = [];
    socket.resilience.on("error", (e) => errors.push(e.code));
    await until("a CONNECT_TIMEOUT", () => errors.includes("CONNECT_TIMEOUT"));
    expect(socket.connected).toBe(false);
  });

  it("sends with and without compress(false), in order", async () => {
    const s = await server();
    const flags: boolean[] = [];
    const socket = client(s.url);
    await next(socket, "connect");
    const outgoing: unknown[][] = [];
    socket.onAnyOutgoing((...args) => outgoing.push(args));
    socket.emit("echo", "a", () => flags.push(true));
    socket.compress(false).emit("echo", "b", () => flags.push(false));
    await until("both acks", () => flags.length === 2);
    expect(outgoing.map((a) => a[1])).toEqual(["a", "b"]);
  });

  it("passes query (object or in the URL) and auth (object or a function evaluated per attempt)", async () => {
    const s = await server();
    let calls = 0;
    const socket = client(`${s.url}?a=1`, {
      auth: (cb) => {
        calls++;
        cb({ attempt: calls });
      },
    });
    await next(socket, "connect");
    const first = (await socket.emitWithAck("getHandshake")) as {
      query: { a: string };
      auth: { attempt: number };
    };
    expect(first.query.a).toBe("1");
    expect(first.auth.attempt).toBe(1);
    socket.io.engine.close();
    await next(socket, "connect");
    const second = (await socket.emitWithAck("getHandshake")) as { auth: { attempt: number } };
    expect(second.auth.attempt).toBe(2);
    const other = client(s.url, { query: { b: "2" } });
    await next(other, "connect");
    expect(((await other.emitWithAck("getHandshake")) as { query: { b: string } }).query.b).toBe("2");
  });

  it("does not retry a middleware refusal without data, in a loop or at all", async () => {
    const s = await server({ middleware: (_socket, next) => next(new Error("auth failed")) });
    const socket = client(`${s.url}/custom`);
    const [error] = await next<[Error]>(socket, "connect_error");
    expect(error.message).toBe("auth failed");
    await until("stopped", () => socket.resilience.state === "stopped");
    await new Promise((r) => setTimeout(r, 300));
    expect(s.middlewareCalls).toBe(1);
  });

  it("retries a refusal whose err.data carries a hint, no sooner than the hint", async () => {
    let refusals = 0;
    const s = await server({
      middleware: (_socket, next) => {
        if (refusals++ === 0)
          next(Object.assign(new Error("overloaded"), { data: { retryAfterMs: 300, spreadMs: 0 } }));
        else next();
      },
    });
    const socket = client(s.url);
    const refusedAt = Date.now();
    await next(socket, "connect");
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(280);
    expect(socket.resilience.stats().lastHint?.source).toBe("connect-error");
  });

  it("treats err.data without a usable delay as a bad hint and backs off, never stopping for good", async () => {
    let refusals = 0;
    const s = await server({
      middleware: (_socket, next) => {
        if (refusals++ === 0) next(Object.assign(new Error("overloaded"), { data: { retryAfterMs: -5 } }));
        else next();
      },
    });
    const socket = client(s.url);
    const codes: string[] = [];
    socket.resilience.on("error", (e) => codes.push(e.code));
    await next(socket, "connect");
    expect(codes).toContain("BAD_HINT");
  });

  it("disconnects and connects again by hand, as socket.io-client does", async () => {
    const s = await server();
    const socket = client(s.url);
    await next(socket, "connect");
    const [reason] = await Promise.all([
      next<[string]>(socket, "disconnect").then((a) => a[0]),
      socket.disconnect(),
    ]);
    expect(reason).toBe("io client disconnect");
    expect(socket.resilience.state).toBe("stopped");
    socket.connect();
    await next(socket, "connect");
    expect(socket.resilience.state).toBe("open");
  });

  it("throws on a reserved event name", () => {
    const socket = client("http://127.0.0.1:9", { autoConnect: false });
    expect(() => (socket.emit as (e: string) => void)("disconnecting")).toThrow(/reserved/);
  });

  it("emits in order, and calls each ack with the server's answer", async () => {
    const s = await server();
    const socket = client(s.url);
    const got: string[] = [];
    socket.emit("echo", "first", (v: string) => got.push(v));
    socket.emit("echo", "second", (v: string) => got.push(v));
    await until("two acks", () => got.length === 2);
    expect(got).toEqual(["first", "second"]);
  });

  it("discards a volatile emit while disconnected, and sends one when connected", async () => {
    const s = await server();
    const socket = client(s.url, { autoConnect: false });
    socket.volatile.emit("echo", "lost");
    socket.connect();
    await next(socket, "connect");
    socket.volatile.emit("echo", "kept");
    await until("the volatile emit", () => s.received.length === 1);
    expect(s.received).toEqual([["echo", "kept"]]);
  });

  it("calls onAny, prependAny listeners in order and stops after offAny", async () => {
    const s = await server({
      onConnection: (sock: {
        emit: (e: string, ...a: unknown[]) => void;
        on: (e: string, l: () => void) => void;
      }) => sock.on("ping-me", () => sock.emit("pong", 1)),
    });
    const socket = client(s.url);
    const order: string[] = [];
    const any = (event: string) => order.push(`any:${event}`);
    socket.onAny(any);
    socket.prependAny((event: string) => order.push(`first:${event}`));
    await next(socket, "connect");
    socket.emit("ping-me");
    await until("pong", () => order.length === 2);
    expect(order).toEqual(["first:pong", "any:pong"]);
    socket.offAny();
    socket.emit("ping-me");
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toHaveLength(2);
  });

  it("calls onAnyOutgoing with binary payloads, also for emits flushed from the buffer", async () => {
    const s = await server();
    const socket = client(s.url, { autoConnect: false });
    const out: unknown[][] = [];
    socket.onAnyOutgoing((...args) => out.push(args));
    socket.emit("echo", Uint8Array.of(1, 2, 3), () => {});
    expect(out).toEqual([]);
    socket.connect();
    await until("the flushed emit", () => out.length === 1);
    expect(out[0]?.[0]).toBe("echo");
    const bytes = (await socket.emitWithAck("echo", Uint8Array.of(4, 5))) as ArrayBuffer | Uint8Array;
    expect([...new Uint8Array(bytes)]).toEqual([4, 5]);
  });

  it("times out an ack when not connected, and when the server does not acknowledge", async () => {
    const s = await server();
    const socket = client(s.url, { autoConnect: false });
    const errors: Error[] = [];
    socket.timeout(50).emit("echo", "x", (err: Error) => errors.push(err));
    await until("the offline timeout", () => errors.length === 1);
    expect(errors[0]?.message).toMatch(/timed out/);
    socket.connect();
    await next(socket, "connect");
    await expect(socket.timeout(50).emitWithAck("unknown-event")).rejects.toThrow(/timed out/);
    await expect(socket.timeout(2_000).emitWithAck("echo", 42)).resolves.toBe(42);
  });

  it("uses the ackTimeout option as the default ack timeout", async () => {
    const s = await server();
    const socket = client(s.url, { ackTimeout: 50 });
    await next(socket, "connect");
    const err = await new Promise<Error>((resolve) => socket.emit("unknown-event", (e: Error) => resolve(e)));
    expect(err.message).toMatch(/timed out/);
  });

  it("calls error-first acks with an error when the connection drops, not plain ones", async () => {
    const s = await server({
      onConnection: (sock: { on: (e: string, l: () => void) => void }) => sock.on("never", () => {}),
    });
    const socket = client(s.url);
    await next(socket, "connect");
    const plain: unknown[] = [];
    socket.emit("never", () => plain.push("called"));
    const withTimeout = new Promise<Error>((resolve) =>
      socket.timeout(10_000).emit("never", (e: Error) => resolve(e)),
    );
    const promised = socket.emitWithAck("never");
    await new Promise((r) => setTimeout(r, 50));
    socket.io.engine.close();
    await expect(withTimeout).resolves.toBeInstanceOf(Error);
    await expect(promised).rejects.toThrow(/disconnected/);
    expect(plain).toEqual([]);
  });

  it("keeps ids per namespace over one Manager, which opens one engine connection", async () => {
    const s = await server();
    const main = io(s.url);
    const custom = io(`${s.url}/custom`);
    sockets.push(main, custom);
    expect(custom.io).toBe(main.io);
    await Promise.all([next(main, "connect"), next(custom, "connect")]);
    expect(main.id).not.toBe(custom.id);
    expect(await custom.emitWithAck("getId")).toBe(custom.id);
    expect(s.engineConnections).toBe(1);
  });
});
