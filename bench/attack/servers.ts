/**
 * Servers and clients for `bench:attack` and the presence attack tests: a PresenceHub behind a real `ws` server (with
 * `maxPayload`) or a real Socket.IO server on 127.0.0.1 port 0, and raw attacker clients that speak the
 * presence protocol by hand: they can stop reading, flood, and name any member. Server-side sockets are
 * kept so tests can read what the server holds for each (its unsent bytes).
 */
import { createServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Server as IoServer, type Socket as IoSocket } from "socket.io";
import { type Socket as IoClientSocket, io as ioClient } from "socket.io-client";
import { WebSocket, WebSocketServer } from "ws";
import { encodePresence, isPresenceMessage } from "../../src/internals.js";
import type { StateRecord } from "../../src/presence/index.js";
import {
  attachPresenceToSocketIo,
  attachPresenceToWs,
  PresenceHub,
  type PresenceHubOptions,
} from "../../src/server/presence/index.js";

export type Kind = "ws" | "socket.io";

/** One server-side socket, as the server holds it. */
export interface ServerSide {
  /** Bytes the server holds unsent for this socket (ws `bufferedAmount`; engine write buffer + ws). */
  buffered(): number;
  closed(): boolean;
}

export interface AttackServer {
  readonly kind: Kind;
  readonly hub: PresenceHub;
  readonly url: string;
  readonly sockets: ServerSide[];
  stop(): Promise<void>;
}

/** The hub's default message limit: ws must refuse a bigger frame before buffering it (issue 10). */
export const MAX_PAYLOAD = 64 * 1_024;

