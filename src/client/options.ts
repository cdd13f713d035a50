/**
 * Every option, its default, and its validation — in one place (ky's habit: normalise once, nowhere else).
 * A misconfiguration throws a TypeError or RangeError whose message names the option and the value seen.
 */
import { describe } from "../describe.js";
import { type Clock, MAX_TIMER_MS, type Random, systemClock, systemRandom } from "../env.js";

export { numberOption };

import type { BackoffStrategy } from "../policy/backoff.js";
import type { CircuitBreakerOptions } from "../policy/circuit-breaker.js";
import { numberOption } from "../policy/number-option.js";
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

const KNOWN = new Set([
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
]);

const TIMER = { min: 0, exclusiveMin: true, max: MAX_TIMER_MS };

function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`${name} must be a boolean; got ${describe(value)}`);
  return value;
}

function functionOption<T>(name: string, value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== "function") throw new TypeError(`${name} must be a function; got ${describe(value)}`);
  return value as T;
}

function objectOption(name: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object; got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** `delivery` is what `atLeastOnce()` returns, not its options (an easy slip that would crash mid-send). */
function trackerOption(value: unknown): DeliveryTracker {
  const tracker = objectOption("delivery", value);
  if (!["wrap", "sent", "unsent", "inbound", "requeue"].every((m) => typeof tracker[m] === "function"))
    throw new TypeError(`delivery must be what atLeastOnce() returns; got ${describe(value)}`);
  return tracker as unknown as DeliveryTracker;
}

function rejectUnknown(name: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw new TypeError(`${name}.${key} is not an option (known: ${known.join(", ")})`);
  }
}

function resolveHeartbeat(value: unknown): Required<HeartbeatOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  const input = objectOption("heartbeat", value);
  rejectUnknown("heartbeat", input, ["intervalMs", "timeoutMs", "message", "isPong"]);
  if (input.intervalMs === undefined || input.timeoutMs === undefined) {
    throw new TypeError("heartbeat needs intervalMs and timeoutMs (or pass heartbeat: false)");
  }
  return {
    intervalMs: numberOption("heartbeat.intervalMs", input.intervalMs, 0, TIMER),
    timeoutMs: numberOption("heartbeat.timeoutMs", input.timeoutMs, 0, TIMER),
    message: input.message === undefined ? "ping" : input.message,
    isPong: functionOption("heartbeat.isPong", input.isPong, (data: unknown) => data === "pong"),
  };
}

export function resolveQueue(value: unknown): QueueOptions | undefined {
  if (value === false) return undefined;
  if (value === undefined) return defaultQueueOptions;
  const input = objectOption("queue", value);
  rejectUnknown("queue", input, ["maxMessages", "maxBytes", "ttlMs", "overflow"]);
  const overflow = input.overflow ?? defaultQueueOptions.overflow;
  if (overflow !== "drop-oldest" && overflow !== "drop-newest") {
    throw new RangeError(`queue.overflow must be "drop-oldest" or "drop-newest"; got ${describe(overflow)}`);
  }
  return {
    maxMessages: numberOption("queue.maxMessages", input.maxMessages, defaultQueueOptions.maxMessages, {
      integer: true,
    }),
    maxBytes: numberOption("queue.maxBytes", input.maxBytes, defaultQueueOptions.maxBytes),
    ttlMs: numberOption("queue.ttlMs", input.ttlMs, defaultQueueOptions.ttlMs, { allowInfinity: true }),
    overflow,
  };
}

/** Validates and fills in defaults. Throws TypeError/RangeError naming the option. */
export function resolveOptions(options: ResilientSocketOptions): ResolvedOptions {
  const input = objectOption("options", options) as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) throw new TypeError(`${key} is not an option of ResilientSocket`);
  }
  const transport = input.transport as Transport | undefined;
  if (transport === undefined || transport === null || typeof transport.connect !== "function") {
    throw new TypeError(
      `transport is required: pass webSocketTransport({ url }) or socketIoTransport({ url }); got ${describe(transport)}`,
    );
  }
  const signal = input.signal;
  if (
    signal !== undefined &&
    (signal === null || typeof (signal as AbortSignal).addEventListener !== "function")
  ) {
    throw new TypeError(`signal must be an AbortSignal; got ${describe(signal)}`);
  }
  const clock =
    input.clock === undefined ? systemClock : (objectOption("clock", input.clock) as unknown as Clock);
  const clockMethods = [clock.now, clock.setTimeout, clock.clearTimeout];
  if (clockMethods.some((method) => typeof method !== "function")) {
    throw new TypeError("clock must have now(), setTimeout() and clearTimeout()");
  }
  const signals = resolveSignals(input.signals, numberOption);
  const planner: PlannerOptions = resolvePlannerOptions(input, signals?.resumeJitterMs);
  return {
    transport,
    planner,
    connectTimeoutMs: numberOption("connectTimeoutMs", input.connectTimeoutMs, 20_000, TIMER),
    stableAfterMs: numberOption("stableAfterMs", input.stableAfterMs, 10_000, { max: MAX_TIMER_MS }),
    stableOnFirstMessage: booleanOption("stableOnFirstMessage", input.stableOnFirstMessage, false),
    heartbeat: resolveHeartbeat(input.heartbeat),
    queue: resolveQueue(input.queue),
    delivery: input.delivery === undefined ? undefined : trackerOption(input.delivery),
    reconnectOnServerClose: booleanOption("reconnectOnServerClose", input.reconnectOnServerClose, false),
    retryOnRefusal: booleanOption("retryOnRefusal", input.retryOnRefusal, false),
    autoConnect: booleanOption("autoConnect", input.autoConnect, true),
    signals,
    signal: signal as AbortSignal | undefined,
    clock,
    random: functionOption("random", input.random, systemRandom),
    debug: debugSink(
      typeof input.debug === "boolean" ? input.debug : functionOption("debug", input.debug, undefined),
    ),
  };
}
