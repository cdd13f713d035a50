/**
 * Integration harness: a real `ws` server on 127.0.0.1 behind a plain `http` server, so a test decides per
 * upgrade request whether to accept it, refuse it with an HTTP status, or hold it; a client factory with
 * small delays; an event log; and waits that fail loudly instead of sleeps.
 *
 * Timestamps: `at` is `performance.now()` (for gaps), `wallAt` is `Date.now()` (the client's default
 * clock, so it compares with `reopensAt` and `nextAttemptAt`).
 */
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import {
  type Clock,
  decorrelatedJitter,
  ResilientSocket,
  type ResilientSocketEvents,
  type ResilientSocketOptions,
  type TimerHandle,
} from "../../src/index.js";
import { systemClock } from "../../src/internals.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

/**
 * Node timers count whole milliseconds of the event loop's clock (the start time is truncated), so a timer
 * of `d` ms may fire up to 1 ms short of `d` measured with `performance.now()`. Lower bounds measured
 * across a timer allow exactly this much and no more.
 */
export const TIMER_SLACK_MS = 1;

/** Default limit of every wait; generous so a noisy 2-core machine does not fail a correct test. */
const WAIT_MS = 3_000;

const cleanups: Array<() => Promise<void> | void> = [];

/** Closes every client and server the harness created (call it in `afterEach`). Clients first. */
export async function closeAll(): Promise<void> {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
}

/** Resolves with the first truthy value of `probe`, polling; rejects naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Lets `ms` pass so that something that must NOT happen (an attempt, a reconnect) has the chance to. An
 * observation window, never a timing assertion.
 */
export function quietFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type Events = ResilientSocketEvents;
type EventName = keyof Events;
type Args<K extends EventName> = Parameters<Events[K]>;

/** Resolves with the arguments of the next `event` emitted from now on; rejects loudly after `timeoutMs`. */
export function once<K extends EventName>(
  socket: ResilientSocket,
  event: K,
  timeoutMs = WAIT_MS,
): Promise<Args<K>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(
        new Error(`timed out after ${timeoutMs} ms waiting for a "${event}" event (state ${socket.state})`),
      );
    }, timeoutMs);
    const listener = ((...args: Args<K>) => {
      clearTimeout(timer);
      resolve(args);
    }) as Events[K];
    socket.once(event, listener);
  });
}

/** One recorded event of a {@link ResilientSocket}. */
export interface Logged<K extends EventName> {
  readonly event: K;
  /** The first argument (the new state, for `state`). */
  readonly value: Args<K>[0];
  readonly at: number;
  readonly wallAt: number;
}

const EVENT_NAMES: readonly EventName[] = [
  "state",
  "open",
  "message",
  "close",
  "retry",
  "circuit",
  "drop",
  "error",
];

