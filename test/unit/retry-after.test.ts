import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "../../src/policy/retry-after.js";

/** 37 seconds before the RFC's example date, Sun, 06 Nov 1994 08:49:37 GMT. */
const NOW = Date.UTC(1994, 10, 6, 8, 49, 0);
/** A clock in 2026, for the two-digit-year pivot. */
const NOW_2026 = Date.UTC(2026, 0, 1);

describe("parseRetryAfter: delay-seconds", () => {
  it("turns delay-seconds into milliseconds", () => {
    expect(parseRetryAfter("120", NOW)).toBe(120_000);
  });

  it("accepts zero seconds", () => {
    expect(parseRetryAfter("0", NOW)).toBe(0);
  });

  it("ignores surrounding spaces and tabs", () => {
    expect(parseRetryAfter(" \t30\t ", NOW)).toBe(30_000);
  });

  it("accepts leading zeros", () => {
    expect(parseRetryAfter("007", NOW)).toBe(7_000);
  });

  it("returns huge delays unclamped for the caller to cap", () => {
    expect(parseRetryAfter("100000000000000000000", NOW)).toBe(1e23);
  });

  it("returns a finite number for the longest digit string it accepts", () => {
    const result = parseRetryAfter("9".repeat(128), NOW);
    expect(result).toBeDefined();
    expect(Number.isFinite(result)).toBe(true);
  });

  it("does not need a valid clock to read delay-seconds", () => {
    expect(parseRetryAfter("5", Number.NaN)).toBe(5_000);
  });

  it.each([
    ["a negative number", "-1"],
    ["a leading plus sign", "+1"],
    ["a decimal", "1.5"],
    ["NaN", "NaN"],
    ["Infinity", "Infinity"],
    ["an exponent", "1e3"],
    ["hex", "0x10"],
    ["an empty string", ""],
    ["only whitespace", "  "],
    ["trailing letters", "12abc"],
    ["digits separated by a space", "1 2"],
    ["non-ASCII digits", "١٢"],
    ["a non-breaking space around digits", "\u00a030"],
  ])("refuses %s", (_, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});

describe("parseRetryAfter: HTTP-date", () => {
  it("reads IMF-fixdate", () => {
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", NOW)).toBe(37_000);
  });

  it("reads the obsolete RFC 850 form", () => {
    expect(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", NOW)).toBe(37_000);
  });

  it("reads asctime with a space-padded day as GMT", () => {
    expect(parseRetryAfter("Sun Nov  6 08:49:37 1994", NOW)).toBe(37_000);
  });

  it("reads asctime with a two-digit day", () => {
    expect(parseRetryAfter("Thu Nov 10 08:49:37 1994", NOW)).toBe(4 * 86_400_000 + 37_000);
  });

  it("gives zero for a date in the past", () => {
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:48:00 GMT", NOW)).toBe(0);
  });

  it("gives zero for a date equal to now", () => {
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", NOW)).toBe(0);
  });

  it("tolerates a weekday name that does not match the date", () => {
    expect(parseRetryAfter("Mon, 06 Nov 1994 08:49:37 GMT", NOW)).toBe(37_000);
  });

  it("accepts 29 February in a leap year", () => {
    const now = Date.UTC(2024, 1, 29);
    expect(parseRetryAfter("Thu, 29 Feb 2024 00:01:00 GMT", now)).toBe(60_000);
  });

  it("reads a year below 100 literally rather than as 19xx", () => {
    const year50 = new Date(0).setUTCFullYear(50, 0, 1);
    expect(parseRetryAfter("Thu, 01 Jan 0050 00:00:00 GMT", year50 - 1_000)).toBe(1_000);
  });

  it("reads a two-digit year up to 50 years ahead as this century", () => {
    const expected = Date.UTC(2076, 0, 1) - NOW_2026;
    expect(parseRetryAfter("Wednesday, 01-Jan-76 00:00:00 GMT", NOW_2026)).toBe(expected);
  });

  it("reads a two-digit year more than 50 years ahead as the previous century", () => {
    // 2077 would be 51 years ahead, so 77 means 1977: in the past.
    expect(parseRetryAfter("Saturday, 01-Jan-77 00:00:00 GMT", NOW_2026)).toBe(0);
  });

  it("reads a two-digit year as the next century when that is under 50 years ahead", () => {
    const now = Date.UTC(2090, 0, 1);
    expect(parseRetryAfter("Friday, 01-Jan-10 00:00:00 GMT", now)).toBe(Date.UTC(2110, 0, 1) - now);
  });

  it("refuses a date when the clock is not a finite number", () => {
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", Number.NaN)).toBeUndefined();
  });

  it("refuses a date when the clock is outside the range of Date", () => {
    expect(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", 1e300)).toBeUndefined();
  });

  it.each([
    ["30 February", "Fri, 30 Feb 1994 08:49:37 GMT"],
    ["29 February in a common year", "Tue, 29 Feb 1900 00:00:00 GMT"],
    ["31 April", "Sat, 31 Apr 1994 08:49:37 GMT"],
    ["day 0", "Sun, 00 Nov 1994 08:49:37 GMT"],
    ["day 32", "Sun, 32 Dec 1994 08:49:37 GMT"],
    ["hour 24", "Sun, 06 Nov 1994 24:00:00 GMT"],
    ["minute 60", "Sun, 06 Nov 1994 08:60:00 GMT"],
    ["second 60", "Sun, 06 Nov 1994 08:49:60 GMT"],
    ["an unknown month", "Sun, 06 Foo 1994 08:49:37 GMT"],
    ["a lower-case month", "Sun, 06 nov 1994 08:49:37 GMT"],
    ["an unknown weekday", "Xyz, 06 Nov 1994 08:49:37 GMT"],
    ["a zone other than GMT", "Sun, 06 Nov 1994 08:49:37 UTC"],
    ["a numeric offset", "Sun, 06 Nov 1994 08:49:37 +0000"],
    ["a one-digit day in IMF-fixdate", "Sun, 6 Nov 1994 08:49:37 GMT"],
    ["a two-digit year in IMF-fixdate", "Sun, 06 Nov 94 08:49:37 GMT"],
    ["a short weekday in the RFC 850 form", "Sun, 06-Nov-94 08:49:37 GMT"],
    ["a four-digit year in the RFC 850 form", "Sunday, 06-Nov-1994 08:49:37 GMT"],
    ["a zero-padded day without the space in asctime", "Sun Nov 6 08:49:37 1994"],
    ["an ISO 8601 date", "1994-11-06T08:49:37Z"],
    ["a date without a time", "Sun, 06 Nov 1994"],
    ["garbage", "tomorrow, maybe"],
  ])("refuses %s", (_, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});

describe("parseRetryAfter: hostile and absent input", () => {
  it("refuses a value longer than 128 characters", () => {
    expect(parseRetryAfter(`${" ".repeat(127)}12`, NOW)).toBeUndefined();
  });

  it("accepts a padded value of exactly 128 characters", () => {
    expect(parseRetryAfter(`${" ".repeat(126)}12`, NOW)).toBe(12_000);
  });

  it("returns undefined for null and undefined", () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });

  it("returns undefined for a non-string smuggled past the types", () => {
    expect(parseRetryAfter(120 as unknown as string, NOW)).toBeUndefined();
  });
});

describe("parseRetryAfter: properties", () => {
  const weekday = fc.constantFrom("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sunday", "Xyz", "");
  const month = fc.constantFrom("Jan", "Feb", "Apr", "Nov", "Dec", "nov", "Foo");
  const digits = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, "0"));
  const year = fc.oneof(
    digits,
    fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, "0")),
  );
  const sep = fc.constantFrom(" ", ", ", "-", ":", "  ", "");
  /** Strings shaped like HTTP-dates, so the property reaches the date parser's range checks. */
  const dateLike = fc
    .tuple(
      weekday,
      sep,
      digits,
      sep,
      month,
      sep,
      year,
      sep,
      digits,
      sep,
      digits,
      sep,
      digits,
      sep,
      fc.constantFrom("GMT", "", "UTC"),
    )
    .map((parts) => parts.join(""));
  const anyString = fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), dateLike);
  const clock = fc.integer({ min: -8.64e15, max: 8.64e15 });

  it("never throws and returns undefined or a finite number >= 0 for any string", () => {
    fc.assert(
      fc.property(anyString, clock, (value, nowMs) => {
        const result = parseRetryAfter(value, nowMs);
        expect(result === undefined || (Number.isFinite(result) && result >= 0)).toBe(true);
      }),
    );
  });

  it("reads back every IMF-fixdate that Date#toUTCString writes", () => {
    const seconds = fc.integer({ min: Date.UTC(1000, 0, 1) / 1000, max: Date.UTC(9999, 11, 31) / 1000 });
    fc.assert(
      fc.property(seconds, fc.integer({ min: 0, max: 10 ** 9 }), (s, behindMs) => {
        const dateMs = s * 1000;
        expect(parseRetryAfter(new Date(dateMs).toUTCString(), dateMs - behindMs)).toBe(behindMs);
      }),
    );
  });
});
