/**
 * `io(url, options)`: socket.io-client's `io()`, governed. It returns socket.io-client's own `Socket`
 * (typed events kept) on a Manager whose reconnection is OFF for its whole life; our policy decides the
 * first connection and every reconnection and calls connect at the planned moment. The Socket object is
 * never replaced, so its recovery id and offset (connection-state recovery) and its send buffer carry over.
 */

import type { DefaultEventsMap, EventsMap } from "@socket.io/component-emitter";
import { io as lookup, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import type { ResilientSocketOptions } from "../client/options.js";
import { KNOWN, resolveOptions, resolveQueue } from "../client/options.js";
import { rejectUnknown } from "../options-check.js";
import type { Connection } from "../transports/types.js";
import { checkSocketIoUrl } from "../transports/url.js";
import { linkOf, openAttempt } from "./attempt.js";
import { Governor, type SocketResilience } from "./resilience.js";

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
  // socket.io-client would take "not a url" as the host "not a url" and fail on every attempt, for ever.
  if (typeof uri === "string") checkSocketIoUrl("io", uri);
  const all: Record<string, unknown> = { ...options };
  // Our option names out of socket.io-client's: one table, ResilientSocket's.
  const policy: Record<string, unknown> = {};
  for (const key of KNOWN) {
    policy[key] = all[key];
    delete all[key];
  }
  for (const rejected of ["heartbeat", "delivery", "transport"]) {
    // Socket.IO has its own ping/pong and acks; io() makes its own transport.
    if (policy[rejected] !== undefined) rejectUnknown("io", { [rejected]: 0 }, []);
  }
  const queue = resolveQueue(policy.queue, "io");
  // autoConnect keeps socket.io's meaning: connect now (through our policy), or on socket.connect().
  const autoConnect = policy.autoConnect !== false;
  if (policy.maxAttempts === undefined && typeof all.reconnectionAttempts === "number")
    policy.maxAttempts = all.reconnectionAttempts;
  if (policy.connectTimeoutMs === undefined && typeof all.timeout === "number")
    policy.connectTimeoutMs = all.timeout;
  // Our policy's options, as the Governor takes them: a misconfigured one throws here, naming it, before
  // anything connects or is cached.
  let socket: ResilientIoSocket<ListenEvents, EmitEvents> | undefined;
  const governed = {
    ...policy,
    autoConnect: false,
    queue: false,
    transport: {
      name: "socket.io",
      connect: (handlers) => openAttempt(socket as Socket, handlers) as Connection,
    },
  } satisfies ResilientSocketOptions;
  resolveOptions(governed, "io");
  // socket.io-client's own lookup: its URL rules, its Manager cache (namespaces of one server share a
  // Manager unless forceNew / multiplex: false), its query handling. Our own timer bounds each attempt.
  socket = lookup(uri, {
    ...all,
    autoConnect: false,
    timeout: false as unknown as number,
  }) as unknown as ResilientIoSocket<ListenEvents, EmitEvents>;
  // Its Manager's own reconnection off, also on one that plain socket.io-client made first for the same URL:
  // one policy only, ours.
  socket.io.reconnection(false);
  linkOf(socket);
  const resilience = new Governor(socket, governed, queue, all.reconnection !== false);
  if (autoConnect) resilience.connect();
  return socket;
}
