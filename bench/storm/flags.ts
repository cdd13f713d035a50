/**
 * Flag checks shared by the storm lab's command lines: a bad flag is a {@link UsageError} naming it.
 */

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface NumberRule {
  integer?: boolean;
  min: number;
  /** min itself is not allowed */
  exclusive?: boolean;
  max?: number;
}

export function numberFlag(flag: string, raw: string | undefined, rule: NumberRule): number | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim() === "" ? Number.NaN : Number(raw);
  const { integer = false, min, exclusive = false, max = Number.POSITIVE_INFINITY } = rule;
  const ok =
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (exclusive ? value > min : value >= min) &&
    value <= max;
  if (!ok) {
    const range = `${exclusive ? ">" : ">="} ${min}${max < Number.POSITIVE_INFINITY ? ` and <= ${max}` : ""}`;
    throw new UsageError(`--${flag} must be ${integer ? "an integer" : "a number"} ${range}; got "${raw}"`);
  }
  return value;
}
