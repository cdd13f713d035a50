/**
 * The one place that reads time, sets timers and draws randomness.
 *
 * Everything else receives a {@link Clock} and a {@link Random} and so runs unchanged on the real clock, on
 * the {@link VirtualClock} in tests, and inside the storm simulator.
 */

/** Opaque handle returned by {@link Clock.setTimeout}; pass it to {@link Clock.clearTimeout} only. */
export type TimerHandle =
  | {
      /** A brand that keeps other values from passing for a handle; never read. */
      readonly __timer: unique symbol;
    }
  | number
  | object;

/** Time and timers, injected. */
export interface Clock {
  /** Milliseconds since an arbitrary epoch (wall clock for the real clock). */
  now(): number;
  /** Calls `callback` once, `delayMs` milliseconds from now; returns the handle that cancels it. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer not yet fired; a handle already fired or cleared is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The longest delay a platform timer takes: browsers and Node turn anything above it into ~0 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A source of uniform draws in [0, 1), injected. */
export type Random = () => number;

/** The real clock: `Date.now` and the platform's timers (browser and Node alike). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs) as unknown as TimerHandle,
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

/** The real randomness: `Math.random`, drawn at call time (never once at import time). */
export const systemRandom: Random = () => Math.random();

let idCount = 0;

/**
 * An identifier unique to this call — for telling instances apart (the tabs of a {@link SharedSocket}), never
 * for policy: an injected {@link Random} that repeats (tests pass `() => 0.5`) must not make two tabs one.
 * `crypto.randomUUID` where there is one (secure contexts), else `crypto.getRandomValues`, else a counter with
 * the time and `Math.random` (unique within this realm, very likely across realms).
 */
export function newId(): string {
  const crypto = (globalThis as { crypto?: Partial<Crypto> }).crypto;
  if (typeof crypto?.randomUUID === "function") return crypto.randomUUID();
  if (typeof crypto?.getRandomValues === "function")
    return Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join("-");
  idCount++;
  return `${Date.now().toString(36)}-${idCount.toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * A deterministic pseudo-random source (mulberry32). Same seed, same sequence — for tests and simulations.
 * @see https://gist.github.com/tommyettinger/46a874533244883189143505d203312c
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** More timers than this in one `advance` is a loop, not a schedule. */
const MAX_TIMERS_PER_ADVANCE = 1_000_000;

interface VirtualTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to. Timers fire in time order (ties in creation order) as
 * {@link VirtualClock.advance} passes them. Used by the unit tests and the storm simulator.
 */
export class VirtualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, VirtualTimer>();

  constructor(startMs = 0) {
    this.current = startMs;
  }

  /** The virtual time in ms: where the clock was started, plus every advance since. */
  now(): number {
    return this.current;
  }

  /** Schedules `callback` at now + `delayMs` (a negative or non-finite delay counts as 0); runs on an advance. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.current + delay, callback });
    return id;
  }

  /** Cancels a pending timer; other handles are ignored. */
  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === "number") this.timers.delete(handle);
  }

  /** Number of timers scheduled and not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Time at which the earliest pending timer fires, or `undefined`. */
  nextTimerAt(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.timers.values())
      if (earliest === undefined || timer.at < earliest) earliest = timer.at;
    return earliest;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (including ones they set). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let fired = 0; ; fired++) {
      const next = this.earliest();
      if (next === undefined || next.at > target) break;
      // A timer that keeps re-arming itself at 0 ms would never let time pass: fail loudly instead of hanging.
      if (fired >= MAX_TIMERS_PER_ADVANCE) {
        throw new Error(`VirtualClock.advance: over ${MAX_TIMERS_PER_ADVANCE} timers fired; a timer loop?`);
      }
      this.timers.delete(next.id);
      this.current = Math.max(this.current, next.at);
      next.callback();
    }
    this.current = target;
  }

  /**
   * Moves time forward by `ms` without firing anything: a machine waking from sleep, whose overdue timers
   * then fire late, on the next {@link VirtualClock.advance} or {@link VirtualClock.runNext}.
   */
  jump(ms: number): void {
    this.current += Math.max(0, ms);
  }

  /** Fires the earliest pending timer (moving time to it); false when none is pending. */
  runNext(): boolean {
    const next = this.earliest();
    if (next === undefined) return false;
    this.timers.delete(next.id);
    this.current = Math.max(this.current, next.at);
    next.callback();
    return true;
  }

  private earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const timer of this.timers.values()) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.id < best.id))
        best = timer;
    }
    return best;
  }
}
