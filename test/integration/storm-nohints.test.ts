/**
 * The no-hint default against socket.io-client where socket.io-client copes, at the storm sweep's shortest
 * N / C (10,000 clients at 5,000/s, N / C = 2 s): quick-restart (3 s of instant refusals, then back) was the
 * one point of the sweep over 1.1 × socket.io-client's T99 (1.13 ×) before the third wave ended at 5 s.
 * Deterministic (seeded), a few hundred ms.
 */
import { describe, expect, it } from "vitest";
import { runStorm } from "../../bench/storm/run.js";
import { type ScenarioName, scenarioConfig } from "../../bench/storm/scenarios.js";

const t99 = (scenario: ScenarioName, seed: number) => {
  const config = scenarioConfig(scenario, { clients: 10_000, capacity: 5_000, seed });
  const report = runStorm(config, ["socketio", "ours"]);
  const of = (id: string) => report.strategies.find((s) => s.id === id)?.t99Ratio ?? Number.NaN;
  return { socketIo: of("socketio"), ours: of("ours") };
};

describe("ours without hints at N / C = 2 s", () => {
  for (const scenario of ["quick-restart", "small-storm"] as const) {
    it(`comes back in ${scenario} within 1.1 × socket.io-client's T99 (seeds 1 and 2)`, () => {
      for (const seed of [1, 2]) {
        const { socketIo, ours } = t99(scenario, seed);
        expect(Number.isFinite(socketIo)).toBe(true);
        expect(ours / socketIo).toBeLessThanOrEqual(1.1);
      }
    });
  }
});
