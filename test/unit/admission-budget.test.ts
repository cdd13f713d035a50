/**
 * Admission told the budget it announces (`budgetWindowMs`, `budgetPopulation`): the booking horizon that
 * books a herd whole only when it fits soon, the spread scaled to the slot spacing, and no slot inside a
 * first wave whose refusals outrun the rate (src/server/admission-budget.ts). Pure: the controller's time
 * comes in as `nowMs`; fast-check for the bounds a hostile or careless configuration cannot break.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AdmissionController, type AdmissionOptions } from "../../src/server/admission.js";
import {
  BUDGET_SPREAD_SLOTS,
  budgetHorizonMs,
  budgetSpreadMs,
  MIN_BUDGET_HORIZON_MS,
  MIN_BUDGET_SPREAD_MS,
} from "../../src/server/admission-budget.js";

interface Refusal {
  readonly atMs: number;
  readonly retryAfterMs: number;
  readonly spreadMs: number | undefined;
  /** The bucket after the decision (negative: in debt). */
  readonly tokens: number;
}

/** A herd of 10,000 arriving at 4,760/s (the storm lab's brownout at N / C = 2 s: W = 2.1 s, 500/s). */
function firstWave(options: Omit<AdmissionOptions, "ratePerSecond">): Refusal[] {
  const admission = new AdmissionController({ ratePerSecond: 500, budgetWindowMs: 2_100, ...options }, 0);
  const refusals: Refusal[] = [];
  for (let i = 0; i < 10_000; i++) {
    const atMs = i * 0.21;
    const decision = admission.decide(atMs);
    if (!decision.admit) {
      const { retryAfterMs, spreadMs } = decision.hint;
      refusals.push({ atMs, retryAfterMs, spreadMs, tokens: admission.snapshot().tokens });
    }
  }
  return refusals;
}

const pastHorizon = (r: Refusal) => r.retryAfterMs === 2_100;

describe("the booking horizon told the population", () => {
  it("books a herd that fits at the current rate within 20 s whole, up to 20 s out", () => {
    const refusals = firstWave({ budgetPopulation: 10_000 }); // 10,000 / 500/s = 20 s: fits
    const booked = refusals.filter((r) => !pastHorizon(r));
    expect(booked.length).toBeGreaterThan(0.95 * refusals.length);
    expect(Math.max(...booked.map((r) => r.retryAfterMs))).toBeLessThanOrEqual(MIN_BUDGET_HORIZON_MS);
    expect(Math.max(...booked.map((r) => r.retryAfterMs))).toBeGreaterThan(MIN_BUDGET_HORIZON_MS - 500);
  });

  it("books only one window ahead when the herd does not fit, and sends the rest back one window later", () => {
    const refusals = firstWave({ budgetPopulation: 100_000 }); // 200 s at 500/s
    const booked = refusals.filter((r) => !pastHorizon(r));
    expect(Math.max(...booked.map((r) => r.retryAfterMs))).toBeLessThan(2_100);
    expect(refusals.filter(pastHorizon).length).toBeGreaterThan(0.8 * refusals.length);
    for (const r of refusals.filter(pastHorizon)) expect(r.spreadMs).toBe(MIN_BUDGET_SPREAD_MS);
  });

  it("keeps max(window, 20 s) without the population", () => {
    expect(budgetHorizonMs({ windowMs: 2_100, population: undefined, ratePerSecond: 500 })).toBe(20_000);
    expect(budgetHorizonMs({ windowMs: 52_500, population: undefined, ratePerSecond: 100 })).toBe(52_500);
    expect(budgetHorizonMs({ windowMs: 52_500, population: 50_000, ratePerSecond: 100 })).toBe(52_500);
    expect(budgetHorizonMs({ windowMs: 10_500, population: 10_000, ratePerSecond: 100 })).toBe(10_500);
    expect(budgetHorizonMs({ windowMs: 10_500, population: 10_000, ratePerSecond: 1_000 })).toBe(20_000);
  });
});

