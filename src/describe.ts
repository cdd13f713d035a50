/**
 * How error messages show a value that was seen: short, never the whole of a hostile 10 KB string, never
 * `[object Object]`. Shared by option validation, hint reading and breaker-state restoring. A string is cut
 * to `max` characters (URLs are quoted longer, 100).
 */
export function describe(value: unknown, max = 40): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}
