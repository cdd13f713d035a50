/**
 * The reconnect planner: the one owner of every "when". It combines the backoff strategy, server hints, the
 * connect-time budget, the circuit breaker, flap damping and the page's state (paused, slowed while hidden)
 * into one decision — connect now, wait N ms (and why), pause, or stop — and keeps the moment the policy
 * asked for, so a pause can end no sooner than that. The ceiling (`maxDelayMs`) is applied here and only
 * here: transports hand over hints as the server sent them. Pure: time comes in as `nowMs`, randomness as a
 * {@link Random}, no timers.
 *
 * The same class drives {@link ResilientSocket} and every simulated client of the storm lab.
 */
import type { Random } from "../env.js";
import type { BudgetPayload } from "../protocol/budget.js";
import {
  budgetAttemptTimeout,
  budgetWait,
  type HeldBudget,
  holdBudget,
  maxBudgetAttempts,
} from "./budget.js";
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
} from "./circuit-breaker.js";
import type { RetryHint } from "./hints.js";
import { DEFAULT_RESUME_JITTER_MS, type PlannerOptions } from "./planner-options.js";

export type { PlannerOptions } from "./planner-options.js";
export type { CircuitBreakerOptions };

/** Share of the ceiling that a hint cut to the ceiling is spread over (so such clients stay apart there too). */
export const CEILING_SPREAD = 0.25;

/** Why a wait is as long as it is: the client's backoff, a server hint, the connect-time budget, the breaker. */
export type RetryCause = "backoff" | "hint" | "budget" | "circuit";

/** Permission to attempt a connection now, or how long to wait first. */
export type AttemptDecision =
  | {
      /** Attempt now. */
      readonly kind: "connect";
      /** This attempt is the breaker's half-open probe. */
      readonly probe: boolean;
    }
  | {
      /** Not yet: the breaker is open. */
      readonly kind: "wait";
      /** Until its probe time (ms). */
      readonly delayMs: number;
      /** Always the breaker. */
      readonly cause: "circuit";
    };

/** What to do after a connection failed or dropped. */
export type RetryDecision =
  | {
      /** Wait, then attempt again. */
      readonly kind: "wait";
      /** Consecutive failures so far (1 for the first retry). */
      readonly attempt: number;
      /** The wait (ms), within `maxDelayMs`. */
      readonly delayMs: number;
      /** What set it; see {@link RetryCause}. */
      readonly cause: RetryCause;
      /** The hint as obeyed, when one set the wait. */
      readonly hint?: RetryHint;
      /** The backoff's own share of the decision, for stats and the storm lab. */
      readonly backoffMs: number;
      /** Set when the hint asked for more than the ceiling and was cut to it (for an `error` event). */
      readonly problem?: string;
    }
  | {
      /** Stop retrying. */
      readonly kind: "stop";
      /** The failed attempts made. */
      readonly attempt: number;
      /** Why: `maxAttempts` ran out. */
      readonly reason: "max-attempts";
    };

/** The page as the planner needs it: may an attempt start now, and the factor on a wait that starts now. */
export interface PageState {
  /** No attempt may start (offline, a hidden page with `whenHidden: "pause"`, after `pagehide`). */
  readonly paused: boolean;
  /** Factor applied to waits while the page is hidden (`whenHidden: "slow"`); 1 otherwise. */
  readonly slowdown: number;
}

/** A page that is always there (Node, no signals). */
export const PAGE_ACTIVE: PageState = /* @__PURE__ */ Object.freeze({ paused: false, slowdown: 1 });

/** A wait as announced in a `retry` event. */
export interface PlannedRetry {
  /** The attempt this wait leads to (1 for the first retry after a drop). */
  readonly attempt: number;
  /** The wait before it (ms), within `maxDelayMs`. */
  readonly delayMs: number;
  /** What set the wait: `backoff`, `hint`, `budget` or `circuit`. */
  readonly cause: RetryCause;
  /** The server's hint, when one set the wait. */
  readonly hint?: RetryHint;
}