describe("the first wave under a budget", () => {
  it("books no slot inside the wave, nor its second of debt, while the herd's refusals outrun the rate", () => {
    // 0.25 × 10,000 / 2.1 s = 1,190 refusal-tokens a second against 500 admissions a second.
    const inDebt = firstWave({ budgetPopulation: 10_000 }).filter((r) => r.tokens < 0 && !pastHorizon(r));
    expect(inDebt.length).toBeGreaterThan(9_000);
    for (const r of inDebt) expect(r.retryAfterMs).toBeGreaterThanOrEqual(2_100 + 1_000);
  });

  it("books from the debt alone when the herd fits in the rate, or without the population", () => {
    // 1,000 / 2.1 s = 476 arrivals a second against 500: the wave passes without starving the server.
    for (const options of [{ budgetPopulation: 1_000 }, {}]) {
      // Refusals after the first 100 ms of the wave, booked inside it.
      const early = firstWave(options).filter((r) => r.atMs >= 100 && r.retryAfterMs < 2_100 + 1_000);
      expect(early.length).toBeGreaterThan(100);
    }
  });
});

/**
 * The storm lab's miss at N 200,000, C 300/s, scaled down tenfold: a herd of 20,000 against 30/s, told a
 * window of 700 s that its clients cut to their 600 s ceiling, so it arrives at 33.3/s — its arrivals alone
 * outrun the rate. Every client comes back at its slot (the middle of its window) until admitted; returns
 * the time (s) by which 99 % were admitted, and every refusal.
 */
function cutWindowStorm(options: Partial<AdmissionOptions> = {}): { t99S: number; refusals: Refusal[] } {
  const population = 20_000;
  const admission = new AdmissionController(
    {
      ratePerSecond: 30,
      budgetWindowMs: 700_000,
      budgetPopulation: population,
      refusalCost: 0.5,
      ...options,
    },
    0,
  );
  // Arrivals counted per millisecond: the clients are alike (keyless), so counts are the whole state.
  const due = new Int32Array(3_000_000);
  const arrive = (atMs: number) => {
    due[atMs] = (due[atMs] ?? 0) + 1;
  };
  for (let i = 0; i < population; i++) arrive(Math.floor((i * 600_000) / population));
  const refusals: Refusal[] = [];
  let admitted = 0;
  for (let atMs = 0; atMs < due.length; atMs++) {
    for (let k = due[atMs] as number; k > 0; k--) {
      const decision = admission.decide(atMs);
      if (decision.admit) {
        admitted++;
        if (admitted >= 0.99 * population) return { t99S: atMs / 1000, refusals };
        continue;
      }
      const { retryAfterMs, spreadMs = 0 } = decision.hint;
      refusals.push({ atMs, retryAfterMs, spreadMs, tokens: admission.snapshot().tokens });
      arrive(atMs + Math.max(1, Math.round(retryAfterMs + spreadMs / 2)));
    }
  }
  return { t99S: Number.POSITIVE_INFINITY, refusals };
}

