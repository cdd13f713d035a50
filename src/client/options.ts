/**
 * Every option, its default, and its validation — in one place (ky's habit: normalise once, nowhere else).
 * A misconfiguration throws a TypeError or RangeError whose message names the option and the value seen.
 */
import { type Clock, MAX_TIMER_MS, type Random, systemClock, systemRandom } from "../env.js";
import {
  badOption,
  booleanOption,
  functionOption,
  numberOption,
  objectOption,
  rejectUnknown,
} from "../options-check.js";
import type { BackoffStrategy } from "../policy/backoff.js";
import type { CircuitBreakerOptions } from "../policy/circuit-breaker.js";
import { type PlannerOptions, resolvePlannerOptions } from "../policy/planner-options.js";
import type { Transport } from "../transports/types.js";
import { type DebugLogger, type DebugSink, debugSink } from "./debug.js";
import type { DeliveryTracker } from "./delivery.js";
import { type PageSignalsOptions, type ResolvedSignals, resolveSignals } from "./page-signals.js";
import { defaultQueueOptions, type QueueOptions } from "./queue.js";

/** Application-level heartbeat (liveness) settings. */
export interface HeartbeatOptions {
  /** After this long without any inbound message, send `message`. */
  intervalMs: number;
  /** After sending it, this long without any inbound message declares the connection dead. */
  timeoutMs: number;
  /** What to send as the ping (a value, or a function producing one). Default `"ping"`. */
  message?: unknown;
  /** Recognises the server's answer so it is not emitted as a `message`. Default: `data === "pong"`. */
  isPong?: (data: unknown) => boolean;
}

/** Options of {@link ResilientSocket}. Only `transport` is required. */
export interface ResilientSocketOptions {
  /** How to open a connection: `webSocketTransport(...)` or `socketIoTransport(...)`. */
  transport: Transport;
  /** Backoff strategy. Default `waveJitter()` (base 1 s, cap 120 s; see docs/planner.md). */
  backoff?: BackoffStrategy;
  /** Circuit breaker options, or `false` to run without one. Default: see `defaultCircuitBreakerOptions`. */
  circuitBreaker?: Partial<CircuitBreakerOptions> | false;
  /** Ceiling on any wait — server hints and the breaker included. Default 600,000 (10 min). */
  maxDelayMs?: number;
  /** Consecutive failed attempts before stopping (`error` with code MAX_ATTEMPTS). Default `Infinity`. */
  maxAttempts?: number;
  /** Spread added to a hint that carries none, as a share of its delay. Default 0.25. */
  hintSpreadRatio?: number;
  /** An attempt that has not opened by then is abandoned and counts as a failure. Default 20,000. */
  connectTimeoutMs?: number;
  /** A connection must stay open this long before the backoff resets (flap damping). Default 10,000. */
  stableAfterMs?: number;
  /** Also count the first inbound message as proof of health. Default `false`. */
  stableOnFirstMessage?: boolean;
  /** Application heartbeat for transports without their own liveness (WebSocket). Default off. */
  heartbeat?: HeartbeatOptions | false;
  /** Outbound queue bounds, or `false` to drop (with a `drop` event) what is sent while disconnected. */
  queue?: Partial<QueueOptions> | false;
  /** At-least-once delivery (`atLeastOnce()`): ids on messages, resent until the server acknowledges them.
   * Default off: messages are sent once, as they are. */
  delivery?: DeliveryTracker;
  /** Reconnect after a deliberate server close (WebSocket 1000, "io server disconnect"). Default `false`. */
  reconnectOnServerClose?: boolean;
  /** Retry after a refusal without a hint (HTTP 401/403, Socket.IO middleware error). Default `false`. */
  retryOnRefusal?: boolean;
  /**
   * Browser network and page signals (`online`/`offline`, visibility, `pagehide`/`pageshow`, sleep), or
   * `false` to ignore them. Default: on in a browser (`{}`), off where there is no `document`.
   */
  signals?: PageSignalsOptions | false;
  /** Start connecting on the next microtask after construction. Default `true`; else call `connect()`. */
  autoConnect?: boolean;
  /** Aborting it closes the socket for good, like `close()`. */
  signal?: AbortSignal;
  /**
   * Logs each decision — attempt (number, URL), outcome (why it ended, the hint read), wait (ms and why),
   * state and breaker changes — as one line: `true` writes to `console.debug` with a `[resilient-reconnect]`
   * prefix, a function gets `(line, detail)`. Default off, and free when off (nothing is formatted).
   */
  debug?: boolean | DebugLogger;
  /** Time and timers. Default: the system clock. Pass a `VirtualClock` for deterministic tests. */
  clock?: Clock;
  /** Uniform draws in [0, 1). Default `Math.random` (drawn at call time). */
  random?: Random;
}

export interface ResolvedOptions {
  readonly transport: Transport;
  readonly planner: PlannerOptions;
  readonly connectTimeoutMs: number;
  readonly stableAfterMs: number;
  readonly stableOnFirstMessage: boolean;
  readonly heartbeat: Required<HeartbeatOptions> | undefined;
  readonly queue: QueueOptions | undefined;
  readonly delivery: DeliveryTracker | undefined;
  readonly reconnectOnServerClose: boolean;
  readonly retryOnRefusal: boolean;
  readonly autoConnect: boolean;
  readonly signals: ResolvedSignals | undefined;
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
  readonly random: Random;
  readonly debug: DebugSink | undefined;
}

