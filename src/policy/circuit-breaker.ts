/**
 * A circuit breaker for connection attempts: after enough failures it refuses attempts for an open period
 * (doubling on each reopening, capped, jittered), then lets one probe through, whose outcome closes or
 * reopens it. Pure: time and randomness are arguments; the state is a plain, serialisable union.
 * @see https://github.com/connor4312/cockatiel/tree/master/src/breaker (Consecutive/SamplingBreaker, state)
 * @see Michael T. Nygard, "Release It!", 2nd ed., ch. 5 "Circuit Breaker"
 */
import { describe } from "../describe.js";
import { badOption, objectOption, rejectUnknown } from "../options-check.js";
import { uniformDraw } from "./draw.js";

/** When a breaker opens and for how long. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 10. Integer ≥ 1. */
  consecutiveFailures: number;
  /** Failure share over the window that opens it. Default 0.8. In (0, 1]. */
  failureRatio: number;
  /** Length of the sliding window for the ratio. Default 120_000. > 0, finite. */
  windowMs: number;
  /** Outcomes needed in the window before the ratio is judged. Default 10. Integer in [1, 1000]. */
  minimumAttempts: number;
  /** Open period after the first opening. Default 30_000. > 0 finite. */
  openMs: number;
  /** Ceiling of the open period as it doubles on repeated opens. Default 60_000 (or openMs if larger). */
  maxOpenMs: number;
}

/** The defaults; `maxOpenMs` rises to `openMs` when only `openMs` is given above it. */
export const defaultCircuitBreakerOptions: Readonly<CircuitBreakerOptions> = /* @__PURE__ */ Object.freeze({
  consecutiveFailures: 10,
  failureRatio: 0.8,
  windowMs: 120_000,
  minimumAttempts: 10,
  openMs: 30_000,
  maxOpenMs: 60_000,
});

/** The window keeps at most this many outcomes, so a flood of attempts cannot grow memory or snapshots. */
const MAX_WINDOW_ENTRIES = 1000;

const isFinitePositive = (v: number) => Number.isFinite(v) && v > 0;
const RULES: Record<keyof CircuitBreakerOptions, { valid: (value: number) => boolean; expected: string }> = {
  consecutiveFailures: { valid: (v) => Number.isSafeInteger(v) && v >= 1, expected: "an integer >= 1" },
  failureRatio: { valid: (v) => v > 0 && v <= 1, expected: "a number in (0, 1]" },
  windowMs: { valid: isFinitePositive, expected: "a finite number > 0" },
  minimumAttempts: {
    valid: (v) => Number.isSafeInteger(v) && v >= 1 && v <= MAX_WINDOW_ENTRIES,
    expected: `an integer in [1, ${MAX_WINDOW_ENTRIES}]`,
  },
  openMs: { valid: isFinitePositive, expected: "a finite number > 0" },
  maxOpenMs: { valid: isFinitePositive, expected: "a finite number > 0" },
};

/**
 * Fills in defaults and validates. A wrong type or an unknown key throws a `TypeError`, a number out of
 * range a `RangeError`; either message names where, the option and the value, e.g.
 * `ResilientSocket: circuitBreaker.failureRatio must be a number in (0, 1]; got 1.5`.
 * @param where The constructor the app called, for messages.
 * @param prefix How the breaker's options object is named inside the caller's (`"circuitBreaker."`).
 * @see https://github.com/connor4312/cockatiel (RangeError naming option and value)
 */
export function resolveCircuitBreakerOptions(
  input: Partial<CircuitBreakerOptions> | undefined,
  where = "CircuitBreaker",
  prefix = "",
): CircuitBreakerOptions {
  if (input === undefined) {
    defaults ??= remember({ ...defaultCircuitBreakerOptions });
    return defaults;
  }
  if (resolvedOptions.has(input)) return input as CircuitBreakerOptions;
  const given = objectOption(where, prefix === "" ? "options" : prefix.slice(0, -1), input);
  rejectUnknown(where, given, Object.keys(RULES), prefix);
  const resolved = { ...defaultCircuitBreakerOptions };
  for (const key of Object.keys(RULES) as Array<keyof CircuitBreakerOptions>) {
    const value = given[key];
    if (value === undefined) continue;
    const { valid, expected } = RULES[key];
    if (typeof value !== "number" || !valid(value))
      badOption(where, prefix + key, expected, value, typeof value === "number");
    resolved[key] = value;
  }
  if (given.maxOpenMs === undefined) resolved.maxOpenMs = Math.max(resolved.maxOpenMs, resolved.openMs);
  const { openMs, maxOpenMs } = resolved;
  if (maxOpenMs < openMs)
    badOption(where, `${prefix}maxOpenMs`, `>= ${prefix}openMs (${openMs})`, maxOpenMs, true);
  return remember(resolved);
}

/** Resolved options are frozen and shared (every breaker of every socket with the defaults has one copy). */
const resolvedOptions = /* @__PURE__ */ new WeakSet<object>();
let defaults: CircuitBreakerOptions | undefined;
function remember(options: CircuitBreakerOptions): CircuitBreakerOptions {
  resolvedOptions.add(Object.freeze(options));
  return options;
}

