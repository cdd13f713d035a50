/**
 * Backoff strategies: pure functions from (attempt, previous delay, one uniform draw) to the next delay.
 *
 * Every strategy bounds the *range* its draw comes from by the cap instead of clamping the sample, so a
 * population parked at the cap stays spread out. Measured by `npm run bench:backoff` at attempt 20: the AWS
 * formula `min(cap, random(base, prev * 3))` puts 21 % of its draws exactly on the cap, and
 * socket.io-client's `min(ms, max)` after jitter puts 100 % there from attempt 5 on — every parked client
 * then retries on the same 5 s beat.
 *
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ (Marc Brooker, 2015)
 * @see https://github.com/connor4312/cockatiel/tree/master/src/backoff (pure (state) → delay shape)
 */

import { badOption, functionOption, numberOption, objectOption, rejectUnknown } from "../options-check.js";
import { uniformDraw } from "./draw.js";

/** What a strategy needs to know to draw the next delay. */
export interface BackoffInput {
  /** 1 for the first retry after a success (or the start), 2 for the next, … */
  readonly attempt: number;
  /** The delay this strategy returned last time, or 0 before the first retry. */
  readonly previousDelayMs: number;
  /** A uniform draw in [0, 1). */
  readonly random: number;
}

/** A backoff strategy: a name (for stats and the storm lab), its bounds, and a pure delay function. */
export interface BackoffStrategy {
  /** The strategy's name, e.g. `"decorrelated-jitter"` (shown in stats and the storm lab's tables). */
  readonly name: string;
  /** Smallest delay the strategy can return. */
  readonly minMs: number;
  /** Largest delay the strategy can return. */
  readonly capMs: number;
  /** The next delay in milliseconds; always finite and within [minMs, capMs]. */
  next(input: BackoffInput): number;
}

/** Options shared by the built-in strategies. */
export interface BackoffOptions {
  /** Base delay in ms (the first retry's scale). */
  baseMs?: number;
  /** Upper bound of the range any draw comes from, in ms. */
  capMs?: number;
}

/**
 * Defaults, chosen from two requirements:
 * - A lone client whose server blips is back fast: with base 250 ms the first decorrelated draw is uniform
 *   in [250, 750] ms, median 500 ms (socket.io-client's median first retry is 1 s).
 * - A population parked at the cap stays below what a server can cheaply refuse. At the cap the
 *   decorrelated chain keeps drawing from [base, min(cap, 3 × previous)]; its mean delay at attempt 30 is
 *   ≈ 0.25 × cap (measured by `npm run bench:backoff`), so with a 120 s cap 100,000 parked clients offer
 *   ≈ 3,300 attempts/s, spread evenly — refusals one Node process answers with a cached close frame or 503. The incident's 30 s cap
 *   with socket.io-client's clamp offered the whole population inside a few seconds at every restart.
 *   The 120 s cap is gRPC's connection-backoff maximum, chosen there for the same reason; servers that want
 *   clients back sooner say so with hints.
 * @see https://github.com/grpc/grpc/blob/master/doc/connection-backoff.md
 * @see ../../README.md#backoff (the measured distribution per attempt, `npm run bench:backoff`)
 */
export const DEFAULT_BASE_MS = 250;
/** The default cap of every backoff strategy (ms): 120 s, see {@link DEFAULT_BASE_MS} for why. */
export const DEFAULT_CAP_MS = 120_000;

/** Keeps exponents small enough that `base * 2 ** n` never overflows to Infinity (2 ** 1023 is finite). */
const MAX_EXPONENT = 1000;

const KEYS = ["baseMs", "capMs"];

function resolve(options: BackoffOptions | undefined, strategy: string): { baseMs: number; capMs: number } {
  if (options !== undefined) rejectUnknown(strategy, objectOption(strategy, "options", options), KEYS);
  const baseMs = numberOption(strategy, "baseMs", options?.baseMs, DEFAULT_BASE_MS, { exclusiveMin: true });
  const capMs = numberOption(strategy, "capMs", options?.capMs, DEFAULT_CAP_MS);
  if (capMs < baseMs) badOption(strategy, "capMs", `>= baseMs (${baseMs})`, capMs, true);
  return { baseMs, capMs };
}