/** The one decision the socket acts on: its single timer is armed from `wait`, and from nowhere else. */
export type Decision =
  | {
      /** Attempt now. */
      readonly kind: "connect";
      /** The attempt is the circuit breaker's half-open probe. */
      readonly probe: boolean;
    }
  | {
      /** Wait, then ask again. */
      readonly kind: "wait";
      /** Arm the timer for this long (ms): the policy's wait, slowed while hidden, within the ceiling. */
      readonly delayMs: number;
      /** The `retry` event to emit; undefined when the wait only re-arms one already announced. */
      readonly retry: PlannedRetry | undefined;
      /** The breaker is open (the socket's state is `circuit-open` rather than `waiting`). */
      readonly circuitOpen: boolean;
      /** A hint cut to the ceiling, for an `error` event. */
      readonly problem?: string;
    }
  | {
      /** Make no attempt until the page state changes. */
      readonly kind: "pause";
    }
  | {
      /** Stop retrying (`maxAttempts` reached). */
      readonly kind: "stop";
      /** The attempts made before stopping. */
      readonly attempt: number;
    };

/** Serialisable planner state. */
export interface PlannerState {
  /** Consecutive failed attempts. */
  readonly attempt: number;
  /** The last backoff drawn (ms), the input of decorrelated jitter's next draw. */
  readonly previousDelayMs: number;
  /** The breaker's state, `null` without a breaker. */
  readonly breaker: BreakerState | null;
}

/** The one owner of every "when" of one client: see the module comment and docs/planner.md. */
export class ReconnectPlanner {
  /** The resolved options it plans with. */
  readonly options: PlannerOptions;
  private attempt: number;
  private previousDelayMs: number;
  private readonly breaker: CircuitBreaker | undefined;
  /** The moment the policy asked for (before any slowdown or pause), and its event. */
  private planned: { at: number; event: PlannedRetry; slowed: boolean } | undefined;
  /** The last decision was a wait while the breaker was open (a re-arm then announces nothing new). */
  private waitingOnOpenBreaker = false;
  private budget: HeldBudget | undefined;
  private budgetAttempts = 0;
  /** The last wait was to a budget slot: the attempt it leads to is budget-paced (see attemptTimeoutMs). */
  private budgetPaced = false;
  /** The slowest recent handshake (ms): each open halves the old value before taking the larger. */
  private openMs = 0;

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

  /** The moment the policy asked for (clock ms), before any hidden-tab slowdown or pause. */
  get plannedAt(): number | undefined {
    return this.planned?.at;
  }

  /** The budget's window while one holds at `nowMs` (for stats), else undefined. */
  budgetWindowMs(nowMs: number): number | undefined {
    const budget = this.budget;
    return budget !== undefined && nowMs <= budget.validUntil ? budget.windowMs : undefined;
  }

  /**
   * The server announced a budget (its first message after connect): from now on, an unannounced loss is
   * retried once per window at this client's own random phase, until the budget expires. A later budget
   * replaces it; a hint, whenever one comes, wins over it.
   */
  onBudget(nowMs: number, random: Random, budget: BudgetPayload): void {
    this.budget = holdBudget(budget, nowMs, random(), this.options.maxDelayMs);
  }

  /**
   * The connect timeout for the attempt starting now: the socket's own `connectTimeoutMs`, except for an
   * attempt made at a budget slot while the budget holds — that one is abandoned just before the client's
   * next slot (0.9 × the window, at least 2 s and 4 × the slowest recent handshake; `budgetAttemptTimeout`),
   * so a hanging attempt to a host that is gone never keeps the client more than about one window from a
   * server that is back.
   */
  attemptTimeoutMs(nowMs: number, connectTimeoutMs: number): number {
    const budget = this.budget;
    if (!this.budgetPaced || budget === undefined || nowMs > budget.validUntil) return connectTimeoutMs;
    return budgetAttemptTimeout(budget, connectTimeoutMs, this.openMs);
  }

