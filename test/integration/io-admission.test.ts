/**
 * The governed `io()` (one Manager shared by the namespaces of a server, attempts abandoned at
 * `connectTimeoutMs`) against `socketIoAdmission` (one decision per engine.io connection, a second CONNECT
 * for a namespace the connection holds refused with DuplicateConnectError), on a real Socket.IO 4.8 server.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import { decorrelatedJitter } from "../../src/index.js";
import { socketIoAdmission } from "../../src/server/index.js";
import { io, type ResilientIoSocket } from "../../src/socket-io.js";
import { next, until } from "./io-harness.js";

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function start(): Promise<{ url: string; server: Server; slowFirst: { ms: number } }> {
  const http = createServer();
  const server = new Server(http);
  const admission = socketIoAdmission({ ratePerSecond: 100 });
  const slowFirst = { ms: 0 };
  for (const nsp of [server.of("/"), server.of("/custom")]) nsp.use(admission);
  // An auth middleware that is slow once on /custom: the client's attempt times out while it runs.
  server.of("/custom").use((_socket, nextFn) => {
    const ms = slowFirst.ms;
    slowFirst.ms = 0;
    if (ms > 0) setTimeout(() => nextFn(), ms);
    else nextFn();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    const closing = server.close();
    http.closeAllConnections();
    await closing;
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, server, slowFirst };
}

function client(url: string): ResilientIoSocket {
  const socket = io(url, {
    transports: ["websocket"],
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 100 }),
    circuitBreaker: false,
    connectTimeoutMs: 200,
  });
  closers.push(() => socket.resilience.close());
  return socket;
}

describe("the governed io() behind socketIoAdmission", () => {
  it("connects a namespace whose first CONNECT it abandoned on a Manager another namespace keeps open", async () => {
    const { url, slowFirst } = await start();
    const main = client(url);
    await next(main, "connect");
    slowFirst.ms = 500;
    const custom = client(`${url}/custom`);
    expect(custom.io).toBe(main.io);
    const codes: string[] = [];
    custom.resilience.on("error", (e) => codes.push(`${e.code}: ${e.message}`));
    await until("the namespace connected", () => custom.connected, 4_000).catch(() => undefined);
    expect(codes.filter((c) => !c.startsWith("CONNECT_TIMEOUT"))).toEqual([]);
    expect(custom.connected).toBe(true);
    expect(custom.resilience.state).toBe("open");
    // The closed connection took "/" along; it came back by its own policy.
    await until("the main namespace back", () => main.connected, 4_000);
  });
});
