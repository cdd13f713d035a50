/**
 * Real servers for the browser tests, started by vitest's `globalSetup` in Node on 127.0.0.1 port 0: a `ws`
 * echo server, a Socket.IO echo server and a `ws` presence hub, plus a small control server the page drives over `fetch`
 * (CORS-open, loopback only) to restart a server, close its clients with a hint, refuse the next Socket.IO
 * handshake with hint data, and read the log of connection attempts the server saw. Times in the log are
 * the server's `Date.now()`, so a test compares server-side moments only.
 */
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Server as SocketIoServer } from "socket.io";
import { WebSocketServer } from "ws";
import { PresenceHub, presenceWsConnection } from "../../src/server/presence/index.js";

export interface ServerLog {
  /** Every upgrade request (ws) or middleware call (Socket.IO): one connection attempt. */
  attempts: number[];
  /** When the server last closed its clients with a hint, or was killed. */
  closedAt: number | null;
  /** Currently open connections. */
  open: number;
  /** Messages received. */
  received: string[];
}

function freshLog(): ServerLog {
  return { attempts: [], closedAt: null, open: 0, received: [] };
}

function listen(server: HttpServer, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A `ws` echo server that can be killed and brought back on the same port. */
function wsServer() {
  const log = freshLog();
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => {
    log.open++;
    ws.on("close", () => log.open--);
    ws.on("message", (data) => {
      log.received.push(String(data));
      ws.send(`echo: ${String(data)}`);
    });
  });
  let http: HttpServer;
  let port = 0;
  const start = async () => {
    http = createServer();
    http.on("upgrade", (request, socket, head) => {
      log.attempts.push(Date.now());
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
    });
    port = await listen(http, port);
  };
  return {
    log,
    start,
    get port() {
      return port;
    },
    /** Kills every connection (no close frame) and stops listening for `downMs`. */
    async restart(downMs: number) {
      log.closedAt = Date.now();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    /** Closes every client with 1013 and the hint as the reason (the README's wire format). */
    hint(retryAfterMs: number, spreadMs: number) {
      log.closedAt = Date.now();
      for (const ws of wss.clients) ws.close(1013, JSON.stringify({ retryAfterMs, spreadMs }));
    },
    async stop() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A Socket.IO echo server that can be killed, restarted, and told to refuse the next handshake. */
function socketIoServer() {
  const log = freshLog();
  let refuseNext: { retryAfterMs: number; spreadMs: number } | undefined;
  let http: HttpServer;
  let io: SocketIoServer;
  let port = 0;
  const connections = new Set<Socket>();
  const start = async () => {
    http = createServer();
    http.on("connection", (socket) => {
      connections.add(socket);
      socket.on("close", () => connections.delete(socket));
    });
    io = new SocketIoServer(http, { cors: { origin: true } });
    io.use((_socket, next) => {
      log.attempts.push(Date.now());
      if (refuseNext === undefined) return next();
      const refusal = new Error("overloaded") as Error & { data?: unknown };
      refusal.data = refuseNext;
      refuseNext = undefined;
      log.closedAt = Date.now();
      next(refusal);
    });
    io.on("connection", (socket) => {
      log.open++;
      socket.on("disconnect", () => log.open--);
      socket.on("message", (data: unknown) => {
        log.received.push(String(data));
        socket.send(`echo: ${String(data)}`);
      });
    });
    port = await listen(http, port);
  };
  const stop = async () => {
    io.disconnectSockets(true);
    await new Promise<void>((resolve) => io.close(() => resolve()));
  };
  return {
    log,
    start,
    get port() {
      return port;
    },
    async restart(downMs: number) {
      log.closedAt = Date.now();
      // Every TCP connection cut, no Socket.IO disconnect packet: to the client, a crash.
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    refuseNextWith(retryAfterMs: number, spreadMs: number) {
      refuseNext = { retryAfterMs, spreadMs };
    },
    stop,
  };
}

/** What the presence server saw: each connection (open or not) with the texts it received, and the roster. */
export interface PresenceLog {
  attempts: number[];
  connections: { open: boolean; up: string[] }[];
  /** Space `office`: member id → state. */
  roster: Record<string, unknown>;
}

/** A `ws` server running the real PresenceHub (grace period 30 s), logging every connection's messages. */
function presenceServer() {
  const hub = new PresenceHub({ batchMs: 20 });
  let attempts: number[] = [];
  let connections: { open: boolean; up: string[] }[] = [];
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => {
    const connection = { open: true, up: [] as string[] };
    connections.push(connection);
    ws.on("message", (data, isBinary) => {
      if (!isBinary) connection.up.push(String(data));
    });
    ws.on("close", () => {
      connection.open = false;
    });
    presenceWsConnection(hub, ws);
  });
  const http = createServer();
  http.on("upgrade", (request, socket, head) => {
    attempts.push(Date.now());
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
  });
  return {
    http,
    get log(): PresenceLog {
      return { attempts, connections, roster: Object.fromEntries(hub.roster("office")) };
    },
    /** Forgets closed connections and attempts (the roster stays: it is the hub's). */
    reset() {
      attempts = [];
      connections = connections.filter((c) => c.open);
    },
    async stop() {
      for (const ws of wss.clients) ws.terminate();
      hub.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export type BrowserServers = Awaited<ReturnType<typeof startBrowserServers>>;

/** Starts the servers and the control server; `close()` stops them all. */
export async function startBrowserServers() {
  const ws = wsServer();
  const sio = socketIoServer();
  await ws.start();
  await sio.start();
  const presence = presenceServer();
  const presencePort = await listen(presence.http);
  const servers = { ws, "socket.io": sio, presence };
  const control = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    response.setHeader("Access-Control-Allow-Origin", "*");
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const [, name, action] = url.pathname.split("/");
    const server = servers[name as keyof typeof servers];
    const number = (key: string) => Number(url.searchParams.get(key) ?? 0);
    try {
      if (server === undefined) throw new Error(`no server ${name}`);
      if (action === "log") {
        response.end(JSON.stringify(server.log));
        return;
      }
      if (action === "reset") {
        if ("reset" in server) server.reset();
        else Object.assign(server.log, freshLog(), { open: server.log.open });
      } else if (action === "restart" && "restart" in server) await server.restart(number("downMs"));
      else if (action === "hint" && server === ws) ws.hint(number("retryAfterMs"), number("spreadMs"));
      else if (action === "refuse-next" && server === sio)
        sio.refuseNextWith(number("retryAfterMs"), number("spreadMs"));
      else throw new Error(`no action ${action} for ${name}`);
      response.end(JSON.stringify({ ok: true }));
    } catch (error) {
      response.statusCode = 400;
      response.end(JSON.stringify({ error: String(error) }));
    }
  });
  const controlPort = await listen(control);
  return {
    ports: { ws: ws.port, socketIo: sio.port, presence: presencePort, control: controlPort },
    async close() {
      await ws.stop();
      await sio.stop();
      await presence.stop();
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    },
  };
}
