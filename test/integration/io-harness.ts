/**
 * A real Socket.IO 4.8 server on 127.0.0.1 (port 0, the same port again on restart) for the tests of the
 * governed `io()`: handlers in the spirit of socket.io-client's own suite (`getId`, `echo`, `getHandshake`),
 * on `/` and `/custom`, an optional middleware, and optional connection-state recovery.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type ServerOptions, type Socket as ServerSocket } from "socket.io";

export type Middleware = (socket: ServerSocket, next: (err?: Error) => void) => void;

export interface IoServerOptions {
  readonly server?: Partial<ServerOptions>;
  readonly middleware?: Middleware;
  /** Runs for every connection on `/` after the standard handlers are set. */
  readonly onConnection?: (socket: ServerSocket) => void;
}

/** Resolves once `check` holds, polling on the event loop; rejects after `timeoutMs` naming `what`. */
export async function until(what: string, check: () => boolean, timeoutMs = 4_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves with the arguments of the next `event` on `emitter`. */
export function next<T extends unknown[] = unknown[]>(
  emitter: { once(event: string, listener: (...args: never[]) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, ((...args: T) => resolve(args)) as never));
}

function handlers(socket: ServerSocket): void {
  socket.on("getId", (ack: (id: string) => void) => ack(socket.id));
  socket.on("echo", (...args: unknown[]) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("getHandshake", (ack: (h: unknown) => void) =>
    ack({ query: socket.handshake.query, auth: socket.handshake.auth }),
  );
}

export class IoServer {
  /** Every event received on `/`, as `[event, ...args]`, in order. */
  readonly received: unknown[][] = [];
  /** Middleware runs (connection attempts that reached a namespace). */
  middlewareCalls = 0;
  /** Engine.io connections accepted. */
  engineConnections = 0;
  io: Server | undefined;
  private http: HttpServer | undefined;
  private boundPort = 0;

  private constructor(private readonly options: IoServerOptions) {}

  static async start(options: IoServerOptions = {}): Promise<IoServer> {
    const server = new IoServer(options);
    await server.listen();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get server(): Server {
    if (this.io === undefined) throw new Error("IoServer is not listening");
    return this.io;
  }

  async listen(): Promise<void> {
    const http = createServer();
    const io = new Server(http, this.options.server);
    io.engine.on("connection", () => this.engineConnections++);
    for (const nsp of [io.of("/"), io.of("/custom")]) {
      nsp.use((socket, next) => {
        this.middlewareCalls++;
        if (this.options.middleware !== undefined) this.options.middleware(socket, next);
        else next();
      });
      nsp.on("connection", (socket) => {
        handlers(socket);
        if (nsp.name === "/") {
          socket.onAny((...args: unknown[]) => this.received.push(args));
          this.options.onConnection?.(socket);
        }
      });
    }
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(this.boundPort, "127.0.0.1", () => {
        http.off("error", reject);
        resolve();
      });
    });
    this.boundPort = (http.address() as AddressInfo).port;
    this.http = http;
    this.io = io;
  }

  /** Stops like a crashing process: the connections just close. */
  async close(): Promise<void> {
    const { io, http } = this;
    this.io = undefined;
    this.http = undefined;
    if (io === undefined || http === undefined) return;
    const closing = io.close();
    http.closeAllConnections();
    await closing;
  }

  async restart(): Promise<void> {
    await this.close();
    await this.listen();
  }

  /** Server-side sockets of `/` connected now. */
  sockets(): ServerSocket[] {
    return this.io === undefined ? [] : [...this.io.of("/").sockets.values()];
  }
}