/** Every option name of `ResilientSocket` (io() takes its policy options out of socket.io-client's by it). */
export const KNOWN = [
  "transport",
  "backoff",
  "circuitBreaker",
  "maxDelayMs",
  "maxAttempts",
  "hintSpreadRatio",
  "connectTimeoutMs",
  "stableAfterMs",
  "stableOnFirstMessage",
  "heartbeat",
  "queue",
  "delivery",
  "reconnectOnServerClose",
  "retryOnRefusal",
  "autoConnect",
  "signals",
  "signal",
  "clock",
  "random",
  "debug",
];

const TIMER = { min: 0, exclusiveMin: true, max: MAX_TIMER_MS };

/** `delivery` is what `atLeastOnce()` returns, not its options (an easy slip that would crash mid-send). */
function trackerOption(where: string, value: unknown): DeliveryTracker {
  const tracker = objectOption(where, "delivery", value);
  if (!["wrap", "sent", "unsent", "inbound", "requeue"].every((m) => typeof tracker[m] === "function"))
    badOption(where, "delivery", "what atLeastOnce() returns", value);
  return tracker as unknown as DeliveryTracker;
}

function resolveHeartbeat(where: string, value: unknown): Required<HeartbeatOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  const input = objectOption(where, "heartbeat", value);
  rejectUnknown(where, input, ["intervalMs", "timeoutMs", "message", "isPong"], "heartbeat.");
  if (input.intervalMs === undefined || input.timeoutMs === undefined)
    badOption(where, "heartbeat", "{ intervalMs, timeoutMs } (or false)", value);
  return {
    intervalMs: numberOption(where, "heartbeat.intervalMs", input.intervalMs, 0, TIMER),
    timeoutMs: numberOption(where, "heartbeat.timeoutMs", input.timeoutMs, 0, TIMER),
    message: input.message === undefined ? "ping" : input.message,
    isPong: functionOption(where, "heartbeat.isPong", input.isPong, (data: unknown) => data === "pong"),
  };
}

/** The `queue` option (`where` names the caller in messages). */
export function resolveQueue(value: unknown, where = "ResilientSocket"): QueueOptions | undefined {
  if (value === false) return undefined;
  if (value === undefined) return defaultQueueOptions;
  const input = objectOption(where, "queue", value);
  rejectUnknown(where, input, ["maxMessages", "maxBytes", "ttlMs", "overflow"], "queue.");
  const overflow = input.overflow ?? defaultQueueOptions.overflow;
  if (overflow !== "drop-oldest" && overflow !== "drop-newest")
    badOption(where, "queue.overflow", '"drop-oldest" or "drop-newest"', overflow, true);
  const { maxMessages, maxBytes, ttlMs } = defaultQueueOptions;
  return {
    maxMessages: numberOption(where, "queue.maxMessages", input.maxMessages, maxMessages, { integer: true }),
    maxBytes: numberOption(where, "queue.maxBytes", input.maxBytes, maxBytes),
    ttlMs: numberOption(where, "queue.ttlMs", input.ttlMs, ttlMs, { allowInfinity: true }),
    overflow,
  };
}

/**
 * Validates and fills in defaults. Throws TypeError/RangeError naming `where` (the constructor the app
 * called: `ResilientSocket`, `ResilientWebSocket`, `io`), the option and the value.
 */
export function resolveOptions(options: ResilientSocketOptions, where = "ResilientSocket"): ResolvedOptions {
  const input = objectOption(where, "options", options);
  rejectUnknown(where, input, KNOWN);
  const transport = input.transport as Transport | undefined;
  if (typeof transport?.connect !== "function")
    badOption(
      where,
      "transport",
      "webSocketTransport({ url }), socketIoTransport({ url }) or a Transport",
      transport,
    );
  const signal = input.signal;
  if (signal !== undefined && typeof (signal as AbortSignal | null)?.addEventListener !== "function")
    badOption(where, "signal", "an AbortSignal", signal);
  const clock =
    input.clock === undefined ? systemClock : (objectOption(where, "clock", input.clock) as unknown as Clock);
  if ([clock.now, clock.setTimeout, clock.clearTimeout].some((method) => typeof method !== "function"))
    badOption(where, "clock", "an object with now(), setTimeout() and clearTimeout()", clock);
  const signals = resolveSignals(where, input.signals);
  const planner: PlannerOptions = resolvePlannerOptions(input, signals?.resumeJitterMs, where);
  const debug = input.debug;
  if (debug !== undefined && typeof debug !== "boolean" && typeof debug !== "function")
    badOption(where, "debug", "a boolean or a function", debug);
  return {
    transport,
    planner,
    connectTimeoutMs: numberOption(where, "connectTimeoutMs", input.connectTimeoutMs, 20_000, TIMER),
    stableAfterMs: numberOption(where, "stableAfterMs", input.stableAfterMs, 10_000, { max: MAX_TIMER_MS }),
    stableOnFirstMessage: booleanOption(where, "stableOnFirstMessage", input.stableOnFirstMessage, false),
    heartbeat: resolveHeartbeat(where, input.heartbeat),
    queue: resolveQueue(input.queue, where),
    delivery: input.delivery === undefined ? undefined : trackerOption(where, input.delivery),
    reconnectOnServerClose: booleanOption(
      where,
      "reconnectOnServerClose",
      input.reconnectOnServerClose,
      false,
    ),
    retryOnRefusal: booleanOption(where, "retryOnRefusal", input.retryOnRefusal, false),
    autoConnect: booleanOption(where, "autoConnect", input.autoConnect, true),
    signals,
    signal: signal as AbortSignal | undefined,
    clock,
    random: functionOption(where, "random", input.random, systemRandom),
    debug: debugSink(debug as boolean | DebugLogger | undefined),
  };
}
