/**
 * Guards for JSON that came from the other side: byte length without allocating, and a bounded walk that
 * finds keys able to reach a prototype. `JSON.parse` itself only creates own properties (a `"__proto__"`
 * key does not change the prototype), but any later `target[key] = value` copy would; rejecting the keys
 * at the edge means no code path further in has to remember that.
 * @see https://github.com/HoLyVieR/prototype-pollution-nsec18
 */

/** Keys refused at any depth of any presence message. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** UTF-8 length of a string, counted without encoding it (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** What {@link inspectJson} found wrong, or `undefined` when the value is plain JSON data. */
export type JsonProblem = "forbidden-key" | "too-deep" | "not-json";

/**
 * Walks a value as JSON data: plain objects (prototype `Object.prototype` or `null`), arrays, strings,
 * finite numbers, booleans and null. Reports the first forbidden key, a nesting deeper than `maxDepth`,
 * or anything JSON cannot carry (functions, class instances, NaN, undefined inside arrays).
 */
export function inspectJson(value: unknown, maxDepth: number, depth = 0): JsonProblem | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "not-json";
  if (typeof value !== "object") return "not-json";
  if (depth >= maxDepth) return "too-deep";
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = inspectJson(item, maxDepth, depth + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return "not-json";
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return "forbidden-key";
    const problem = inspectJson((value as Record<string, unknown>)[key], maxDepth, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** True for a plain (JSON-like) object that is not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Own key lookup that never reads through the prototype chain. */
export function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Characters refused in every string of a slice value (and in its keys): bidi embeddings, overrides and
 * isolates (U+202A–202E, U+2066–2069), the marks U+200E, U+200F and U+061C, the line and paragraph
 * separators U+2028/2029, and lone surrogates. They let one member's text reorder or break the line of what
 * a page shows next to it (CVE-2021-42574, "Trojan Source"), and a lone surrogate is not text at all.
 * @see https://trojansource.codes/
 */
export const UNSAFE_TEXT =
  /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C\u2028\u2029]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when a string anywhere in `value` (keys included) has a character of {@link UNSAFE_TEXT}. */
export function hasUnsafeText(value: unknown): boolean {
  if (typeof value === "string") return UNSAFE_TEXT.test(value);
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some(hasUnsafeText);
  for (const [key, item] of Object.entries(value))
    if (UNSAFE_TEXT.test(key) || hasUnsafeText(item)) return true;
  return false;
}