function exponential(baseMs: number, capMs: number, attempt: number): number {
  const n = Number.isFinite(attempt) && attempt >= 1 ? Math.min(Math.floor(attempt) - 1, MAX_EXPONENT) : 0;
  return Math.min(capMs, baseMs * 2 ** n);
}

/**
 * Decorrelated jitter (the default): uniform in [base, min(cap, 3 × previous)].
 * Grows ≈ 1.5× per attempt on average and stays random at the cap: once 3 × previous passes the cap the
 * draw is uniform over [base, cap], so a parked client's delays wander over the whole range (median at
 * attempt 30 ≈ 0.13 × cap, p99 ≈ 0.97 × cap) and equal the cap only with probability 0.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function decorrelatedJitter(options?: BackoffOptions): BackoffStrategy {
  const { baseMs, capMs } = resolve(options, "decorrelatedJitter");
  return {
    name: "decorrelated-jitter",
    minMs: baseMs,
    capMs,
    next({ previousDelayMs, random }) {
      const previous =
        Number.isFinite(previousDelayMs) && previousDelayMs > baseMs ? previousDelayMs : baseMs;
      const upper = Math.min(capMs, previous * 3);
      return baseMs + uniformDraw(random) * (upper - baseMs);
    },
  };
}

/** Options of {@link waveJitter}. */
export interface WaveJitterOptions extends BackoffOptions {
  /** Attempts drawn as compact waves (×2 each, ±50 %) before the spreading phase. Default 4. */
  compactAttempts?: number;
  /**
   * A compact wave whose nominal delay (base × 2^(attempt−1)) is below this ends at most here (ms): default
   * 5,000, socket.io-client's `reconnectionDelayMax`, so the waves in which socket.io-client is still growing
   * (1, 2, 4 s) are its own ranges with its clamp turned into a bound: [0.5, 1.5], [1, 3], [2, 5] s. Later
   * waves spread (socket.io-client parks there). 0: no wave is bounded (the third wave [2, 6] s).
   */
  compactMaxMs?: number;
}

/**
 * Wave jitter (the default): compact waves first, then a floor that grows with the attempt.
 * - Attempts 1 … `compactAttempts`: base × 2^(attempt−1) × a uniform factor in [0.5, 1.5] — socket.io-client's
 *   own shape, so a storm a server copes with comes back as fast as socket.io-client's (median first retry
 *   = base = 1 s: a lone client is back within about a second). A wave whose nominal delay is below
 *   `compactMaxMs` (5 s) ends there, as socket.io-client's does: the third wave is [2, 5] s, not [2, 6] s. A
 *   server back after a few seconds of refusals meets the crowd that was refused just before its return in
 *   the next wave, so its T99 is that wave's upper end (sweep, quick-restart at N / C = 2 s: 1.13 × →
 *   0.94 × socket.io-client's T99).
 * - Then uniform in [previous, 3 × previous]: the floor grows with every attempt and the spread widens ×3, so
 *   a big herd thins out below what a refusing server can absorb instead of parking on a short cap (the
 *   incident's failure: socket.io-client's 5 s cap never recovers a 100k mass drop).
 * - The cap bounds the range, never the sample: at the cap the draw is uniform in [cap / 2, cap].
 * Chosen with the storm lab (`npm run bench:storm -- --sweep`, see docs/planner.md) over decorrelated jitter,
 * equal and full jitter and socket.io-client's formula with a 120 s cap: the only one of them within 1.1 ×
 * socket.io-client's T99 in small-storm and quick-restart that also keeps mass-drop under 2.3 × N/C.
 * @see https://github.com/socketio/socket.io-client/blob/main/lib/contrib/backo2.ts (the compact waves)
 */
