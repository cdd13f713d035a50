/**
 * The default backoff's shape, for any options and draws: every delay finite and within [minMs, capMs], the
 * compact waves within their ranges, and a compact wave whose nominal delay is below `compactMaxMs` ending
 * there (socket.io-client's own 5 s by default: the third wave is [2, 5] s, not [2, 6] s).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { waveJitter } from "../../src/index.js";

const runs = { numRuns: Number(process.env.FC_RUNS ?? 300) };
const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("wave jitter properties", () => {
  it("draws every delay finite and within [minMs, capMs], and ends a compact wave below compactMaxMs at it", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 60_000, noNaN: true }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.constant(0)),
        fc.integer({ min: 1, max: 30 }),
        fc.oneof(fc.integer({ min: -5, max: 2000 }), fc.constant(Number.NaN)),
        fc.oneof(fc.double(), fc.constant(Number.POSITIVE_INFINITY)),
        draw,
        (baseMs, capFactor, compactMaxMs, compactAttempts, attempt, previousDelayMs, random) => {
          const capMs = baseMs * capFactor;
          const backoff = waveJitter({ baseMs, capMs, compactMaxMs, compactAttempts });
          const d = backoff.next({ attempt, previousDelayMs, random });
          expect(Number.isFinite(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(backoff.minMs);
          expect(d).toBeLessThanOrEqual(capMs);
          if (!(attempt > compactAttempts)) {
            const n = Number.isFinite(attempt) && attempt >= 1 ? attempt - 1 : 0;
            const e = Math.min(capMs, baseMs * 2 ** n);
            expect(d).toBeGreaterThanOrEqual(Math.min(e / 2, capMs / 2));
            expect(d).toBeLessThanOrEqual(1.5 * e);
            if (e < compactMaxMs) expect(d).toBeLessThanOrEqual(compactMaxMs);
          }
        },
      ),
      runs,
    );
  });

  it("draws the default's waves from [0.5, 1.5], [1, 3], [2, 5] and [4, 12] s", () => {
    const backoff = waveJitter();
    const ranges: [number, number][] = [
      [500, 1_500],
      [1_000, 3_000],
      [2_000, 5_000],
      [4_000, 12_000],
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0, max: 120_000, noNaN: true }),
        draw,
        (attempt, previousDelayMs, random) => {
          const d = backoff.next({ attempt, previousDelayMs, random });
          const [low, high] = ranges[attempt - 1] as [number, number];
          expect(d).toBeGreaterThanOrEqual(low);
          expect(d).toBeLessThanOrEqual(high);
        },
      ),
      runs,
    );
    // The bound is reached, not only respected: the third wave's top draws are near 5 s.
    expect(backoff.next({ attempt: 3, previousDelayMs: 0, random: 0.9999 })).toBeGreaterThan(4_999);
    expect(
      waveJitter({ compactMaxMs: 0 }).next({
        attempt: 3,
        previousDelayMs: 0,
        random: 0.9999,
      }),
    ).toBeGreaterThan(5_999);
  });
});
