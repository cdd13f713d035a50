import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_HINT_MS, readCloseHint, readHintPayload, readRetryAfterHint } from "../../src/index.js";
import { readDrainHint, readRefusalHint } from "../../src/policy/hints.js";

describe("close-code hints", () => {
  it("reads the delay and spread from a 1013 reason", () => {
    expect(readCloseHint(1013, '{"retryAfterMs":5000,"spreadMs":2000}').hint).toEqual({
      source: "close-code",
      delayMs: 5000,
      spreadMs: 2000,
      code: 1013,
    });
  });

  it("reads a 1012 Service Restart reason without a spread", () => {
    expect(readCloseHint(1012, '{"retryAfterMs":100}').hint).toMatchObject({
      delayMs: 100,
      spreadMs: undefined,
    });
  });

  it("ignores other close codes and plain-text reasons", () => {
    expect(readCloseHint(1000, '{"retryAfterMs":100}')).toEqual({});
    expect(readCloseHint(1013, "try again later")).toEqual({});
  });

  it("reports malformed JSON without producing a hint", () => {
    const reading = readCloseHint(1013, '{"retryAfterMs":');
    expect(reading.hint).toBeUndefined();
    expect(reading.problem).toMatch(/not valid JSON/);
  });

  it("ignores a 10 KB reason", () => {
    const reading = readCloseHint(1013, `{"retryAfterMs":1,"pad":"${"x".repeat(10_000)}"}`);
    expect(reading.hint).toBeUndefined();
    expect(reading.problem).toMatch(/characters/);
  });
});

describe("hostile hint values", () => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, "5000", null, {}]) {
    it(`gives no hint for retryAfterMs ${String(bad)}`, () => {
      const reading = readHintPayload({ retryAfterMs: bad }, "connect-error");
      expect(reading.hint).toBeUndefined();
      expect(reading.problem).toMatch(/delay must be a finite number/);
    });
  }

  it("cuts 10^15 ms to the ceiling and says so", () => {
    const reading = readHintPayload({ retryAfterMs: 1e15, spreadMs: 1e15 }, "drain", 60_000);
    expect(reading.hint).toMatchObject({ delayMs: 60_000, spreadMs: 0 });
    expect(reading.problem).toMatch(/ceiling/);
  });

  it("keeps delay plus spread within the ceiling", () => {
    const { hint } = readHintPayload({ retryAfterMs: 500_000, spreadMs: 500_000 }, "drain");
    expect((hint?.delayMs ?? 0) + (hint?.spreadMs ?? 0)).toBe(DEFAULT_MAX_HINT_MS);
  });

  it("is not fooled by __proto__ in JSON, and reports the reason as carrying no hint", () => {
    const reading = readCloseHint(1013, '{"__proto__":{"retryAfterMs":1},"spreadMs":5}');
    expect(reading.hint).toBeUndefined();
    expect(reading.problem).toMatch(/own retryAfterMs/);
    expect(({} as Record<string, unknown>).retryAfterMs).toBeUndefined();
  });

  it("ignores non-objects and arrays", () => {
    for (const data of [undefined, null, 42, "x", [1, 2]])
      expect(readHintPayload(data, "connect-error")).toEqual({});
  });

  it("treats an invalid spread as absent and reports it", () => {
    const reading = readHintPayload({ retryAfterMs: 10, spreadMs: -3 }, "connect-error");
    expect(reading.hint).toMatchObject({ delayMs: 10, spreadMs: undefined });
    expect(reading.problem).toMatch(/spread/);
  });
});

describe("Retry-After hints", () => {
  it("turns delay-seconds into a hint carrying the HTTP status", () => {
    expect(readRetryAfterHint("3", 0, 503).hint).toEqual({
      source: "retry-after",
      delayMs: 3000,
      spreadMs: undefined,
      code: 503,
    });
  });

  it("reads an HTTP-date relative to now", () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(readRetryAfterHint("Thu, 01 Jan 2026 00:00:30 GMT", now).hint?.delayMs).toBe(30_000);
  });

  it("cuts a date in the year 3000 to the ceiling", () => {
    const reading = readRetryAfterHint("Wed, 01 Jan 3000 00:00:00 GMT", 0);
    expect(reading.hint?.delayMs).toBe(DEFAULT_MAX_HINT_MS);
    expect(reading.problem).toMatch(/ceiling/);
  });

  it("reports a malformed header and gives no hint", () => {
    const reading = readRetryAfterHint("soon", 0);
    expect(reading.hint).toBeUndefined();
    expect(reading.problem).toMatch(/malformed/);
  });

  it("says nothing when there is no header", () => {
    expect(readRetryAfterHint(undefined, 0)).toEqual({});
  });
});

describe("Socket.IO refusal data and drain notices", () => {
  it("reads no hint from a refusal without any data: an auth refusal", () => {
    expect(readRefusalHint(undefined)).toEqual({});
    expect(readRefusalHint(null)).toEqual({});
  });

  it("reads a refusal's usable hint", () => {
    expect(readRefusalHint({ retryAfterMs: 5000, spreadMs: 100 }).hint).toEqual({
      source: "connect-error",
      delayMs: 5000,
      spreadMs: 100,
    });
  });

  it("reports every other refusal data as a problem, never as nothing (which would stop the client)", () => {
    for (const data of [
      {},
      { reason: "x" },
      { retryAfterMs: -1 },
      { retryAfterMs: "x" },
      "x",
      42,
      [1],
      false,
    ]) {
      const reading = readRefusalHint(data);
      expect(reading.hint).toBeUndefined();
      expect(reading.problem).toMatch(/connect-error hint/);
    }
  });

  it("reports every drain notice without a usable delay as a problem, whatever its payload", () => {
    for (const payload of [undefined, null, "x", "x".repeat(10_240), {}, { retryAfterMs: -1 }, [1]]) {
      const reading = readDrainHint(payload);
      expect(reading.hint).toBeUndefined();
      expect(reading.problem).toMatch(/drain hint/);
      expect(reading.problem?.length).toBeLessThan(200);
    }
    expect(readDrainHint({ retryAfterMs: 10 }, 5).hint).toMatchObject({ source: "drain", delayMs: 5 });
  });
});