export async function startAttackServer(kind: Kind, options: PresenceHubOptions = {}): Promise<AttackServer> {
  const hub = new PresenceHub(options);
  const http: HttpServer = createServer();
  const sockets: ServerSide[] = [];
  let close: () => Promise<void>;
  if (kind === "ws") {
    const wss = new WebSocketServer({ server: http, maxPayload: MAX_PAYLOAD });
    wss.on("connection", (ws) => {
      ws.on("error", () => {});
      sockets.push({ buffered: () => ws.bufferedAmount, closed: () => ws.readyState === WebSocket.CLOSED });
    });
    attachPresenceToWs(hub, wss);
    close = async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    };
  } else {
    const io = new IoServer(http, { transports: ["websocket"], maxHttpBufferSize: MAX_PAYLOAD });
    io.on("connection", (socket: IoSocket) => {
      let gone = false;
      socket.on("disconnect", () => {
        gone = true;
      });
      sockets.push({ buffered: () => engineBytes(socket), closed: () => gone });
    });
    attachPresenceToSocketIo(hub, io);
    close = async () => {
      const closing = io.close();
      http.closeAllConnections();
      await closing;
    };
  }
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const url = kind === "ws" ? `ws://127.0.0.1:${port}/` : `http://127.0.0.1:${port}`;
  return {
    kind,
    hub,
    url,
    sockets,
    async stop() {
      hub.close();
      await close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

/** What the engine holds unsent for a Socket.IO socket (read the way the adapter reads it). */
function engineBytes(socket: IoSocket): number {
  const engine = socket.conn as unknown as {
    writeBuffer?: { data?: unknown }[];
    transport?: { socket?: { bufferedAmount?: number } };
  };
  let bytes = engine.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of engine.writeBuffer ?? [])
    if (typeof packet.data === "string") bytes += packet.data.length;
  return bytes;
}

/** The user name a request carries: `?user=` on the ws upgrade URL, `auth.user` in a Socket.IO handshake. */
export function userOf(request: unknown): string | undefined {
  const auth = (request as { auth?: { user?: unknown } } | undefined)?.auth;
  if (auth !== undefined) return typeof auth.user === "string" ? auth.user : undefined;
  const url = (request as IncomingMessage | undefined)?.url;
  if (typeof url === "string") return new URL(url, "http://x").searchParams.get("user") ?? undefined;
  return undefined;
}

/** A client speaking presence by hand over a raw `ws` or socket.io-client socket. */
export class RawPresenceClient {
  readonly received: string[] = [];
  /** Keep received messages in `received` (a long-running bench client turns this off). */
  keep = true;
  closeCode: number | undefined;
  private closedWaiters: Array<() => void> = [];
  private listeners: Array<(text: string) => void> = [];

  private constructor(
    private readonly ws: WebSocket | undefined,
    private readonly io: IoClientSocket | undefined,
  ) {}

  /** Connects as `user` (carried the way {@link userOf} reads it); resolves once open. */
  static async connect(server: { kind: Kind; url: string }, user?: string): Promise<RawPresenceClient> {
    if (server.kind === "ws") {
      const ws = new WebSocket(user === undefined ? server.url : `${server.url}?user=${user}`);
      const client = new RawPresenceClient(ws, undefined);
      ws.on("message", (data) => client.take(String(data)));
      ws.on("error", () => {});
      ws.on("close", (code) => client.ended(code));
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
      return client;
    }
    const socket = ioClient(server.url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      auth: user === undefined ? {} : { user },
    });
    const client = new RawPresenceClient(undefined, socket);
    socket.on("message", (data: unknown) => {
      if (typeof data === "string") client.take(data);
    });
    socket.on("disconnect", () => client.ended(undefined));
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
    });
    return client;
  }

  /** Calls `listener` with every presence message from now on. */
  onMessage(listener: (message: Record<string, unknown>) => void): void {
    this.listeners.push((text) => listener(JSON.parse(text) as Record<string, unknown>));
  }

  send(text: string): void {
    if (this.ws !== undefined) {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    } else if (this.io?.connected === true) this.io.emit("message", text);
  }

  /**
   * Writes ready-made frames ({@link maskedFrames}) straight to the TCP socket, as a flooder that does not
   * pay for framing would. Returns false (writing nothing) while more than 1 MiB is still unsent, so what
   * it counts as sent has left its process.
   */
  writeFrames(frames: Buffer): boolean {
    const tcp = (
      this.ws as unknown as { _socket?: { write(b: Buffer): boolean; writableLength: number } } | undefined
    )?._socket;
    if (tcp === undefined || this.isClosed() || tcp.writableLength > 1_048_576) return false;
    tcp.write(frames);
    return true;
  }

  /** Packets the Socket.IO engine holds unsent on this side (0 for `ws`). */
  backlog(): number {
    const buffer = (this.io?.io.engine as unknown as { writeBuffer?: unknown[] } | undefined)?.writeBuffer;
    return Array.isArray(buffer) ? buffer.length : 0;
  }

  /** Sends many messages in as few TCP writes as possible (a flood is cheap for the one who sends it). */
  sendMany(texts: readonly string[]): void {
    const tcp = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } } | undefined)?._socket;
    tcp?.cork();
    for (const text of texts) this.send(text);
    tcp?.uncork();
  }

  sync(space: string, member: string, state: StateRecord = {}, at = { epoch: null, rev: null } as Revision) {
    this.send(encodePresence({ type: "sync", v: 1, space, member, epoch: at.epoch, rev: at.rev, state }));
  }

  update(space: string, state: StateRecord): void {
    this.send(encodePresence({ type: "update", space, state }));
  }

  /** Stops reading from the socket (the kernel buffers fill, then the server's). */
  pause(): void {
    if (this.ws !== undefined) this.ws.pause();
    else if (this.io !== undefined)
      (this.io.io.engine.transport as unknown as { ws?: WebSocket }).ws?.pause();
  }

  /** Resolves with the next presence message for which `match` holds (already received ones count). */
  next(
    match: (message: Record<string, unknown>) => boolean,
    timeoutMs = 5_000,
  ): Promise<Record<string, unknown>> {
    for (const text of this.received) {
      const message = JSON.parse(text) as Record<string, unknown>;
      if (match(message)) return Promise.resolve(message);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a presence message`));
      }, timeoutMs);
      const listener = (text: string) => {
        const message = JSON.parse(text) as Record<string, unknown>;
        if (!match(message)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve(message);
      };
      this.listeners.push(listener);
    });
  }

  /** Resolves once the connection is closed (rejects after `timeoutMs`). */
  closed(timeoutMs = 5_000): Promise<number | undefined> {
    if (this.isClosed()) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`connection not closed after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.closedWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.closeCode);
      });
    });
  }

  isClosed(): boolean {
    return this.ws !== undefined ? this.ws.readyState === WebSocket.CLOSED : this.io?.connected !== true;
  }

  close(): void {
    this.ws?.terminate();
    this.io?.disconnect();
  }

  private take(text: string): void {
    if (!isPresenceMessage(text)) return;
    if (this.keep) this.received.push(text);
    for (const listener of [...this.listeners]) listener(text);
  }

  private ended(code: number | undefined): void {
    this.closeCode = code;
    for (const waiter of this.closedWaiters.splice(0)) waiter();
  }
}

export interface Revision {
  readonly epoch: string | null;
  readonly rev: number | null;
}

/** A state of about `bytes` bytes (a room, an emoji, a layout and a padded custom `note` slice). */
export function stateOf(i: number, noteBytes = 80): StateRecord {
  return { room: `room-${i % 10}`, emoji: "☕", layout: { x: i, y: -i }, note: "n".repeat(noteBytes) };
}

/** Resolves once `probe` holds, polling; rejects naming `what` after `timeoutMs`. */
export async function until(what: string, probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Client text frames for `texts`, concatenated, with an all-zero mask key (valid per RFC 6455 §5.3, and the
 * payload then goes as it is): a flood built once and written many times.
 */
export function maskedFrames(texts: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const text of texts) {
    const payload = Buffer.from(text, "utf8");
    if (payload.length >= 126) throw new RangeError("maskedFrames: keep each message under 126 bytes");
    parts.push(Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload);
  }
  return Buffer.concat(parts);
}
