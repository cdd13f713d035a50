/** Options of {@link Presence}, their defaults, and the one place they are checked. */
import type { Clock, Random } from "../env.js";
import { systemClock, systemRandom } from "../env.js";
import {
  badOption,
  booleanOption,
  functionOption,
  numberOption,
  objectOption,
  rejectUnknown,
} from "../options-check.js";
import { CLIENT_LIMITS, type PresenceLimits, resolveLimits } from "../protocol/presence/messages.js";
import { type AnySlice, isId, type PresenceState, SliceRegistry } from "../protocol/presence/slices.js";

/**
 * Options of {@link Presence} and `SharedPresence`: `space` is required, every other one has a default.
 * @typeParam D - the custom slices, as given in `slices`.
 */
export interface PresenceOptions<D extends readonly AnySlice[] = readonly []> {
  /** The space (roster) to join: an id of 1–128 letters, digits and `_ . : @ / -`. */
  space: string;
  /**
   * This member's id, stable across reconnects (the server recognises a reconnect within its grace period
   * by it). Default: a random id drawn once per Presence.
   */
  member?: string;
  /** Custom slices (from `defineSlice`), besides the built-in `room`, `emoji` and `layout`. */
  slices?: D;
  /** Own state to start with. */
  initial?: PresenceState<D>;
  /**
   * Most `update` messages sent per second while connected; changes in between are coalesced and the last
   * value of each slice wins. Default 10.
   */
  maxUpdatesPerSecond?: number;
  /** Diffs that arrive before the sync answer are held, at most this many (beyond: sync again). Default 256. */
  maxHeldDiffs?: number;
  /** Largest own state, UTF-8 bytes of its JSON (the sync must fit the server's message limit). Default 32 KiB. */
  maxStateBytes?: number;
  /**
   * Most other members kept in the roster; joins past it are left out and counted (`stats().overflow`), so
   * a hostile server cannot grow the page's memory without bound. Default 10 000.
   */
  maxMembers?: number;
  /** Most bytes of member state (UTF-8 JSON) kept in the roster, like `maxMembers`. Default 8 MiB. */
  maxRosterBytes?: number;
  /** Send `leave` when detached while connected (else the server's grace period runs out). Default true. */
  leaveOnDetach?: boolean;
  /** Limits on what the server may send. */
  limits?: Partial<PresenceLimits>;
  /** Timers for coalescing. Default: the system clock. */
  clock?: Clock;
  /** Randomness for the default member id. Default: `Math.random`. */
  random?: Random;
}

/** Default bound on the roster's members (see {@link PresenceOptions.maxMembers}). */
export const DEFAULT_MAX_MEMBERS = 10_000;
/** Default bound on the roster's state bytes (see {@link PresenceOptions.maxRosterBytes}). */
export const DEFAULT_MAX_ROSTER_BYTES = 8 * 1_024 * 1_024;

export interface ResolvedPresenceOptions {
  readonly space: string;
  readonly member: string;
  readonly registry: SliceRegistry;
  readonly intervalMs: number;
  readonly maxHeldDiffs: number;
  readonly maxStateBytes: number;
  readonly maxMembers: number;
  readonly maxRosterBytes: number;
  readonly leaveOnDetach: boolean;
  readonly limits: PresenceLimits;
  readonly clock: Clock;
}

const WHERE = "Presence";
const PRESENCE_KEYS = [
  "space",
  "member",
  "slices",
  "initial",
  "maxUpdatesPerSecond",
  "maxHeldDiffs",
  "maxStateBytes",
  "maxMembers",
  "maxRosterBytes",
  "leaveOnDetach",
  "limits",
  "clock",
  "random",
];
const ID_RULE = "1-128 of A-Z a-z 0-9 _ . : @ / -";

function positiveInteger(name: string, value: unknown, fallback: number): number {
  return numberOption(WHERE, name, value, fallback, { min: 1, integer: true });
}

/** A random member id: 'm-' and about 52 bits in base 36. */
function randomMember(random: Random): string {
  const part = () => Math.floor(random() * 2 ** 26).toString(36);
  return `m-${part()}${part()}`;
}

/**
 * Normalises the options.
 * @throws TypeError when `options`, `slices`, `clock` or `random` has the wrong type; RangeError naming the
 * option when `space`, `member`, `maxUpdatesPerSecond`, `maxHeldDiffs`, `maxStateBytes`, `maxMembers`,
 * `maxRosterBytes` or a limit is out
 * of range.
 */
export function resolvePresenceOptions(
  options: PresenceOptions<readonly AnySlice[]>,
): ResolvedPresenceOptions {
  rejectUnknown(WHERE, objectOption(WHERE, "options", options), PRESENCE_KEYS);
  if (!isId(options.space)) badOption(WHERE, "space", ID_RULE, options.space, true);
  const clock = options.clock ?? systemClock;
  if (typeof clock?.setTimeout !== "function" || typeof clock.clearTimeout !== "function")
    badOption(WHERE, "clock", "an object with now(), setTimeout() and clearTimeout()", clock);
  const random = functionOption(WHERE, "random", options.random, systemRandom);
  const member = options.member ?? randomMember(random);
  if (!isId(member)) badOption(WHERE, "member", ID_RULE, member, true);
  const leaveOnDetach = booleanOption(WHERE, "leaveOnDetach", options.leaveOnDetach, true);
  const rate = numberOption(WHERE, "maxUpdatesPerSecond", options.maxUpdatesPerSecond, 10, {
    exclusiveMin: true,
  });
  return {
    space: options.space,
    member,
    registry: new SliceRegistry(options.slices ?? [], undefined, WHERE),
    intervalMs: 1_000 / rate,
    maxHeldDiffs: positiveInteger("maxHeldDiffs", options.maxHeldDiffs, 256),
    maxStateBytes: positiveInteger("maxStateBytes", options.maxStateBytes, 32 * 1_024),
    maxMembers: positiveInteger("maxMembers", options.maxMembers, DEFAULT_MAX_MEMBERS),
    maxRosterBytes: positiveInteger("maxRosterBytes", options.maxRosterBytes, DEFAULT_MAX_ROSTER_BYTES),
    leaveOnDetach,
    limits: resolveLimits(CLIENT_LIMITS, options.limits, WHERE),
    clock,
  };
}