/** One attempt's outcome in the closed breaker's sliding window. */
type Outcome = [atMs: number, failed: 0 | 1];

/** What the breaker is doing: letting attempts through, refusing them, or testing with one probe. */
export type CircuitState = "closed" | "open" | "half-open";

/** The whole breaker state, JSON-serialisable. `opens` counts openings since the breaker last closed. */
export type BreakerState =
  | {
      /** Attempts flow. */
      kind: "closed";
      /** Times the breaker opened since it last closed after a success (the open period doubles with it). */
      opens: number;
      /** Failures in a row. */
      consecutiveFailures: number;
      /** Recent outcomes within `windowMs`: `[atMs, failed]`. */
      window: Outcome[];
    }
  | {
      /** No attempt until `untilMs`. */
      kind: "open";
      /** Times the breaker opened (this one included). */
      opens: number;
      /** When it opened (clock ms). */
      openedAtMs: number;
      /** When it lets its probe through (clock ms). */
      untilMs: number;
    }
  | {
      /** One probe attempt at a time. */
      kind: "half-open";
      /** Times the breaker opened. */
      opens: number;
      /** The probe is out and its outcome not known yet. */
      probeInFlight: boolean;
    };

/** The answer to {@link CircuitBreaker.tryAcquire}; `retryInMs: 0` means "ask after the probe's outcome". */
export type Admission =
  | {
      /** An attempt may start. */
      allowed: true;
      /** It is the half-open probe. */
      probe: boolean;
    }
  | {
      /** No attempt now. */
      allowed: false;
      /** Ask again in this many ms (0: after the probe's outcome). */
      retryInMs: number;
    };

/**
 * Opens on `consecutiveFailures` failures in a row, or when at least `minimumAttempts` outcomes in the
 * last `windowMs` are at least `failureRatio` failures. Each opening lasts
 * `min(maxOpenMs, openMs × 2^(opens−1))` scaled by a draw in [0.5, 1), so clients that failed together do
 * not probe together.
 * @see https://github.com/connor4312/cockatiel#circuitbreaker
 */
export class CircuitBreaker {
  /** The options in force, defaults filled in (frozen). */
  readonly options: CircuitBreakerOptions;
  #state: BreakerState;

  /** @param state A {@link CircuitBreaker.snapshot}, maybe via JSON; anything else throws a `TypeError`. */
  constructor(options?: Partial<CircuitBreakerOptions>, state?: BreakerState) {
    this.options = resolveCircuitBreakerOptions(options);
    this.#state = state === undefined ? closed() : restore(state);
  }

  /**
   * closed | open | half-open as of the last transition (an open breaker past its untilMs still says "open"
   * until tryAcquire moves it).
   */
  get state(): CircuitState {
    return this.#state.kind;
  }

  /** When an open breaker lets its probe through (ms timestamp), else undefined. */
  get reopensAt(): number | undefined {
    return this.#state.kind === "open" ? this.#state.untilMs : undefined;
  }

  /** Asks to make an attempt now; an open breaker past its period turns half-open and admits one probe. */
  tryAcquire(nowMs: number): Admission {
    assertTime(nowMs, "tryAcquire");
    const s = this.#state;
    if (s.kind === "closed") return { allowed: true, probe: false };
    if (s.kind === "open" && nowMs < s.untilMs) return { allowed: false, retryInMs: s.untilMs - nowMs };
    if (s.kind === "half-open" && s.probeInFlight) return { allowed: false, retryInMs: 0 };
    this.#state = { kind: "half-open", opens: s.opens, probeInFlight: true };
    return { allowed: true, probe: true };
  }

  /**
   * A successful attempt. half-open → closed with no history. closed → records it. open → no change: it
   * is a straggler admitted before the breaker opened and says nothing about the server now.
   */
  recordSuccess(nowMs: number): void {
    assertTime(nowMs, "recordSuccess");
    const s = this.#state;
    if (s.kind === "half-open") this.#state = closed();
    else if (s.kind === "closed")
      this.#state = { ...s, consecutiveFailures: 0, window: this.#record(s, nowMs, 0) };
  }

  /**
   * A failed attempt; `random` in [0, 1) jitters the open period (outside that range, or NaN, counts as
   * 0.5). closed → records it, opens on a threshold. half-open → opens again, for longer. open → no change.
   * @returns The state after the failure.
   */
  recordFailure(nowMs: number, random: number): CircuitState {
    assertTime(nowMs, "recordFailure");
    const s = this.#state;
    if (s.kind === "half-open") this.#open(s.opens, nowMs, random);
    else if (s.kind === "closed") {
      const window = this.#record(s, nowMs, 1);
      const consecutiveFailures = s.consecutiveFailures + 1;
      const failed = window.reduce((sum, [, f]) => sum + f, 0);
      const o = this.options;
      const ratioTrips = window.length >= o.minimumAttempts && failed / window.length >= o.failureRatio;
      if (ratioTrips || consecutiveFailures >= o.consecutiveFailures) this.#open(s.opens, nowMs, random);
      else this.#state = { ...s, consecutiveFailures, window };
    }
    return this.#state.kind;
  }

