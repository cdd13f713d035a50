import { describe, expect, it } from "vitest";
import type { BackoffStrategy } from "../../src/index.js";
import {
  customBackoff,
  DEFAULT_CAP_MS,
  decorrelatedJitter,
  equalJitter,
  exponentialNoJitter,
  fullJitter,
  seededRandom,
} from "../../src/index.js";

/** Runs `chains` independent retry sequences and returns the delays drawn at `attempt` (1-based). */
function drawsAt(strategy: BackoffStrategy, attempt: number, chains: number, seed = 1): number[] {
  const random = seededRandom(seed);
  const out: number[] = [];
  for (let c = 0; c < chains; c++) {
    let previous = 0;
    for (let a = 1; a <= attempt; a++)
      previous = strategy.next({ attempt: a, previousDelayMs: previous, random: random() });
    out.push(previous);
  }
  return out.sort((x, y) => x - y);
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

describe("decorrelated jitter (the default)", () => {
  const strategy = decorrelatedJitter();

  it("brings a lone client back within a second at the median on the first retry", () => {
    expect(quantile(drawsAt(strategy, 1, 20_000), 0.5)).toBeLessThanOrEqual(1000);
  });

  it("stays random at the cap: under 1% of draws at attempt 20 equal the cap and p10 is at most 0.6 × cap", () => {
    const draws = drawsAt(strategy, 20, 20_000);
    const atCap = draws.filter((d) => d === DEFAULT_CAP_MS).length / draws.length;
    expect(atCap).toBeLessThan(0.01);
    expect(quantile(draws, 0.1)).toBeLessThanOrEqual(0.6 * DEFAULT_CAP_MS);
    expect(quantile(draws, 0.99)).toBeGreaterThan(0.9 * DEFAULT_CAP_MS);
  });

  it("never exceeds the cap nor falls below the base", () => {
    const draws = drawsAt(strategy, 40, 5_000);
    expect(draws[0]).toBeGreaterThanOrEqual(strategy.minMs);
    expect(draws.at(-1)).toBeLessThanOrEqual(strategy.capMs);
  });

  it("grows on average from one attempt to the next until the cap", () => {
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(drawsAt(strategy, 4, 5_000))).toBeGreaterThan(1.5 * mean(drawsAt(strategy, 2, 5_000)));
  });

  it("rejects a cap below the base, naming the option and value", () => {
    expect(() => decorrelatedJitter({ baseMs: 100, capMs: 50 })).toThrow(/capMs .*got 50/);
    expect(() => decorrelatedJitter({ baseMs: Number.NaN })).toThrow(RangeError);
  });
});

describe("every built-in strategy at attempt 100,000", () => {
  for (const strategy of [decorrelatedJitter(), fullJitter(), equalJitter(), exponentialNoJitter()]) {
    it(`${strategy.name} returns finite, non-collapsed delays`, () => {
      const random = seededRandom(7);
      const draws = Array.from({ length: 1000 }, () =>
        strategy.next({ attempt: 100_000, previousDelayMs: strategy.capMs, random: random() }),
      );
      for (const d of draws) {
        expect(Number.isFinite(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(strategy.minMs);
        expect(d).toBeLessThanOrEqual(strategy.capMs);
      }
      const zeros = draws.filter((d) => d === 0).length;
      expect(zeros).toBeLessThan(5);
    });
  }
});

describe("full and equal jitter", () => {
  it("full jitter draws from [0, min(cap, base·2^(n−1))]", () => {
    const s = fullJitter({ baseMs: 100, capMs: 10_000 });
    expect(s.next({ attempt: 3, previousDelayMs: 0, random: 0.999 })).toBeCloseTo(399.6, 1);
    expect(s.next({ attempt: 50, previousDelayMs: 0, random: 0.5 })).toBe(5_000);
  });

  it("equal jitter keeps half the exponential delay fixed", () => {
    const s = equalJitter({ baseMs: 100, capMs: 10_000 });
    expect(s.next({ attempt: 3, previousDelayMs: 0, random: 0 })).toBe(200);
    expect(s.next({ attempt: 3, previousDelayMs: 0, random: 0.999 })).toBeCloseTo(399.8, 1);
  });

  it("capped exponential without jitter is lock-step: every client gets the same delay", () => {
    const s = exponentialNoJitter({ baseMs: 100, capMs: 1_000 });
    expect(s.next({ attempt: 2, previousDelayMs: 0, random: 0.1 })).toBe(
      s.next({ attempt: 2, previousDelayMs: 0, random: 0.9 }),
    );
    expect(s.next({ attempt: 30, previousDelayMs: 0, random: 0.5 })).toBe(1_000);
  });
});

describe("custom backoff", () => {
  it("uses the function's answer within its bounds", () => {
    const s = customBackoff(({ attempt }) => attempt * 1000, { minMs: 100, capMs: 5_000 });
    expect(s.next({ attempt: 2, previousDelayMs: 0, random: 0.5 })).toBe(2000);
    expect(s.next({ attempt: 9, previousDelayMs: 0, random: 0.5 })).toBe(5000);
  });

  it("replaces a throwing, NaN or negative answer with a bounded jittered draw, never a tight loop", () => {
    for (const fn of [
      () => Number.NaN,
      () => -5,
      () => {
        throw new Error("bug");
      },
      () => "soon" as unknown as number,
    ]) {
      const s = customBackoff(fn, { minMs: 100, capMs: 5_000 });
      const d = s.next({ attempt: 1, previousDelayMs: 0, random: 0.5 });
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(5000);
    }
  });

  it("rejects a non-function with a TypeError", () => {
    expect(() => customBackoff(42 as unknown as () => number)).toThrow(TypeError);
  });
});
