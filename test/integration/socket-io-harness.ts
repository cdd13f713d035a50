/**
 * Harness for the Socket.IO integration tests: a real Socket.IO server on 127.0.0.1 (port 0, then the same
 * port again on restart), a recorder of everything a client emits, and one `waitFor` that resolves when a
 * condition over those records holds — or fails loudly, naming what it waited for.
 *
 * The server stamps every middleware call (= every connection attempt) with `Date.now()`, the clock the
 * client's default `systemClock` reads, so tests bound waits from below exactly against the server's view
 * and against the client's own `reopensAt`.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type ServerOptions, type Socket as ServerSocket } from "socket.io";
import type {
  CircuitEvent,
  CloseEvent,
  DropEvent,
  OpenEvent,
  ResilientReconnectError,
  ResilientSocket,
  RetryEvent,
  SocketState,
} from "../../src/index.js";

/** Default bound of every wait: generous, because the machine is small and shared. */
export const WAIT_MS = 3_000;

/** Re-checks of pending waits; run whenever the server or a recorded client reports something. */
const waiters = new Set<() => void>();

function changed(): void {
  for (const check of [...waiters]) check();
}

/**
 * Resolves with the first truthy result of `find`, re-evaluated after every recorded server or client
 * event; rejects after `timeoutMs` with an error naming `what`.
 */
export function waitFor<T>(
  what: string,
  find: () => T | undefined | null | false,
  timeoutMs = WAIT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      let found: T | undefined | null | false;
      try {
        found = find();
      } catch (error) {
        stop();
        reject(error);
        return;
      }
      if (found === undefined || found === null || found === false) return;
      stop();
      resolve(found);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const stop = () => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
}

/**
 * Lets `ms` pass. Only for windows in which something must NOT happen (a retry that would be a bug);
 * never used to wait for something to happen.
 */
