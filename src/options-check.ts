/**
 * The one style of option checking, for every public constructor and factory: a misconfiguration throws
 * at once, naming where, the option, the rule and the value seen —
 * `<Where>: <option> must be <rule>; got <value>` (a TypeError for a wrong type, a RangeError for a value
 * out of range) — and an unknown key reads `<Where>: unknown option "<key>" (did you mean "<closest>"?)`.
 * (ky's habit: options are normalised in one place; cockatiel's: the error names the option and the value.)
 */
import { describe } from "./describe.js";

/**
 * Throws `<where>: <option> must be <rule>; got <value>`: a `RangeError` when `range` (the type was right,
 * the value is not), else a `TypeError`.
 */
export function badOption(
  where: string,
  option: string,
  rule: string,
  value: unknown,
  range?: boolean,
): never {
  const message = `${where}: ${option} must be ${rule}; got ${describe(value)}`;
  throw range ? new RangeError(message) : new TypeError(message);
}

/**
 * Throws a TypeError for the first key of `input` that is not in `known`, suggesting the closest known one
 * (a typo such as `maxDelayMS` is the usual cause). `prefix` names a nested object (`"queue."`).
 */
export function rejectUnknown(where: string, input: object, known: readonly string[], prefix = ""): void {
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    // Quoted by describe(): a hostile 10 KB key is cut to 40 characters.
    throw new TypeError(
      `${where}: unknown option ${describe(prefix + key)}${near === undefined ? "" : ` (did you mean "${prefix}${near}"?)`}`,
    );
  }
}

/** `value` when it is a plain object (not null, not an array); else throws naming it. */
export function objectOption(where: string, option: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    badOption(where, option, "an object", value);
  return value as Record<string, unknown>;
}

/** Bounds of a number option. */
export interface NumberBounds {
  /** Lowest value allowed (default 0). */
  min?: number;
  /** Highest value allowed (default Infinity). */
  max?: number;
  /** Only integers. */
  integer?: boolean;
  /** `Infinity` allowed (as "no limit"). */
  allowInfinity?: boolean;
  /** `min` itself not allowed. */
  exclusiveMin?: boolean;
}

/** A number option: finite (or Infinity when allowed), within bounds; `fallback` when undefined. */
export function numberOption(
  where: string,
  option: string,
  value: unknown,
  fallback: number,
  bounds: NumberBounds = {},
): number {
  const { min = 0, max = Number.POSITIVE_INFINITY, integer, allowInfinity, exclusiveMin } = bounds;
  if (value === undefined) return fallback;
  const kind = integer ? "an integer" : allowInfinity ? "a number" : "a finite number";
  if (typeof value !== "number") badOption(where, option, kind, value);
  const okInfinity = allowInfinity && value === Number.POSITIVE_INFINITY;
  if (
    Number.isNaN(value) ||
    (!okInfinity && !Number.isFinite(value)) ||
    (exclusiveMin ? value <= min : value < min) ||
    value > max ||
    (integer && !okInfinity && !Number.isInteger(value))
  ) {
    const top = max < Number.POSITIVE_INFINITY ? ` and <= ${max}` : "";
    badOption(where, option, `${kind} ${exclusiveMin ? ">" : ">="} ${min}${top}`, value, true);
  }
  return value;
}

/** A boolean option; `fallback` when undefined. */
export function booleanOption(where: string, option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") badOption(where, option, "a boolean", value);
  return value;
}

/** A function option; `fallback` when undefined. */
export function functionOption<T>(where: string, option: string, value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== "function") badOption(where, option, "a function", value);
  return value as T;
}

/** The known key nearest to `key` (case aside, at most a third of its letters edited), if one is near. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  // Bounded work: a key longer than 64 characters (a hostile one) is near nothing.
  if (key.length > 64) return undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let row = [...Array(b.length + 1).keys()];
  for (let i = 0; i < a.length; i++) {
    const next = [i + 1];
    for (let j = 0; j < b.length; j++)
      next.push(
        Math.min((row[j + 1] as number) + 1, (next[j] as number) + 1, (row[j] as number) + +(a[i] !== b[j])),
      );
    row = next;
  }
  return row[b.length] as number;
}
