/**
 * The reconnect planner: the one policy every reconnect path goes through. It combines the backoff
 * strategy, server hints, the circuit breaker and flap damping into one decision — connect now, wait N ms
 * (and why), or stop. Pure: time comes in as `nowMs`, randomness as a {@link Random}, no timers.
 *
 * The same class drives {@link ResilientSocket} and every simulated client of the storm lab.
 */
import type { Random } from "../env.js";
import type { BackoffStrategy } from "./backoff.js";
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
} from "./circuit-breaker.js";
import type { RetryHint } from "./hints.js";

/** Share of the ceiling that a hint cut to the ceiling is spread over (so such clients stay apart there too). */
export const CEILING_SPREAD = 0.25;

/** Why a wait is as long as it is. */
export type RetryCause = "backoff" | "hint" | "circuit";

/** Resolved planner options (see `ResilientSocketOptions` for the documented user-facing forms). */
export interface PlannerOptions {
  readonly backoff: BackoffStrategy;
  /** Breaker options, or `false` for no breaker. */
  readonly circuitBreaker: CircuitBreakerOptions | false;
  /** No wait is ever longer than this (ms), whatever a server or the breaker asks. */
  readonly maxDelayMs: number;
  /** Consecutive failed attempts after which the planner says stop. `Infinity` never stops. */
  readonly maxAttempts: number;
  /** Share of a hint's delay used as its spread when the server gave none (so plain `Retry-After: 5` does not
   * bring every client back in the same millisecond). */
  readonly hintSpreadRatio: number;
}

/** Permission to attempt a connection now, or how long to wait first. */
export type AttemptDecision =
  | { readonly kind: "connect"; readonly probe: boolean }
  | { readonly kind: "wait"; readonly delayMs: number; readonly cause: "circuit" };

/** What to do after a connection failed or dropped. */
export type RetryDecision =
  | {
      readonly kind: "wait";
      /** Consecutive failures so far (1 for the first retry). */
      readonly attempt: number;
      readonly delayMs: number;
      readonly cause: RetryCause;
      readonly hint?: RetryHint;
      /** The backoff's own share of the decision, for stats and the storm lab. */
      readonly backoffMs: number;
    }
  | { readonly kind: "stop"; readonly attempt: number; readonly reason: "max-attempts" };

/** Serialisable planner state. */
export interface PlannerState {
  readonly attempt: number;
  readonly previousDelayMs: number;
  readonly breaker: BreakerState | null;
}

export class ReconnectPlanner {
  readonly options: PlannerOptions;
  private attempt: number;
  private previousDelayMs: number;
  private readonly breaker: CircuitBreaker | undefined;

  constructor(options: PlannerOptions, state?: PlannerState) {
    this.options = options;
    this.attempt = state?.attempt ?? 0;
    this.previousDelayMs = state?.previousDelayMs ?? 0;
    this.breaker =
      options.circuitBreaker === false
        ? undefined
        : new CircuitBreaker(options.circuitBreaker, state?.breaker ?? undefined);
    // A probe that was in flight when the state was saved will never report back.
    this.breaker?.releaseProbe();
  }

  /** Consecutive failed attempts since the last stable connection. */
  get failures(): number {
    return this.attempt;
  }

  /** The breaker's state; `closed` when there is no breaker. */
  get circuit(): CircuitState {
    return this.breaker?.state ?? "closed";
  }

  /** When an open breaker lets its probe through (clock ms), else undefined. */
  get reopensAt(): number | undefined {
    return this.breaker?.reopensAt;
  }

  /** May an attempt start now? Asks the breaker (an open breaker allows nothing until its probe time). */
  beforeAttempt(nowMs: number): AttemptDecision {
    if (this.breaker === undefined) return { kind: "connect", probe: false };
    const admission = this.breaker.tryAcquire(nowMs);
    if (admission.allowed) return { kind: "connect", probe: admission.probe };
    const delayMs = Math.min(this.options.maxDelayMs, Math.max(admission.retryInMs, 0));
    return { kind: "wait", delayMs, cause: "circuit" };
  }

  /**
   * An attempt failed: refused, timed out, errored, or opened but dropped before it became stable (flap
   * damping: an open alone is not a success). Counts toward the breaker and grows the backoff.
   */
  onFailure(nowMs: number, random: Random, hint?: RetryHint): RetryDecision {
    this.attempt += 1;
    this.breaker?.recordFailure(nowMs, random());
    if (this.attempt >= this.options.maxAttempts) {
      return { kind: "stop", attempt: this.attempt, reason: "max-attempts" };
    }
    return this.decide(nowMs, random, hint);
  }

  /**
   * A connection that had become stable dropped. Not an attempt failure (the breaker is untouched); the
   * backoff starts again from its first step.
   */
  onDrop(nowMs: number, random: Random, hint?: RetryHint): RetryDecision {
    this.attempt = 1;
    this.previousDelayMs = 0;
    return this.decide(nowMs, random, hint);
  }

  /**
   * The connection stayed healthy for the stable period (or delivered its first message, if configured):
   * only now does the backoff reset and the breaker count a success.
   */
  onStable(nowMs: number): void {
    this.attempt = 0;
    this.previousDelayMs = 0;
    this.breaker?.recordSuccess(nowMs);
  }

  /**
   * The attempt in flight was abandoned without an outcome (the page was hidden for the back/forward cache):
   * if it was the breaker's probe, the breaker lets another probe through instead of waiting for this one
   * forever.
   */
  releaseProbe(): void {
    this.breaker?.releaseProbe();
  }

  /** Forget all history (used when the app calls `connect()` on a stopped socket). */
  reset(): void {
    this.attempt = 0;
    this.previousDelayMs = 0;
    this.breaker?.reset();
  }

  snapshot(): PlannerState {
    return {
      attempt: this.attempt,
      previousDelayMs: this.previousDelayMs,
      breaker: this.breaker?.snapshot() ?? null,
    };
  }

  private decide(nowMs: number, random: Random, hint: RetryHint | undefined): RetryDecision {
    const { backoff, maxDelayMs, hintSpreadRatio } = this.options;
    const backoffMs = backoff.next({
      attempt: this.attempt,
      previousDelayMs: this.previousDelayMs,
      random: random(),
    });
    this.previousDelayMs = backoffMs;
    let delayMs = backoffMs;
    let cause: RetryCause = "backoff";
    if (hint !== undefined) {
      const spread = hint.spreadMs ?? hint.delayMs * hintSpreadRatio;
      // At least the hint, spread over its window, cut at the ceiling. A hint that was itself cut to the
      // ceiling is spread over the ceiling's last quarter instead: clamping it would put every client that
      // was asked for "too long" on the same instant.
      const start = hint.delayMs < maxDelayMs ? hint.delayMs : maxDelayMs * (1 - CEILING_SPREAD);
      const end = Math.min(hint.delayMs + spread, maxDelayMs);
      const hinted = start + random() * (end - start);
      if (hinted > delayMs) {
        delayMs = hinted;
        cause = "hint";
      }
    }
    const reopensAt = this.breaker?.state === "open" ? this.breaker.reopensAt : undefined;
    if (reopensAt !== undefined && reopensAt - nowMs > delayMs) {
      delayMs = reopensAt - nowMs;
      cause = "circuit";
    }
    delayMs = Math.min(maxDelayMs, Math.max(0, delayMs));
    return hint === undefined
      ? { kind: "wait", attempt: this.attempt, delayMs, cause, backoffMs }
      : { kind: "wait", attempt: this.attempt, delayMs, cause, hint, backoffMs };
  }
}
