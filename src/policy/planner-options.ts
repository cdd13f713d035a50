/**
 * The planner's options, resolved in one place: backoff, breaker, ceiling, attempts, hint spread, and the
 * page settings that shape a wait (the hidden-tab slowdown and the resume jitter live in `signals`, but what
 * they do to a wait is the planner's business). `ResilientSocket` and the storm lab both resolve through
 * here, so a simulated client waits exactly as a shipped one.
 */
import { MAX_TIMER_MS } from "../env.js";
import { badOption, numberOption, objectOption } from "../options-check.js";
import { type BackoffStrategy, waveJitter } from "./backoff.js";
import { type CircuitBreakerOptions, resolveCircuitBreakerOptions } from "./circuit-breaker.js";
import { DEFAULT_MAX_HINT_MS } from "./hints.js";

/** Default share of `resumeJitterMs`: the attempt after a pause waits a uniform draw in [0, 1 s]. */
export const DEFAULT_RESUME_JITTER_MS = 1_000;

/** Resolved planner options (see `ResilientSocketOptions` for the documented user-facing forms). */
export interface PlannerOptions {
  /** The backoff strategy that sets the wait after a failure when no hint or budget does. */
  readonly backoff: BackoffStrategy;
  /** Breaker options, or `false` for no breaker. */
  readonly circuitBreaker: CircuitBreakerOptions | false;
  /** No wait is ever longer than this (ms), whatever a server, a budget, the breaker or the page asks. */
  readonly maxDelayMs: number;
  /** Consecutive failed attempts after which the planner says stop. `Infinity` never stops. */
  readonly maxAttempts: number;
  /** Share of a hint's delay used as its spread when the server gave none (so plain `Retry-After: 5` does not
   * bring every client back in the same millisecond). */
  readonly hintSpreadRatio: number;
  /** The attempt after a pause ends waits at least a uniform draw in [0, this] (ms). Default 1,000. */
  readonly resumeJitterMs?: number;
}

/** The user-facing options the planner reads (a subset of `ResilientSocketOptions`). */
export const PLANNER_KEYS = [
  "backoff",
  "circuitBreaker",
  "maxDelayMs",
  "maxAttempts",
  "hintSpreadRatio",
] as const;

let defaultBackoff: BackoffStrategy | undefined;
let defaultPlanner: PlannerOptions | undefined;

function resolveBackoff(where: string, value: unknown): BackoffStrategy {
  // Strategies keep no state (the planner passes it in), so every socket with the default shares one.
  if (value === undefined) {
    defaultBackoff ??= Object.freeze(waveJitter());
    return defaultBackoff;
  }
  const strategy = objectOption(where, "backoff", value);
  if (typeof strategy.next !== "function" || typeof strategy.capMs !== "number")
    badOption(where, "backoff", "a strategy such as decorrelatedJitter() or customBackoff(fn)", value);
  return value as BackoffStrategy;
}

/**
 * Validates the planner's options out of a socket's options object and fills in defaults. Throws
 * TypeError/RangeError naming the option. `resumeJitterMs` comes from the resolved page signals (default
 * 1,000 ms). Sockets that set none of them share one frozen copy (memory per socket).
 */
export function resolvePlannerOptions(
  input: Readonly<Record<string, unknown>>,
  resumeJitterMs = DEFAULT_RESUME_JITTER_MS,
  where = "ResilientSocket",
): PlannerOptions {
  const defaultPolicy =
    PLANNER_KEYS.every((key) => input[key] === undefined) && resumeJitterMs === DEFAULT_RESUME_JITTER_MS;
  if (defaultPolicy && defaultPlanner !== undefined) return defaultPlanner;
  const backoff = resolveBackoff(where, input.backoff);
  const maxDelayMs = numberOption(
    where,
    "maxDelayMs",
    input.maxDelayMs,
    Math.min(Math.max(DEFAULT_MAX_HINT_MS, backoff.capMs), MAX_TIMER_MS),
    { min: 0, exclusiveMin: true, max: MAX_TIMER_MS },
  );
  if (maxDelayMs < backoff.capMs)
    badOption(where, "maxDelayMs", `>= the backoff cap (${backoff.capMs})`, maxDelayMs, true);
  const circuitBreaker =
    input.circuitBreaker === false
      ? false
      : resolveCircuitBreakerOptions(
          input.circuitBreaker as Partial<CircuitBreakerOptions> | undefined,
          where,
          "circuitBreaker.",
        );
  const planner: PlannerOptions = {
    backoff,
    circuitBreaker,
    maxDelayMs,
    maxAttempts: numberOption(where, "maxAttempts", input.maxAttempts, Number.POSITIVE_INFINITY, {
      min: 1,
      integer: true,
      allowInfinity: true,
    }),
    hintSpreadRatio: numberOption(where, "hintSpreadRatio", input.hintSpreadRatio, 0.25, { max: 10 }),
    resumeJitterMs,
  };
  if (defaultPolicy) defaultPlanner = Object.freeze(planner);
  return planner;
}