  /**
   * An attempt opened after `openMs` (from its start to open): remembered, decaying, so a budget-paced attempt
   * is never given up sooner than 4 × the slowest recent handshake (a loaded server is slow, not gone).
   */
  onOpened(openMs: number): void {
    if (Number.isFinite(openMs) && openMs >= 0) this.openMs = Math.max(openMs, this.openMs / 2);
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
   * damping: an open alone is not a success). Counts toward the breaker and grows the backoff — unless a
   * budget paces it, which already holds the client to one attempt per window.
   */
  onFailure(nowMs: number, random: Random, hint?: RetryHint): RetryDecision {
    this.attempt += 1;
    if (hint !== undefined || this.budgetPaces(nowMs) === undefined)
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
    this.budgetAttempts = 0;
    this.budgetPaced = false;
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
    this.planned = undefined;
    this.budgetAttempts = 0;
    this.budgetPaced = false;
    this.breaker?.reset();
  }

  /** The serialisable state (attempts, last backoff, breaker), for restoring a planner elsewhere. */
  snapshot(): PlannerState {
    return {
      attempt: this.attempt,
      previousDelayMs: this.previousDelayMs,
      breaker: this.breaker?.snapshot() ?? null,
    };
  }

  // ---- The socket's side: one decision per event, the page's state included. ----

  /**
   * The retry timer fired, or the app asked for an attempt (`override`: from a pause, once, still through the
   * breaker): connect, wait for the breaker, or pause while the page forbids attempts.
   */
  next(nowMs: number, page: PageState, override = false): Decision {
    this.planned = undefined;
    if (page.paused && !override) return this.pause();
    const admission = this.beforeAttempt(nowMs);
    if (admission.kind === "connect") {
      this.waitingOnOpenBreaker = false;
      return admission;
    }
    // Woken a hair early by a platform timer while the breaker is still open: re-arm without a second
    // `retry` event for the same open period.
    const silent = this.waitingOnOpenBreaker;
    const event: PlannedRetry = { attempt: this.attempt, delayMs: admission.delayMs, cause: "circuit" };
    return this.plan(nowMs, event, page, silent);
  }

  /** An attempt or connection ended (`wasStable`: a drop, else a failure): the next wait, or stop. */
  ended(nowMs: number, random: Random, wasStable: boolean, page: PageState, hint?: RetryHint): Decision {
    const decision = wasStable ? this.onDrop(nowMs, random, hint) : this.onFailure(nowMs, random, hint);
    if (decision.kind === "stop") {
      this.planned = undefined;
      this.waitingOnOpenBreaker = false;
      return { kind: "stop", attempt: decision.attempt };
    }
    const { attempt, delayMs, cause, problem } = decision;
    const event: PlannedRetry =
      decision.hint === undefined
        ? { attempt, delayMs, cause }
        : { attempt, delayMs, cause, hint: decision.hint };
    const step = this.plan(nowMs, event, page, false);
    return problem !== undefined && step.kind === "wait" ? { ...step, problem } : step;
  }

  /**
   * The page changed (offline/online, hidden/visible, pagehide/pageshow) while the socket waits or is paused
   * (`paused`: the socket's state is `paused`). Pausing keeps the policy's moment; the way back is one
   * attempt no sooner than that and after a random share of `resumeJitterMs` (so every tab regaining the
   * network does not reconnect in the same instant). A wait slowed while hidden is shortened the same way once
   * visible. Undefined: nothing changes.
   */
  pageChanged(nowMs: number, random: Random, page: PageState, paused: boolean): Decision | undefined {
    if (page.paused) return paused ? undefined : this.pause();
    const planned = this.planned;
    if (!paused && !(planned?.slowed && page.slowdown === 1)) return undefined;
    const jitterMs = random() * (this.options.resumeJitterMs ?? DEFAULT_RESUME_JITTER_MS);
    const waitMs = Math.max((planned?.at ?? nowMs) - nowMs, jitterMs);
    const delayMs = Math.min(waitMs * page.slowdown, this.options.maxDelayMs);
    const attempt = Math.max(1, this.attempt);
    const event = planned?.event ?? { attempt, delayMs, cause: "backoff" as const };
    this.planned = { at: nowMs + waitMs, event, slowed: page.slowdown > 1 };
    return this.waitStep(delayMs, { ...event, delayMs });
  }

  /** The page was hidden for the back/forward cache: pause, with the way back due at once (plus jitter). */
  hidden(nowMs: number): Decision {
    const event: PlannedRetry = { attempt: Math.max(1, this.attempt), delayMs: 0, cause: "backoff" };
    this.planned = { at: nowMs, event, slowed: false };
    return this.pause();
  }

