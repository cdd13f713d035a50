/**
 * Harness for the presence integration tests: a PresenceHub behind a real `ws` server or a real Socket.IO
 * server on 127.0.0.1 (port 0, then the same port again on restart), counting every presence message up
 * and down per server-side connection; clients are real ResilientSockets with a Presence attached. Every
 * wait resolves on an event or fails loudly, naming what it waited for.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server as IoServer } from "socket.io";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { isPresenceMessage } from "../../src/internals.js";
import { type AnySlice, Presence, type PresenceEvents } from "../../src/presence/index.js";
import {
  attachPresenceToSocketIo,
  attachPresenceToWs,
  PresenceHub,
  type PresenceHubOptions,
} from "../../src/server/presence/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

export type Kind = "ws" | "socket.io";

/** Presence messages one server-side connection carried. */
export interface Counted {
  readonly up: string[];
  readonly down: string[];
  /** Closes this connection from the server side, as a crash of the link would (the client reconnects). */
  drop(): void;
}

const WAIT_MS = 5_000;

/** A hub on a real server. Survives restarts (each restart makes a fresh hub: the roster is lost). */
export class HubServer {
  readonly connections: Counted[] = [];
  hub!: PresenceHub;
  private http: HttpServer | undefined;
  private close: (() => Promise<void>) | undefined;
  private port = 0;

  constructor(
    readonly kind: Kind,
    private readonly options: PresenceHubOptions,
  ) {}

  get url(): string {
    return this.kind === "ws" ? `ws://127.0.0.1:${this.port}/` : `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    this.hub = new PresenceHub({ batchMs: 10, ...this.options });
    const http = createServer();
    this.close = this.kind === "ws" ? this.withWs(http) : this.withSocketIo(http);
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
  }

  /** Goes down like a crashed process (every connection cut, the roster gone), then listens again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  async stop(): Promise<void> {
    this.hub?.close();
    const http = this.http;
    this.http = undefined;
    await this.close?.();
    if (http === undefined) return;
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  }

  private withWs(http: HttpServer): () => Promise<void> {
    const wss = new WebSocketServer({ server: http });
    // Registered before the hub's adapter, so the counting wrapper is in place before the hub sends.
    wss.on("connection", (ws: WebSocket) => {
      const counted: Counted = { up: [], down: [], drop: () => ws.terminate() };
      ws.on("error", () => {});
      ws.on("message", (data: RawData) => {
        const text = String(data);
        if (isPresenceMessage(text)) counted.up.push(text);
      });
      const send = ws.send.bind(ws);
      ws.send = ((text: string) => {
        counted.down.push(text);
        send(text);
      }) as typeof ws.send;
      this.connections.push(counted);
    });
    attachPresenceToWs(this.hub, wss);
    return async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    };
  }

  private withSocketIo(http: HttpServer): () => Promise<void> {
    const io = new IoServer(http, { transports: ["websocket"] });
    io.on("connection", (socket) => {
      const counted: Counted = { up: [], down: [], drop: () => socket.conn.close() };
      socket.on("message", (data: unknown) => {
        if (isPresenceMessage(data)) counted.up.push(data);
      });
      const emit = socket.emit.bind(socket);
      socket.emit = ((event: string, text: string) => {
        if (event === "message") counted.down.push(text);
        return emit(event, text);
      }) as typeof socket.emit;
      this.connections.push(counted);
    });
    attachPresenceToSocketIo(this.hub, io);
    return async () => {
      const closing = io.close();
      http.closeAllConnections();
      await closing;
    };
  }
}

/** A ResilientSocket over `kind` with small delays, and a Presence in space "office". */
export function presenceClient(
  server: HubServer,
  member: string,
  slices: readonly AnySlice[] = [],
): { socket: ResilientSocket; presence: Presence<readonly AnySlice[]> } {
  const transport =
    server.kind === "ws"
      ? webSocketTransport({ url: () => server.url, WebSocket: WebSocket as unknown as WebSocketConstructor })
      : socketIoTransport({ url: () => server.url, options: { transports: ["websocket"] } });
  const socket = new ResilientSocket({
    transport,
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
    circuitBreaker: false,
    connectTimeoutMs: 2_000,
    stableAfterMs: 50,
  });
  // Refused attempts (a node killed, Redis down) are these tests' point: heard here, not warned about.
  socket.on("error", () => {});
  const presence = new Presence(socket, { space: "office", member, slices });
  return { socket, presence };
}

/** Resolves on the next `event` of `presence`; rejects after `timeoutMs`, naming it. */
export function next<E extends keyof PresenceEvents<unknown>>(
  presence: Presence<readonly AnySlice[]>,
  event: E,
  timeoutMs = WAIT_MS,
): Promise<Parameters<PresenceEvents<unknown>[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      presence.off(event, listener);
      reject(
        new Error(`timed out after ${timeoutMs} ms waiting for presence "${event}" of ${presence.member}`),
      );
    }, timeoutMs);
    const listener = ((value: Parameters<PresenceEvents<unknown>[E]>[0]) => {
      clearTimeout(timer);
      resolve(value);
    }) as never;
    presence.once(event, listener);
  });
}

/** Resolves once `probe` holds, polling; rejects naming `what` after `timeoutMs`. */
export async function until(what: string, probe: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Lets `ms` pass so that a message that must NOT come (a second answer, a broadcast) has the chance to. An
 * observation window, never a timing assertion.
 */
export function quietFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