export function elapse(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Everything a client emitted, in order. */
export interface Recording {
  readonly states: SocketState[];
  readonly opens: OpenEvent[];
  readonly closes: CloseEvent[];
  readonly retries: RetryEvent[];
  readonly circuits: CircuitEvent[];
  readonly errors: ResilientReconnectError[];
  readonly messages: unknown[];
  readonly drops: DropEvent[];
}

/** Records every event of `socket`. Call it right after construction (the first attempt is a microtask away). */
export function record(socket: ResilientSocket): Recording {
  const r: Recording = {
    states: [],
    opens: [],
    closes: [],
    retries: [],
    circuits: [],
    errors: [],
    messages: [],
    drops: [],
  };
  const push =
    <T>(list: T[]) =>
    (item: T) => {
      list.push(item);
      changed();
    };
  socket.on("state", push(r.states));
  socket.on("open", push(r.opens));
  socket.on("close", push(r.closes));
  socket.on("retry", push(r.retries));
  socket.on("circuit", push(r.circuits));
  socket.on("error", push(r.errors));
  socket.on("message", push(r.messages));
  socket.on("drop", push(r.drops));
  return r;
}

/** The `next` a Socket.IO middleware receives. */
export type Next = (err?: Error & { data?: unknown }) => void;

/** What the server's middleware gets besides the socket and `next`. */
export interface AttemptContext {
  /** 1 for the first middleware call this server (across restarts) has seen. */
  readonly call: number;
  /** Calls `admit` after `ms` (a slow admission); `dispose()` cancels it. */
  later(admit: () => void, ms: number): void;
}

export type Middleware = (socket: ServerSocket, next: Next, context: AttemptContext) => void;

/** Refuses a connection attempt: `connect_error` on the client, with `err.data` when given (a hint). */
export function refuse(next: Next, message: string, data?: unknown): void {
  const error: Error & { data?: unknown } = new Error(message);
  if (data !== undefined) error.data = data;
  next(error);
}

const admitAll: Middleware = (_socket, next) => next();

/** How a {@link TestServer} runs besides its middleware. */
export interface TestServerOptions {
  /** Socket.IO server options (e.g. `pingInterval`, `maxHttpBufferSize`); `transports` stays websocket-only. */
  readonly server?: Partial<ServerOptions>;
  /** Handles each connected socket in place of the echo of `message` events (records are still kept). */
  readonly onConnection?: (socket: ServerSocket) => void;
}

function clientId(socket: ServerSocket): string {
  const auth = socket.handshake.auth as { id?: unknown };
  return typeof auth.id === "string" ? auth.id : "anonymous";
}

/**
 * A Socket.IO server that echoes `message` events as `{ echo: data }` and records attempts, messages,
 * late admissions and, per client id (`auth: { id }`), connections and how many were open at once.
 * Records survive restarts.
 */
export class TestServer {
  /** `Date.now()` of every middleware call, i.e. of every connection attempt that reached the server. */
  readonly attempts: number[] = [];
  /** Payloads of every `message` event received. */
  readonly received: unknown[] = [];
  /** Slow admissions (see {@link AttemptContext.later}) that have called `next` and been processed. */
  lateAdmissions = 0;
  private readonly live = new Map<string, number>();
  private readonly peak = new Map<string, number>();
  private readonly opened = new Map<string, number>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private io: Server | undefined;
  private http: HttpServer | undefined;
  private boundPort = 0;

  private constructor(
    private readonly middleware: Middleware,
    private readonly options: TestServerOptions,
  ) {}

  /** Starts a server on 127.0.0.1 on a free port. */
  static async start(
    middleware: Middleware = admitAll,
    options: TestServerOptions = {},
  ): Promise<TestServer> {
    const server = new TestServer(middleware, options);
    await server.listen();
    return server;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** Listens again: on a free port the first time, on the port it was given after that. */
  async listen(): Promise<void> {
    if (this.io !== undefined) throw new Error("TestServer is already listening");
    const http = createServer();
    const io = new Server(http, { ...this.options.server, transports: ["websocket"] });
    io.use((socket, next) => {
      this.attempts.push(Date.now());
      const context: AttemptContext = {
        call: this.attempts.length,
        later: (admit, ms) => this.later(admit, ms),
      };
      this.middleware(socket, next, context);
      changed();
    });
    io.on("connection", (socket) => {
      const id = clientId(socket);
      const live = (this.live.get(id) ?? 0) + 1;
      this.live.set(id, live);
      this.peak.set(id, Math.max(this.peak.get(id) ?? 0, live));
      this.opened.set(id, (this.opened.get(id) ?? 0) + 1);
      if (this.options.onConnection !== undefined) this.options.onConnection(socket);
      else {
        socket.on("message", (data: unknown) => {
          this.received.push(data);
          socket.emit("message", { echo: data });
          changed();
        });
      }
      socket.on("disconnect", () => {
        this.live.set(id, (this.live.get(id) ?? 0) - 1);
        changed();
      });
      changed();
    });
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

  /** Stops like a crashing or restarting process: no disconnect packet, the connections just close. */
  async close(): Promise<void> {
    const { io, http } = this;
    this.io = undefined;
    this.http = undefined;
    if (io === undefined || http === undefined) return;
    const closing = io.close();
    http.closeAllConnections();
    await closing;
  }

  /** Closes, then listens again on the same port. */
  async restart(): Promise<void> {
    await this.close();
    await this.listen();
  }

  /** Final teardown: cancels slow admissions, disconnects every socket, closes Socket.IO and HTTP. */
  async dispose(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.io?.disconnectSockets(true);
    await this.close();
  }

  /** Server-side sockets connected right now. */
  sockets(): ServerSocket[] {
    return this.io === undefined ? [] : [...this.io.of("/").sockets.values()];
  }

  /** Connections of client `id` open right now. */
  liveConnections(id: string): number {
    return this.live.get(id) ?? 0;
  }

  /** Most connections of client `id` ever open at the same time. */
  peakConnections(id: string): number {
    return this.peak.get(id) ?? 0;
  }

  /** Connections client `id` ever completed (middleware passed, `connection` fired). */
  connections(id: string): number {
    return this.opened.get(id) ?? 0;
  }

  private later(admit: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      admit();
      // Socket.IO acts on next() in a process.nextTick; setImmediate runs after it.
      setImmediate(() => {
        this.lateAdmissions++;
        changed();
      });
    }, ms);
    this.timers.add(timer);
  }
}