  private pause(): Decision {
    this.waitingOnOpenBreaker = false;
    return { kind: "pause" };
  }

  private plan(nowMs: number, event: PlannedRetry, page: PageState, silent: boolean): Decision {
    this.planned = { at: nowMs + event.delayMs, event, slowed: page.slowdown > 1 };
    if (page.paused) return this.pause();
    const delayMs = Math.min(event.delayMs * page.slowdown, this.options.maxDelayMs);
    return this.waitStep(delayMs, silent ? undefined : { ...event, delayMs });
  }

  private waitStep(delayMs: number, retry: PlannedRetry | undefined): Decision {
    const circuitOpen = this.circuit === "open";
    this.waitingOnOpenBreaker = circuitOpen;
    return { kind: "wait", delayMs, retry, circuitOpen };
  }

  /** The wait to the next budget slot, when a budget holds now and has attempts left; else undefined. */
  private budgetPaces(nowMs: number): number | undefined {
    const budget = this.budget;
    if (budget === undefined || this.budgetAttempts >= maxBudgetAttempts(budget)) return undefined;
    return budgetWait(budget, nowMs);
  }

  /**
   * The least a hinted wait may be: the backoff — but no more than the budget's window while a budget holds
   * (and has attempts left). The server that announced the budget said one attempt per window is what it
   * takes; a backoff grown past that by refusals during a brownout would only keep the client away after
   * capacity returns (storm lab, brownout at N / C = 10 s: the backoff reached 24–72 s by the fourth
   * refusal). Such a wait counts toward the budget's attempt cap, so a hostile budget with 1 ms hints still gets
   * at most one attempt a second for two minutes.
   */
  private hintFloor(nowMs: number, backoffMs: number): number {
    const budget = this.budget;
    if (budget === undefined || backoffMs <= budget.windowMs) return backoffMs;
    if (this.budgetPaces(nowMs) === undefined) return backoffMs;
    this.budgetAttempts++;
    return budget.windowMs;
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
    let problem: string | undefined;
    let bounded = hint;
    if (hint !== undefined) {
      // The one place a hint meets the ceiling: transports hand hints over as the server sent them.
      if (hint.delayMs > maxDelayMs) {
        problem = `${hint.source} hint of ${hint.delayMs} ms cut to the ${maxDelayMs} ms ceiling`;
        bounded = { ...hint, delayMs: maxDelayMs, spreadMs: hint.spreadMs === undefined ? undefined : 0 };
      }
      const h = bounded as RetryHint;
      const spread = h.spreadMs ?? h.delayMs * hintSpreadRatio;
      // At least the hint, spread over its window, cut at the ceiling. A hint that was itself cut to the
      // ceiling is spread over the ceiling's last quarter instead: clamping it would put every client that
      // was asked for "too long" on the same instant.
      const start = h.delayMs < maxDelayMs ? h.delayMs : maxDelayMs * (1 - CEILING_SPREAD);
      const end = Math.min(h.delayMs + spread, maxDelayMs);
      const hinted = start + random() * (end - start);
      delayMs = this.hintFloor(nowMs, backoffMs);
      if (hinted > delayMs) {
        delayMs = hinted;
        cause = "hint";
      }
    } else {
      // No word from the server: a budget it announced at connect time paces the way back instead of the
      // backoff — once per window, at this client's own phase, reachable whenever the server returns.
      const paced = this.budgetPaces(nowMs);
      if (paced !== undefined) {
        this.budgetAttempts++;
        delayMs = paced;
        cause = "budget";
      }
    }
    const reopensAt = this.breaker?.state === "open" ? this.breaker.reopensAt : undefined;
    if (reopensAt !== undefined && reopensAt - nowMs > delayMs) {
      delayMs = reopensAt - nowMs;
      cause = "circuit";
    }
    delayMs = Math.min(maxDelayMs, Math.max(0, delayMs));
    this.budgetPaced = cause === "budget";
    const wait = { kind: "wait" as const, attempt: this.attempt, delayMs, cause, backoffMs };
    const withHint = bounded === undefined ? wait : { ...wait, hint: bounded };
    return problem === undefined ? withHint : { ...withHint, problem };
  }
}