  /**
   * The probe ended with no outcome (cancelled by `close()`, or lost with a process whose snapshot was
   * restored): the next {@link CircuitBreaker.tryAcquire} may send a new probe instead of waiting forever.
   */
  releaseProbe(): void {
    if (this.#state.kind === "half-open") this.#state = { ...this.#state, probeInFlight: false };
  }

  /**
   * A deep copy, JSON-serialisable; `new CircuitBreaker(opts, JSON.parse(JSON.stringify(b.snapshot())))`
   * behaves identically.
   */
  snapshot(): BreakerState {
    return copy(this.#state);
  }

  /** Back to closed with no history. */
  reset(): void {
    this.#state = closed();
  }

  /** The window with one more outcome, entries older than `windowMs` dropped, at most 1000 kept. */
  #record(s: { window: Outcome[] }, nowMs: number, failed: 0 | 1): Outcome[] {
    const cutoff = nowMs - this.options.windowMs;
    // concat makes an array of exactly this length (push would grow it to ~17 slots): a connection held
    // for hours keeps its window, and a process may hold thousands.
    const window = s.window.filter(([atMs]) => atMs >= cutoff).concat([[nowMs, failed]]);
    return window.length > MAX_WINDOW_ENTRIES ? window.slice(-MAX_WINDOW_ENTRIES) : window;
  }

  #open(previousOpens: number, nowMs: number, random: number): void {
    const { openMs, maxOpenMs } = this.options;
    const opens = Math.min(previousOpens + 1, Number.MAX_SAFE_INTEGER);
    // Stop doubling once past the ceiling, so no `opens` makes 2 ** n overflow to Infinity.
    const doublings = Math.min(opens - 1, Math.ceil(Math.log2(maxOpenMs / openMs)));
    const periodMs = Math.min(maxOpenMs, openMs * 2 ** doublings);
    const draw = uniformDraw(random);
    this.#state = { kind: "open", opens, openedAtMs: nowMs, untilMs: nowMs + periodMs * (0.5 + 0.5 * draw) };
  }
}

function closed(): BreakerState {
  return { kind: "closed", opens: 0, consecutiveFailures: 0, window: [] };
}

function copy(s: BreakerState): BreakerState {
  return s.kind === "closed" ? { ...s, window: s.window.map(([atMs, failed]) => [atMs, failed]) } : { ...s };
}

/** Checks a restored state field by field, so garbage fails here rather than as NaN delays later. */
function restore(input: unknown): BreakerState {
  need(typeof input === "object" && input !== null && !Array.isArray(input), "", "an object", input);
  const s = input as Record<string, unknown>;
  const { opens, kind } = s;
  need(isCount(opens), ".opens", "an integer >= 0", opens);
  if (kind === "closed") {
    const { consecutiveFailures, window } = s;
    need(isCount(consecutiveFailures), ".consecutiveFailures", "an integer >= 0", consecutiveFailures);
    const bounded = Array.isArray(window) && window.length <= MAX_WINDOW_ENTRIES;
    need(bounded, ".window", `an array of at most ${MAX_WINDOW_ENTRIES} entries`, window);
    for (const [i, entry] of window.entries()) need(isOutcome(entry), `.window[${i}]`, "[atMs, 0|1]", entry);
    return copy({ kind, opens, consecutiveFailures, window });
  }
  if (kind === "open") {
    const { openedAtMs, untilMs } = s;
    need(Number.isFinite(openedAtMs), ".openedAtMs", "a finite number", openedAtMs);
    const ok = Number.isFinite(untilMs) && (untilMs as number) >= (openedAtMs as number);
    need(ok, ".untilMs", "a finite number >= openedAtMs", untilMs);
    return { kind, opens, openedAtMs: openedAtMs as number, untilMs: untilMs as number };
  }
  need(kind === "half-open", ".kind", '"closed", "open" or "half-open"', kind);
  need(typeof s.probeInFlight === "boolean", ".probeInFlight", "a boolean", s.probeInFlight);
  return { kind, opens, probeInFlight: s.probeInFlight };
}

function need(ok: boolean, field: string, expected: string, got: unknown): asserts ok {
  if (!ok) throw new TypeError(`CircuitBreaker state${field} must be ${expected}; got ${describe(got)}`);
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isOutcome = (e: unknown): e is Outcome =>
  Array.isArray(e) && e.length === 2 && Number.isFinite(e[0]) && (e[1] === 0 || e[1] === 1);

/** A clock reading of NaN or Infinity would poison every later comparison and the snapshot. */
function assertTime(nowMs: number, method: string): void {
  if (!Number.isFinite(nowMs))
    throw new RangeError(`CircuitBreaker.${method}: nowMs must be a finite number; got ${describe(nowMs)}`);
}