export function waveJitter(options?: WaveJitterOptions): BackoffStrategy {
  const where = "waveJitter";
  if (options !== undefined)
    rejectUnknown(where, objectOption(where, "options", options), [
      ...KEYS,
      "compactAttempts",
      "compactMaxMs",
    ]);
  const { baseMs, capMs } = resolve(
    { baseMs: options?.baseMs ?? WAVE_BASE_MS, capMs: options?.capMs ?? DEFAULT_CAP_MS },
    where,
  );
  const compact = numberOption(where, "compactAttempts", options?.compactAttempts, 4, {
    min: 1,
    max: 30,
    integer: true,
  });
  const compactMaxMs = numberOption(where, "compactMaxMs", options?.compactMaxMs, WAVE_MAX_MS);
  return {
    name: "wave-jitter",
    minMs: Math.min(baseMs / 2, capMs / 2),
    capMs,
    next({ attempt, previousDelayMs, random }) {
      const u = uniformDraw(random);
      if (!(attempt > compact)) {
        const e = exponential(baseMs, capMs, attempt);
        const low = Math.min(e / 2, capMs / 2);
        // Bounded only while e < compactMaxMs, so never below the wave's floor e / 2.
        const high = Math.min(capMs, 1.5 * e, e < compactMaxMs ? compactMaxMs : capMs);
        return low + u * (high - low);
      }
      const previous =
        Number.isFinite(previousDelayMs) && previousDelayMs > baseMs ? previousDelayMs : baseMs;
      const upper = Math.min(capMs, previous * 3);
      const lower = Math.min(previous, capMs / 2);
      return lower + u * (upper - lower);
    },
  };
}

/** Base of {@link waveJitter}: socket.io-client's `reconnectionDelay`. */
export const WAVE_BASE_MS = 1000;
/** Default `compactMaxMs` of {@link waveJitter}: socket.io-client's `reconnectionDelayMax`. */
export const WAVE_MAX_MS = 5000;

/**
 * Full jitter: uniform in [0, min(cap, base × 2^(attempt−1))]. Lowest total work in Brooker's simulation,
 * but a retry may come almost at once.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function fullJitter(options?: BackoffOptions): BackoffStrategy {
  const { baseMs, capMs } = resolve(options, "fullJitter");
  return {
    name: "full-jitter",
    minMs: 0,
    capMs,
    next: ({ attempt, random }) => uniformDraw(random) * exponential(baseMs, capMs, attempt),
  };
}

/**
 * Equal jitter: half of the exponential delay fixed, half random — uniform in [e/2, e] with
 * e = min(cap, base × 2^(attempt−1)).
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function equalJitter(options?: BackoffOptions): BackoffStrategy {
  const { baseMs, capMs } = resolve(options, "equalJitter");
  return {
    name: "equal-jitter",
    minMs: baseMs / 2,
    capMs,
    next({ attempt, random }) {
      const e = exponential(baseMs, capMs, attempt);
      return e / 2 + uniformDraw(random) * (e / 2);
    },
  };
}

/**
 * Capped exponential backoff *without* jitter: base × 2^(attempt−1), at most cap. For comparison only —
 * every client that failed together retries together (lock-step). Never use it in production.
 */
export function exponentialNoJitter(options?: BackoffOptions): BackoffStrategy {
  const { baseMs, capMs } = resolve(options, "exponentialNoJitter");
  return {
    name: "exponential-no-jitter",
    minMs: baseMs,
    capMs,
    next: ({ attempt }) => exponential(baseMs, capMs, attempt),
  };
}

/** A user-supplied delay function, for {@link customBackoff}. */
export type BackoffFunction = (input: BackoffInput) => number;

/**
 * Wraps a user function. Its answer is bounded: a result above `capMs` becomes `capMs`, and a throw, a
 * non-number, a non-finite result or one below `minMs` is replaced by a decorrelated-jitter draw over the
 * same bounds — a buggy function can never turn retries into a tight loop or a crash.
 */
export function customBackoff(
  fn: BackoffFunction,
  options: { minMs?: number; capMs?: number; name?: string } = {},
): BackoffStrategy {
  const where = "customBackoff";
  functionOption(where, "fn", fn, 0);
  rejectUnknown(where, objectOption(where, "options", options), ["minMs", "capMs", "name"]);
  const minMs = numberOption(where, "minMs", options.minMs, DEFAULT_BASE_MS);
  const capMs = numberOption(where, "capMs", options.capMs, DEFAULT_CAP_MS);
  if (capMs < minMs) badOption(where, "capMs", `>= minMs (${minMs})`, capMs, true);
  const fallback = decorrelatedJitter({ baseMs: Math.max(minMs, 1), capMs: Math.max(capMs, minMs, 1) });
  return {
    name: options.name ?? "custom",
    minMs,
    capMs,
    next(input) {
      let value: unknown;
      try {
        value = fn(input);
      } catch {
        value = undefined;
      }
      if (typeof value !== "number" || !Number.isFinite(value) || value < minMs) {
        return Math.min(capMs, Math.max(minMs, fallback.next(input)));
      }
      return Math.min(value, capMs);
    },
  };
}
