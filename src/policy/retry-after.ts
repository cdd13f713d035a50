/**
 * The HTTP `Retry-After` header: delay-seconds or an HTTP-date, turned into a delay in milliseconds.
 *
 * Pure: the current time comes in as `nowMs`. Malformed input gives `undefined` so normal backoff takes
 * over; nothing is clamped here (the caller applies its ceiling, see `boundHint` in `./hints.ts`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3 (Retry-After)
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7 (Date/Time Formats)
 * @see https://github.com/sindresorhus/ky (idea source: one small module, malformed → undefined, caller caps)
 */

/** Longer values are refused unread: every valid form fits in 29 characters plus whitespace. */
const MAX_LENGTH = 128;

/** 400 Gregorian years are exactly 146,097 days (of 86,400,000 ms), so shifting by them keeps month, day and weekday. */
const GREGORIAN_CYCLE_MS = 12_622_780_800_000;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

// RFC 9110 §5.6.7: HTTP-date is case-sensitive and uses single spaces, so the patterns are exact. They are
// written out as literals (day names, then MONTHS, then hh:mm:ss): patterns built at load time would be code
// that bundlers keep in every bundle importing this module's chunk, used or not.
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** `Sun Nov  6 08:49:37 1994` — the day is two digits or a space and one digit. */
const ASCTIME_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ((?:\d| )\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

const DELAY_SECONDS = /^\d+$/;
/** Optional whitespace around a field value is SP / HTAB only (RFC 9110 §5.5), not every Unicode space. */
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * The delay in milliseconds that a `Retry-After` value asks for, or `undefined` when it is malformed.
 *
 * - delay-seconds (`1*DIGIT`): seconds × 1000. No sign, decimals, exponent or hex. Huge values are returned
 *   as they are (finite), for the caller to cap.
 * - HTTP-date in the three forms recipients must accept: IMF-fixdate, obsolete RFC 850 (a two-digit year
 *   more than 50 years ahead of `nowMs` is taken from the previous century) and asctime (read as GMT).
 *   The delay is the date minus `nowMs`, or 0 when the date has passed. The weekday name must be a valid
 *   name but need not match the date. Second 60 (leap second) is refused.
 * - A non-string, a value over 128 characters, or a date with a non-finite `nowMs` gives `undefined`.
 *
 * Dates are parsed here rather than with `Date.parse`, which accepts far more than HTTP-date and reads
 * asctime in the local time zone.
 *
 * @param value The header value as received (`Headers.get` returns `null` when absent).
 * @param nowMs The current time in milliseconds since the Unix epoch.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 * @see https://github.com/sindresorhus/ky
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (typeof value !== "string" || value.length > MAX_LENGTH) return undefined;
  const text = value.replace(OWS, "");
  if (DELAY_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
  if (!Number.isFinite(nowMs)) return undefined;
  const dateMs = parseHttpDate(text, nowMs);
  // A clock outside the Date range (|nowMs| > 8.64e15) makes the year NaN; never return NaN.
  if (dateMs === undefined || !Number.isFinite(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}

/** Milliseconds since the epoch for an HTTP-date in any of its three forms, or `undefined`. */
function parseHttpDate(text: string, nowMs: number): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    const [, day, month, year, hour, minute, second] = match;
    return toTimestamp(Number(year), month, day, hour, minute, second);
  }
  match = RFC850_DATE.exec(text);
  if (match) {
    const [, day, month, year, hour, minute, second] = match;
    return toTimestamp(expandTwoDigitYear(Number(year), nowMs), month, day, hour, minute, second);
  }
  match = ASCTIME_DATE.exec(text);
  if (match) {
    const [, month, day, hour, minute, second, year] = match;
    return toTimestamp(Number(year), month, day, hour, minute, second);
  }
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year that appears to be more than 50 years in the future means the most
 * recent past year with the same last two digits. The result is at most 49 years back, 50 years ahead.
 */
function expandTwoDigitYear(twoDigits: number, nowMs: number): number {
  const currentYear = new Date(nowMs).getUTCFullYear();
  const candidate = currentYear + ((((twoDigits - currentYear) % 100) + 100) % 100);
  return candidate > currentYear + 50 ? candidate - 100 : candidate;
}

function toTimestamp(
  year: number,
  monthName: string | undefined,
  dayText: string | undefined,
  hourText: string | undefined,
  minuteText: string | undefined,
  secondText: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf(monthName as (typeof MONTHS)[number]);
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText);
  if (month < 0 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  // Date.UTC maps years 0–99 to 1900–1999, so build such dates 400 years later and shift back.
  if (year < 100) return Date.UTC(year + 400, month, day, hour, minute, second) - GREGORIAN_CYCLE_MS;
  return Date.UTC(year, month, day, hour, minute, second);
}

function daysInMonth(year: number, month: number): number {
  if (month === 1) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 3 || month === 5 || month === 8 || month === 10 ? 30 : 31;
}
