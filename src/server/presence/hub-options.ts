/** Options of {@link PresenceHub}, their defaults, and the one place they are checked. */
import { type Clock, type Random, systemClock, systemRandom } from "../../env.js";
import { HUB_LIMITS, type PresenceLimits, resolveLimits } from "../../presence/protocol.js";
import { type AnySlice, SliceRegistry } from "../../presence/slices.js";
import { InMemoryRosterStore, type RosterStore } from "./store.js";

/** One client connection as the hub sees it; adapters wrap a `ws` socket or a Socket.IO socket in it. */
export interface PresenceConnection {
  /** Identifies the connection in logs and to `authorize`. */
  readonly id: string;
  /** Sends presence protocol text to this client. May throw when the socket is closing (ignored). */
  send(text: string): void;
}

/** What a client asks for in a sync, for {@link PresenceHubOptions.authorize}. */
export interface SyncRequest {
  readonly space: string;
  readonly member: string;
}

export interface PresenceHubOptions {
  /** Where rosters live. Default: a new {@link InMemoryRosterStore}. */
  store?: RosterStore;
  /** Custom slices the hub accepts (the built-ins always are); others are counted and dropped. */
  slices?: readonly AnySlice[];
  /**
   * How long a member whose connection dropped stays in the roster before others see it leave (ms). A
   * member back within it (same member id) is seen by nobody as having left. Default 30 000 — longer than
   * the client's usual backoff cap, so a reconnect storm does not become a presence storm. 0 = leave at once.
   */
  graceMs?: number;
  /** Broadcasts to a space are batched over this long (ms): one diff message per member per batch. Default 50. */
  batchMs?: number;
  /** Most spaces one connection may be in. Default 16. */
  maxSpacesPerConnection?: number;
  /** Limits on what clients send. */
  limits?: Partial<PresenceLimits>;
  /**
   * Decides whether `connection` may be `member` in `space` (e.g. against its session). Default: everyone.
   * A refusal answers `{"$presence":"refused","space":…,"reason":"unauthorized"}`.
   */
  authorize?: (connection: PresenceConnection, request: SyncRequest) => boolean;
  /** Timers (grace periods, batches). Default: the system clock. */
  clock?: Clock;
  /** Randomness for the default store's epochs. Default `Math.random`. */
  random?: Random;
}

export interface ResolvedHubOptions {
  readonly store: RosterStore;
  readonly registry: SliceRegistry;
  readonly graceMs: number;
  readonly batchMs: number;
  readonly maxSpacesPerConnection: number;
  readonly limits: PresenceLimits;
  readonly authorize: ((connection: PresenceConnection, request: SyncRequest) => boolean) | undefined;
  readonly clock: Clock;
}

function nonNegative(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`PresenceHub: ${name} must be a finite number >= 0; got ${String(value)}`);
  }
  return value;
}

/**
 * Normalises the options.
 * @throws RangeError naming the option (`graceMs`, `batchMs`, `maxSpacesPerConnection`, `limits.*`);
 * TypeError when `options`, `store`, `slices`, `authorize`, `clock` or `random` has the wrong type.
 */
export function resolveHubOptions(options: PresenceHubOptions = {}): ResolvedHubOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`PresenceHub: options must be an object; got ${String(options)}`);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.setTimeout !== "function" || typeof clock.clearTimeout !== "function") {
    throw new TypeError("PresenceHub: clock must have now(), setTimeout() and clearTimeout()");
  }
  const random = options.random ?? systemRandom;
  if (typeof random !== "function") throw new TypeError("PresenceHub: random must be a function");
  const store = options.store ?? new InMemoryRosterStore({ random });
  if (store === null || typeof store !== "object" || typeof store.apply !== "function") {
    throw new TypeError("PresenceHub: store must implement RosterStore");
  }
  if (options.authorize !== undefined && typeof options.authorize !== "function") {
    throw new TypeError(`PresenceHub: authorize must be a function; got ${typeof options.authorize}`);
  }
  const maxSpaces = options.maxSpacesPerConnection ?? 16;
  if (!Number.isInteger(maxSpaces) || maxSpaces < 1) {
    throw new RangeError(
      `PresenceHub: maxSpacesPerConnection must be an integer >= 1; got ${String(maxSpaces)}`,
    );
  }
  return {
    store,
    registry: new SliceRegistry(options.slices ?? []),
    graceMs: nonNegative("graceMs", options.graceMs, 30_000),
    batchMs: nonNegative("batchMs", options.batchMs, 50),
    maxSpacesPerConnection: maxSpaces,
    limits: resolveLimits(HUB_LIMITS, options.limits),
    authorize: options.authorize,
    clock,
  };
}
