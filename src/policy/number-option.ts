/**
 * The one check every number option goes through: finite (or Infinity when allowed), within bounds, an
 * integer when asked. Misconfiguration throws a TypeError or RangeError whose message names the option and
 * the value seen.
 */
import { describe } from "../describe.js";

/** Bounds of a number option. */
export interface NumberBounds {
  min?: number;
  max?: number;
  integer?: boolean;
  allowInfinity?: boolean;
  exclusiveMin?: boolean;
}

/** A number option: finite (or Infinity when allowed), within [min, max]; `fallback` when undefined. */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number,
  bounds: NumberBounds = {},
): number {
  const {
    min = 0,
    max = Number.POSITIVE_INFINITY,
    integer = false,
    allowInfinity = false,
    exclusiveMin = false,
  } = bounds;
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw new TypeError(`${name} must be a number; got ${describe(value)}`);
  const okInfinity = allowInfinity && value === Number.POSITIVE_INFINITY;
  if (
    Number.isNaN(value) ||
    (!okInfinity && !Number.isFinite(value)) ||
    (exclusiveMin ? value <= min : value < min) ||
    value > max ||
    (integer && !okInfinity && !Number.isInteger(value))
  ) {
    const range = `${exclusiveMin ? `> ${min}` : `>= ${min}`}${max < Number.POSITIVE_INFINITY ? ` and <= ${max}` : ""}`;
    throw new RangeError(
      `${name} must be ${integer ? "an integer" : "a number"} ${range}; got ${describe(value)}`,
    );
  }
  return value;
}