describe("the wave of a herd whose arrivals alone outrun the rate", () => {
  it("books no slot before the wave's end, anchored where it began, and admits 99 % within 1.15 × N / C", () => {
    const { t99S, refusals } = cutWindowStorm();
    // The wave began at the first decision (t 0) and ends one cut window and a second later; once 1 % of N
    // (200) were refused since it began — the herd's evidence — and past its first second, every refusal is
    // booked after that end.
    const evidenced = refusals.slice(200).filter((r) => r.atMs >= 1_000);
    expect(evidenced.length).toBeGreaterThan(1_000);
    for (const r of evidenced) expect(r.atMs + r.retryAfterMs).toBeGreaterThanOrEqual(601_000);
    for (const r of refusals) expect(r.retryAfterMs + (r.spreadMs ?? 0)).toBeLessThanOrEqual(600_000);
    // N / C = 667 s; the whole refused share is booked once, after the wave, instead of cycling inside it.
    expect(t99S).toBeLessThanOrEqual(1.15 * (20_000 / 30));
    expect(refusals.length).toBeLessThan(0.25 * 20_000);
  });

  it("books an ordinary burst within seconds, not at the wave's end: it is no herd (under 1 % of N refused)", () => {
    // N 200,000 at 300/s (the window cut to the 600 s ceiling): a meeting's 500 people joining at once.
    const admission = new AdmissionController(
      { ratePerSecond: 300, budgetWindowMs: 700_000, budgetPopulation: 200_000 },
      0,
    );
    expect(admission.decide(0).admit).toBe(true); // the wave's anchor: a decision on an idle server
    const waits: number[] = [];
    for (let i = 0; i < 500; i++) {
      const decision = admission.decide(10_000);
      if (!decision.admit) waits.push(decision.hint.retryAfterMs + (decision.hint.spreadMs ?? 0));
    }
    expect(waits.length).toBe(350);
    expect(Math.max(...waits)).toBeLessThan(5_000);
  });

  it("keeps its anchor through a snapshot and a restore at another rate (a brownout's setCapacity)", () => {
    const options = { ratePerSecond: 30, budgetWindowMs: 700_000, budgetPopulation: 20_000 };
    const first = new AdmissionController(options, 0);
    for (let atMs = 0; atMs < 5_000; atMs += 10) first.decide(atMs);
    const state = first.snapshot();
    expect(state.waveStartMs).toBe(0);
    const restored = new AdmissionController({ ...options, ratePerSecond: 10 }, 5_000, state);
    let decision = restored.decide(5_000);
    while (decision.admit) decision = restored.decide(5_000);
    expect(5_000 + decision.hint.retryAfterMs).toBeGreaterThanOrEqual(601_000);
    expect(restored.snapshot().waveStartMs).toBe(0);
  });

  it("does not apply when the herd keeps pace (N over the window it keeps at most the rate)", () => {
    // 20,000 over 700 s (not cut: maxHintMs 700 s) is 28.6/s against 30/s: the rule stays out of the way.
    const { refusals } = cutWindowStorm({ maxHintMs: 700_000 });
    expect(refusals.some((r) => r.atMs >= 1_000 && r.atMs + r.retryAfterMs < 601_000)).toBe(true);
  });

  it("begins a new wave only once the last has passed and the server is idle again", () => {
    const options = { ratePerSecond: 10, burst: 1, budgetWindowMs: 30_000, budgetPopulation: 100_000 };
    const admission = new AdmissionController({ ...options, maxHintMs: 3_000 }, 0);
    admission.decide(0);
    expect(admission.snapshot().waveStartMs).toBe(0);
    admission.decide(0); // refused: booked ahead
    admission.decide(2_500); // idle again, but inside the wave (it ends at 4 s)
    expect(admission.snapshot().waveStartMs).toBe(0);
    admission.decide(10_000); // idle, past the wave's end: a new one
    expect(admission.snapshot().waveStartMs).toBe(10_000);
  });

  it("never books past maxHintMs nor the horizon, whatever population, window, rate changes and anchor (attack)", () => {
    fc.assert(
      fc.property(
        fc.record({
          ratePerSecond: fc.double({ min: 0.01, max: 1e6, noNaN: true }),
          budgetWindowMs: fc.double({ min: 1, max: 1e9, noNaN: true }),
          budgetPopulation: fc.double({ min: 1, max: 1e15, noNaN: true }),
          maxHintMs: fc.constantFrom(1_000, 600_000),
        }),
        fc.array(
          fc.record({
            gapMs: fc.double({ min: 0, max: 700_000, noNaN: true }),
            restoreAtRate: fc.option(fc.double({ min: 0.01, max: 1e6, noNaN: true })),
          }),
          { minLength: 1, maxLength: 200 },
        ),
        fc.double({ min: -1e12, max: 1e12, noNaN: true }),
        (options, arrivals, waveStartMs) => {
          let now = 0;
          // A restored state may carry any anchor (a stale or a hand-written one).
          let admission = new AdmissionController(options, 0, {
            tokens: 0,
            updatedAtMs: 0,
            nextSlotAtMs: 0,
            waveStartMs,
          });
          // The book's last slot is one spacing past the horizon at most, at the slowest rate it was booked.
          let slowest = options.ratePerSecond;
          for (const { gapMs, restoreAtRate } of arrivals) {
            now += gapMs;
            if (restoreAtRate !== null) slowest = Math.min(slowest, restoreAtRate);
            if (restoreAtRate !== null)
              admission = new AdmissionController(
                { ...options, ratePerSecond: restoreAtRate },
                now,
                admission.snapshot(),
              );
            const decision = admission.decide(now);
            if (decision.admit) continue;
            const { retryAfterMs, spreadMs = 0 } = decision.hint;
            expect(retryAfterMs).toBeGreaterThanOrEqual(1);
            expect(retryAfterMs + spreadMs).toBeLessThanOrEqual(options.maxHintMs);
            expect(admission.backlogMs(now)).toBeLessThanOrEqual(options.maxHintMs + 1000 / slowest + 1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("a refused client's window under a budget", () => {
  it("is ten slot spacings, at least 250 ms, at most spreadMs", () => {
    expect(BUDGET_SPREAD_SLOTS).toBe(10);
    expect(budgetSpreadMs(2_500, 500)).toBe(250);
    expect(budgetSpreadMs(2_500, 10)).toBe(1_000);
    expect(budgetSpreadMs(2_500, 1)).toBe(2_500);
    expect(budgetSpreadMs(100, 1)).toBe(100);
    const spreadOf = (options: Omit<AdmissionOptions, "ratePerSecond">) => {
      const admission = new AdmissionController({ ratePerSecond: 10, burst: 1, ...options }, 0);
      admission.decide(0);
      const decision = admission.decide(0);
      return decision.admit ? undefined : decision.hint.spreadMs;
    };
    expect(spreadOf({ budgetWindowMs: 60_000 })).toBe(1_000);
    expect(spreadOf({})).toBe(2_500);
    expect(spreadOf({ budgetWindowMs: 60_000, spreadMs: 0 })).toBe(0);
  });
});

describe("budgetPopulation as an option", () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`rejects budgetPopulation ${String(bad)} with a RangeError naming the option`, () => {
      const make = () =>
        new AdmissionController({ ratePerSecond: 10, budgetWindowMs: 1_000, budgetPopulation: bad }, 0);
      expect(make).toThrow(RangeError);
      expect(make).toThrow(/budgetPopulation/);
    });
  }

  it("rejects a budgetPopulation that is not a number with a TypeError naming the option", () => {
    const make = () =>
      new AdmissionController(
        { ratePerSecond: 10, budgetWindowMs: 1_000, budgetPopulation: "10" as unknown as number },
        0,
      );
    expect(make).toThrow(TypeError);
    expect(make).toThrow(/budgetPopulation/);
  });

  it("rejects a budgetPopulation without budgetWindowMs, which it would change nothing without", () => {
    expect(() => new AdmissionController({ ratePerSecond: 10, budgetPopulation: 100 }, 0)).toThrow(
      /budgetPopulation.*budgetWindowMs/,
    );
  });

  it("never books past the horizon nor hints past maxHintMs, whatever budget and arrivals (attack)", () => {
    fc.assert(
      fc.property(
        fc.record({
          ratePerSecond: fc.double({ min: 0.01, max: 1e6, noNaN: true }),
          budgetWindowMs: fc.double({ min: 1, max: 1e8, noNaN: true }),
          budgetPopulation: fc.double({ min: 1e-9, max: 1e12, noNaN: true }),
          refusalCost: fc.constantFrom(0, 0.25, 1),
          maxHintMs: fc.constantFrom(1_000, 600_000),
          spreadMs: fc.constantFrom(0, 2_500),
        }),
        fc.array(
          fc.record({
            gapMs: fc.double({ min: 0, max: 5_000, noNaN: true }),
            key: fc.constantFrom(undefined, "a"),
          }),
          { minLength: 1, maxLength: 300 },
        ),
        (options, arrivals) => {
          const admission = new AdmissionController(options, 0);
          const horizon = Math.min(
            options.maxHintMs,
            Math.max(options.budgetWindowMs, MIN_BUDGET_HORIZON_MS, 60_000),
          );
          let now = 0;
          for (const { gapMs, key } of arrivals) {
            now += gapMs;
            const decision = admission.decide(now, key);
            if (decision.admit) continue;
            const { retryAfterMs, spreadMs = 0 } = decision.hint;
            expect(retryAfterMs).toBeGreaterThanOrEqual(1);
            expect(spreadMs).toBeGreaterThanOrEqual(0);
            expect(retryAfterMs + spreadMs).toBeLessThanOrEqual(options.maxHintMs);
            expect(admission.backlogMs(now)).toBeLessThanOrEqual(horizon + 1000 / options.ratePerSecond + 1);
          }
          expect(admission.trackedKeys).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