/** Records every event of a socket from construction on, so no test races an event it awaits. */
export class EventLog {
  readonly entries: Logged<EventName>[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(socket: ResilientSocket) {
    for (const event of EVENT_NAMES) {
      const listener = (value: unknown) => {
        this.entries.push({ event, value, at: performance.now(), wallAt: Date.now() } as Logged<EventName>);
        for (const waiter of this.waiters) waiter();
      };
      socket.on(event, listener as Events[typeof event]);
    }
  }

  /** Every recorded `event`, in order. */
  all<K extends EventName>(event: K): Logged<K>[] {
    return this.entries.filter((entry): entry is Logged<K> => entry.event === event);
  }

  /** The first arguments of every recorded `event`, in order. */
  values<K extends EventName>(event: K): Args<K>[0][] {
    return this.all(event).map((entry) => entry.value);
  }

  /** The `n`th (1-based) `event`, waiting for it; resolves in the microtask after its emission. */
  nth<K extends EventName>(event: K, n = 1, timeoutMs = WAIT_MS): Promise<Logged<K>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.all(event)[n - 1];
        if (found === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const seen = this.entries.map((entry) =>
          entry.event === "state" ? `state:${entry.value}` : entry.event,
        );
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for "${event}" #${n}; saw: ${seen.join(", ")}`),
        );
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

/** The system clock, counting the timers set through it that have neither fired nor been cleared. */
export class CountingClock implements Clock {
  private readonly live = new Set<TimerHandle>();

  /** Timers the client holds right now. */
  get pending(): number {
    return this.live.size;
  }

  now(): number {
    return systemClock.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const handle = systemClock.setTimeout(() => {
      this.live.delete(handle);
      callback();
    }, delayMs);
    this.live.add(handle);
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.live.delete(handle);
    systemClock.clearTimeout(handle);
  }
}

/** An HTTP upgrade request as the server saw it. */
export interface UpgradeRequest {
  readonly index: number;
  readonly at: number;
  readonly wallAt: number;
  /** When the client closed its side of the TCP connection, or the connection closed (performance.now()). */
  closedAt: number | undefined;
  /** Handed to `ws` (which then owns the socket). */
  accepted: boolean;
  readonly request: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
}

/** A WebSocket connection the server accepted. */
export interface Accepted {
  readonly index: number;
  readonly ws: WebSocket;
  readonly at: number;
  /** Text messages received from the client, in order. */
  readonly messages: string[];
  /** How it closed, seen from the server. */
  closed: { readonly code: number; readonly reason: string; readonly at: number } | undefined;
}

/** A real `ws` server on 127.0.0.1 whose upgrade handling each test chooses. */
export class TestServer {
  readonly upgrades: UpgradeRequest[] = [];
  readonly connections: Accepted[] = [];
  /** Decides what to do with each upgrade request. Default: accept it. */
  onUpgrade: (upgrade: UpgradeRequest) => void = (upgrade) => this.accept(upgrade);
  /** Called for each accepted connection, after the harness has attached its own listeners. */
  onConnection: (connection: Accepted) => void = () => {};
  private readonly http: Server = createServer((_request, response) => response.writeHead(426).end());
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;

  constructor() {
    this.http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const upgrade: UpgradeRequest = {
        index: this.upgrades.length,
        at: performance.now(),
        wallAt: Date.now(),
        closedAt: undefined,
        accepted: false,
        request,
        socket,
        head,
      };
      const gone = () => {
        upgrade.closedAt ??= performance.now();
      };
      socket.on("error", () => {});
      socket.once("close", gone);
      // An http server's sockets allow half-open: a client that gives up shows as `end` and the socket only
      // closes once this side ends too, as a real server does.
      socket.once("end", () => {
        gone();
        if (!upgrade.accepted) socket.destroy();
      });
      this.upgrades.push(upgrade);
      this.onUpgrade(upgrade);
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** Listens on port 0 the first time, then again on the port it was given (a restart). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.port, "127.0.0.1", () => {
        this.http.off("error", reject);
        this.port = (this.http.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Goes down like a crashed process: every connection and pending handshake dropped, no longer listening. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const connection of this.connections) connection.ws.terminate();
    for (const upgrade of this.upgrades) upgrade.socket.destroy();
    if (!this.http.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.http.close((error) => (error ? reject(error) : resolve()));
      this.http.closeAllConnections();
    });
  }

  /** Completes the WebSocket handshake (unless the client went away meanwhile). */
  accept(upgrade: UpgradeRequest): void {
    if (upgrade.socket.destroyed) return;
    upgrade.accepted = true;
    this.wss.handleUpgrade(upgrade.request, upgrade.socket, upgrade.head, (ws) => this.adopt(ws));
  }

  /**
   * Leaves the handshake unanswered. The socket keeps reading (Node pauses it after `upgrade`), so a client
   * that gives up is seen closing; a client sends nothing before the 101, so nothing is lost.
   */
  hold(upgrade: UpgradeRequest): void {
    upgrade.socket.resume();
  }

  /** Accepts after `ms` (a slow handshake), noticing meanwhile if the client gives up. */
  acceptAfter(upgrade: UpgradeRequest, ms: number): void {
    this.hold(upgrade);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.accept(upgrade);
    }, ms);
    this.timers.add(timer);
  }

  /** Refuses the handshake with an HTTP status and headers, then closes the TCP connection. */
  refuse(upgrade: UpgradeRequest, status: number, headers: Record<string, string> = {}): void {
    const lines = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      "Connection: close",
      "Content-Length: 0",
    ];
    upgrade.socket.once("finish", () => upgrade.socket.destroy());
    upgrade.socket.end(`${lines.join("\r\n")}\r\n\r\n`);
  }

  private adopt(ws: WebSocket): void {
    const connection: Accepted = {
      index: this.connections.length,
      ws,
      at: performance.now(),
      messages: [],
      closed: undefined,
    };
    ws.on("message", (data: RawData) => connection.messages.push(String(data)));
    ws.on("error", () => {});
    ws.on("close", (code: number, reason: Buffer) => {
      connection.closed = { code, reason: String(reason), at: performance.now() };
    });
    this.connections.push(connection);
    this.onConnection(connection);
  }
}

/** Starts a {@link TestServer} on 127.0.0.1, port 0; {@link closeAll} stops it. */
export async function startServer(): Promise<TestServer> {
  const server = new TestServer();
  await server.listen();
  cleanups.push(() => server.stop());
  return server;
}

/**
 * Small delays so the whole file stays fast on the real clock. The breaker is off unless a test turns it
 * on, so no test depends on its defaults.
 */
export const FAST: Omit<ResilientSocketOptions, "transport"> = {
  backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
  circuitBreaker: false,
  connectTimeoutMs: 300,
  stableAfterMs: 50,
};

export interface Client {
  readonly socket: ResilientSocket;
  readonly log: EventLog;
  readonly clock: CountingClock;
}

/**
 * A {@link ResilientSocket} over the `ws` transport to `server`, with {@link FAST} delays overridden by
 * `options`, its events logged from construction, and its timers counted. {@link closeAll} closes it.
 * `url` points it elsewhere (a proxy in front of `server`).
 */
export function startClient(
  server: TestServer,
  options: Omit<ResilientSocketOptions, "transport"> = {},
  url = server.url,
): Client {
  const clock = new CountingClock();
  const socket = new ResilientSocket({
    transport: webSocketTransport({
      url,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    }),
    ...FAST,
    clock,
    ...options,
  });
  const log = new EventLog(socket);
  cleanups.push(() => socket.close());
  return { socket, log, clock };
}
