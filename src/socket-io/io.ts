/**
 * `io(url, options)`: socket.io-client's `io()`, governed. It returns socket.io-client's own `Socket`
 * (typed events kept) on a Manager whose reconnection is OFF for its whole life; our policy decides the
 * first connection and every reconnection and calls connect at the planned moment. The Socket object is
 * never replaced, so its recovery id and offset (connection-state recovery) and its send buffer carry over.
 */

import type { DefaultEventsMap, EventsMap } from "@socket.io/component-emitter";
import { Manager, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import type { ResilientSocketOptions } from "../client/options.js";
import { resolveQueue } from "../client/options.js";
import { systemClock } from "../env.js";
import { linkOf, proto } from "./attempt.js";
import { SocketResilience } from "./resilience.js";
import { BoundedSendBuffer } from "./send-buffer.js";

/** Our policy options, accepted by `io()` beside socket.io-client's own. */
export type ResilienceOptions = Omit<
  ResilientSocketOptions,
  "transport" | "autoConnect" | "heartbeat" | "delivery"
>;

/** Options of {@link io}: socket.io-client's (Manager and Socket) plus ours. socket.io's `reconnectionDelay`,
 * `reconnectionDelayMax` and `randomizationFactor` are replaced by `backoff`; `reconnectionAttempts` is
 * `maxAttempts` when that is not set; `timeout` is `connectTimeoutMs` when that is not set. */
export type IoOptions = Partial<ManagerOptions & SocketOptions> & ResilienceOptions;

/** A governed socket.io-client Socket: the Socket itself, plus {@link SocketResilience} as `resilience`. */
export type ResilientIoSocket<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
> = Socket<ListenEvents, EmitEvents> & {
  /** Our policy's events (`retry`, `state`, `circuit`, `drop`, ...), `stats()` and a total `close()`. */
  readonly resilience: SocketResilience;
};

const POLICY_KEYS = [
  "backoff",
  "circuitBreaker",
  "maxDelayMs",
  "maxAttempts",
  "hintSpreadRatio",
  "connectTimeoutMs",
  "stableAfterMs",
  "stableOnFirstMessage",
  "reconnectOnServerClose",
  "retryOnRefusal",
  "signals",
  "signal",
  "clock",
  "random",
] as const;

/** Managers shared by the sockets of one server (socket.io's multiplexing), keyed by origin and path. */
const managers = new Map<string, { manager: Manager; sockets: number }>();

interface Parsed {
  readonly source: string;
  readonly key: string;
  readonly nsp: string;
  readonly query: Record<string, string> | undefined;
}

/** socket.io-client's URL rules: a missing scheme is the page's (or https), a missing URL is the page. */
function parse(uri: string | undefined, path: string): Parsed {
  const page = (globalThis as { location?: { href: string; protocol: string } }).location;
  let text = uri ?? page?.href ?? "";
  if (text.startsWith("//")) text = `${page?.protocol ?? "https:"}${text}`;
  else if (!text.startsWith("/") && !/^(https?|wss?):\/\//i.test(text))
    text = `${page?.protocol ?? "https:"}//${text}`;
  let url: URL;
  try {
    url = new URL(text, page?.href);
  } catch {
    throw new TypeError(`io: url must be a Socket.IO server URL; got ${JSON.stringify(uri)}`);
  }
  const query = url.search === "" ? undefined : Object.fromEntries(url.searchParams);
  return { source: url.href, key: `${url.protocol}//${url.host}${path}`, nsp: url.pathname || "/", query };
}

/**
 * Connects to a Socket.IO server the way socket.io-client's `io()` does, with every (re)connection decided
 * by our policy: jittered backoff, server hints (middleware `err.data`, drain notices), circuit breaker,
 * flap damping, page signals, `signal`. Migrating is changing the import.
 *
 * @example
 * import { io } from "resilient-reconnect/socket.io";
 * const socket = io("https://chat.example", { auth: (cb) => cb({ token }) });
 * socket.emit("join", "lobby", (reply) => console.log(reply));
 * socket.resilience.on("retry", (e) => console.log(`again in ${e.delayMs} ms (${e.cause})`));
 * @throws TypeError / RangeError naming the option, for a misconfigured policy option or URL.
 */
export function io<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
>(uri?: string | IoOptions, options?: IoOptions): ResilientIoSocket<ListenEvents, EmitEvents> {
  if (typeof uri === "object" && uri !== null) return io(undefined, uri);
  const all: Record<string, unknown> = { ...(options ?? {}) };
  const policy: Record<string, unknown> = {};
  for (const key of POLICY_KEYS) {
    if (all[key] !== undefined) policy[key] = all[key];
    delete all[key];
  }
  const queue = resolveQueue(all.queue);
  delete all.queue;
  for (const rejected of ["heartbeat", "delivery", "transport"]) {
    if (all[rejected] !== undefined)
      throw new TypeError(
        `io: ${rejected} is not an option of io() (Socket.IO has its own ping/pong and acks)`,
      );
  }
  if (policy.maxAttempts === undefined && typeof all.reconnectionAttempts === "number")
    policy.maxAttempts = all.reconnectionAttempts;
  if (policy.connectTimeoutMs === undefined && typeof all.timeout === "number")
    policy.connectTimeoutMs = all.timeout;
  const reconnection = all.reconnection !== false;
  const autoConnect = all.autoConnect !== false;
  const path = typeof all.path === "string" ? all.path : "/socket.io";
  const parsed = parse(uri, path);
  if (parsed.query !== undefined && all.query === undefined) all.query = parsed.query;
  const shared = managers.get(parsed.key);
  const fresh =
    all.forceNew === true ||
    all.multiplex === false ||
    shared === undefined ||
    parsed.nsp in (shared.manager as unknown as { nsps: object }).nsps;
  const managerOptions = {
    ...all,
    reconnection: false,
    autoConnect: false,
    timeout: false as unknown as number,
  };
  const entry = fresh ? { manager: new Manager(parsed.source, managerOptions), sockets: 0 } : shared;
  if (fresh && all.forceNew !== true && all.multiplex !== false && shared === undefined)
    managers.set(parsed.key, entry);
  entry.sockets++;
  const socket = entry.manager.socket(parsed.nsp, all) as unknown as ResilientIoSocket<
    ListenEvents,
    EmitEvents
  >;
  linkOf(socket);
  const clock = (policy.clock as ResilientSocketOptions["clock"]) ?? systemClock;
  let resilience: SocketResilience | undefined;
  const buffer = new BoundedSendBuffer(socket, queue, clock, (event) => resilience?.dropped(event));
  resilience = new SocketResilience(socket, policy, buffer, reconnection, () => {
    entry.sockets--;
    if (entry.sockets === 0 && managers.get(parsed.key) === entry) managers.delete(parsed.key);
  });
  govern(socket, resilience, buffer);
  if (autoConnect) resilience.start();
  return socket;
}

/** Routes the app's connect/disconnect through the policy and bounds every emit that gets buffered. */
function govern(socket: Socket, resilience: SocketResilience, buffer: BoundedSendBuffer): void {
  const base = proto(socket);
  const target = socket as unknown as Record<string, unknown>;
  // Expired emits go before socket.io flushes the buffer on connect.
  target.emitBuffered = function (this: Socket) {
    buffer.expire();
    base.emitBuffered.call(this);
  };
  Object.defineProperty(target, "resilience", { value: resilience, enumerable: false });
  target.connect = target.open = () => {
    resilience.start();
    return socket;
  };
  target.disconnect = target.close = () => {
    resilience.stop();
    if (socket.active) base.disconnect.call(socket);
    return socket;
  };
  target.emit = function (this: Socket, event: string, ...args: unknown[]) {
    const inner = socket as unknown as { sendBuffer: unknown[] };
    const before = inner.sendBuffer.length;
    base.emit.call(this, event, ...args);
    const added = inner.sendBuffer.length - before;
    if (added > 0) buffer.admit(added);
    return this;
  };
}
