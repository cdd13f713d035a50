/**
 * The storm lab's yardsticks: the floor (bench/storm/floor.ts) on first waves small enough to work out by
 * hand — the best any scheme could do whose first attempts are these and which then knows the scenario —
 * and the constant polling servers (bench/storm/polling.ts) the sweep runs in the brownout.
 */
import { describe, expect, it } from "vitest";
import { runFloor } from "../../bench/storm/floor.js";
import { POLLING_PERIODS_MS, pollingAdmission } from "../../bench/storm/polling.js";
import { buildScenario, scenarioConfig } from "../../bench/storm/scenarios.js";

const SMALL = { clients: 1_000, capacity: 100, horizonMs: 120_000 } as const;

describe("the floor of a storm run", () => {
  it("charges a second live attempt to every first attempt a brownout must refuse", () => {
    // All 1,000 first attempts at t = 0 against 10/s: the bucket's 5 are admitted, 995 are refused.
    const brownout = buildScenario(scenarioConfig("brownout", SMALL));
    const floor = runFloor(brownout, new Float64Array(1_000).fill(0));
    expect(floor.liveAttemptsPerClient).toBe(1.995);
    // Then 10/s after the refusals' second of debt (~290 by 30 s), 100/s after: 990 connected at ~37 s
    // plus a round trip; the ideal is 30 + 700 / 100 = 37 s.
    expect(brownout.idealMs).toBe(37_000);
    expect(floor.t99OverIdeal).toBeGreaterThan(0.99);
    expect(floor.t99OverIdeal).toBeLessThan(1.01);
  });

  it("admits a first wave paced at the rate as it comes: one live attempt each, T99 at N/C", () => {
    const massDrop = buildScenario(scenarioConfig("mass-drop", SMALL));
    const paced = Float64Array.from({ length: 1_000 }, (_, i) => i * 10);
    expect(runFloor(massDrop, paced)).toEqual({ t99OverIdeal: 0.999, liveAttemptsPerClient: 1 });
  });

  it("counts first attempts on a dead port as no live attempt, and brings them back when the server is", () => {
    const restart = buildScenario(scenarioConfig("quick-restart", SMALL));
    const floor = runFloor(
      restart,
      Float64Array.from({ length: 1_000 }, (_, i) => i),
    );
    expect(floor.liveAttemptsPerClient).toBe(1);
    // Back at 3 s: a bucket of 50 at once, then 100/s: 990 connected 9.4 s + a round trip later.
    expect(floor.t99OverIdeal).toBeCloseTo(0.95, 2);
  });

  it("makes a client that never attempted available from the start", () => {
    const massDrop = buildScenario(scenarioConfig("mass-drop", SMALL));
    const floor = runFloor(massDrop, new Float64Array(1_000).fill(Number.NaN));
    expect(floor.liveAttemptsPerClient).toBe(1);
    expect(floor.t99OverIdeal).toBeLessThan(1);
  });
});

describe("the constant polling yardstick", () => {
  it("answers every refusal with [P / 2, 3P / 2] and books nothing, whatever budget it is told", () => {
    expect(POLLING_PERIODS_MS.length).toBeGreaterThan(3);
    const create = pollingAdmission(2_000).create;
    if (create === undefined) throw new Error("no create");
    const admission = create(
      { ratePerSecond: 10, burst: 1, refusalCost: 0, budgetWindowMs: 30_000, budgetPopulation: 10 },
      0,
    );
    expect(admission.decide(0)).toEqual({ admit: true });
    for (let i = 1; i <= 50; i++) {
      expect(admission.decide(i)).toEqual({ admit: false, hint: { retryAfterMs: 1_000, spreadMs: 2_000 } });
    }
    // No appointment handed out: the next slot is still now.
    expect(admission.snapshot().nextSlotAtMs).toBe(0);
    expect(admission.decide(200)).toEqual({ admit: true });
  });
});
