import { describe, expect, it } from "vitest";
import { decorrelatedJitter, exponentialNoJitter, type RetryHint, seededRandom } from "../../src/index.js";
import {
  defaultCircuitBreakerOptions as breaker,
  type PlannerOptions,
  ReconnectPlanner,
} from "../../src/internals.js";

const options = (overrides: Partial<PlannerOptions> = {}): PlannerOptions => ({
  backoff: exponentialNoJitter({ baseMs: 100, capMs: 10_000 }),
  circuitBreaker: false,
  maxDelayMs: 60_000,
  maxAttempts: Number.POSITIVE_INFINITY,
  hintSpreadRatio: 0.25,
  ...overrides,
});
const hint = (delayMs: number, spreadMs?: number): RetryHint => ({ source: "close-code", delayMs, spreadMs });
const half = () => 0.5;

describe("ReconnectPlanner", () => {
  it("grows the backoff with consecutive failures", () => {
    const planner = new ReconnectPlanner(options());
    const delays = [1, 2, 3].map(() => planner.onFailure(0, half));
    expect(delays.map((d) => (d.kind === "wait" ? d.delayMs : -1))).toEqual([100, 200, 400]);
  });

  it("resets the backoff only when a connection became stable", () => {
    const planner = new ReconnectPlanner(options());
    planner.onFailure(0, half);
    planner.onFailure(0, half);
    expect(planner.failures).toBe(2);
    planner.onStable(0);
    expect(planner.onFailure(0, half)).toMatchObject({ attempt: 1, delayMs: 100 });
  });

  it("starts a drop of a stable connection from the first backoff step without touching the breaker", () => {
    const planner = new ReconnectPlanner(options({ circuitBreaker: { ...breaker, consecutiveFailures: 1 } }));
    expect(planner.onDrop(0, half)).toMatchObject({ attempt: 1, delayMs: 100, cause: "backoff" });
    expect(planner.circuit).toBe("closed");
  });

  it("waits at least the hint plus a random share of its spread", () => {
    const planner = new ReconnectPlanner(options());
    expect(planner.onFailure(0, () => 0.5, hint(5_000, 2_000))).toMatchObject({
      delayMs: 6_000,
      cause: "hint",
    });
  });

  it("never waits less than its own backoff when the hint is shorter", () => {
    const planner = new ReconnectPlanner(
      options({ backoff: exponentialNoJitter({ baseMs: 3_000, capMs: 10_000 }) }),
    );
    expect(planner.onFailure(0, half, hint(10, 0))).toMatchObject({ delayMs: 3_000, cause: "backoff" });
  });

  it("spreads a hint that carries no spread over a share of its delay", () => {
    const planner = new ReconnectPlanner(options({ hintSpreadRatio: 0.5 }));
    expect(planner.onFailure(0, () => 0.999, hint(1_000))).toMatchObject({ cause: "hint" });
    const d = new ReconnectPlanner(options({ hintSpreadRatio: 0.5 })).onFailure(0, () => 0.999, hint(1_000));
    expect(d.kind === "wait" && d.delayMs).toBeCloseTo(1_499.5, 1);
  });

  it("never waits longer than the ceiling", () => {
    const planner = new ReconnectPlanner(options({ maxDelayMs: 20_000 }));
    const low = planner.onFailure(0, () => 0, hint(19_000, 10_000));
    const high = planner.onFailure(0, () => 0.999_999, hint(19_000, 10_000));
    expect(low).toMatchObject({ delayMs: 19_000, cause: "hint" });
    expect(high.kind === "wait" && high.delayMs).toBeLessThanOrEqual(20_000);
    expect(high.kind === "wait" && high.delayMs).toBeGreaterThan(19_999);
  });

  it("stops after maxAttempts consecutive failures", () => {
    const planner = new ReconnectPlanner(options({ maxAttempts: 2 }));
    expect(planner.onFailure(0, half).kind).toBe("wait");
    expect(planner.onFailure(0, half)).toEqual({ kind: "stop", attempt: 2, reason: "max-attempts" });
  });

  it("allows no attempt while the breaker is open and waits for its probe time", () => {
    const planner = new ReconnectPlanner(options({ circuitBreaker: { ...breaker, consecutiveFailures: 2 } }));
    planner.onFailure(0, half);
    const second = planner.onFailure(0, half);
    expect(planner.circuit).toBe("open");
    expect(second).toMatchObject({ cause: "circuit" });
    const reopensAt = planner.reopensAt ?? 0;
    expect(planner.beforeAttempt(reopensAt - 1)).toEqual({ kind: "wait", delayMs: 1, cause: "circuit" });
    expect(planner.beforeAttempt(reopensAt)).toEqual({ kind: "connect", probe: true });
  });

  it("restores from a JSON snapshot and decides the same way", () => {
    const a = new ReconnectPlanner(options({ backoff: decorrelatedJitter(), circuitBreaker: breaker }));
    for (let i = 0; i < 4; i++) a.onFailure(i, seededRandom(i));
    const b = new ReconnectPlanner(a.options, JSON.parse(JSON.stringify(a.snapshot())));
    expect(b.onFailure(10, seededRandom(99))).toEqual(a.onFailure(10, seededRandom(99)));
  });
});

describe("hints at the ceiling", () => {
  it("keeps clients spread when a hint is cut to the ceiling instead of stacking them on it", () => {
    const draws = [0.01, 0.5, 0.99].map((r) => {
      const planner = new ReconnectPlanner(options({ maxDelayMs: 1_000 }));
      const d = planner.onFailure(0, () => r, hint(1_000, 0));
      return d.kind === "wait" ? d.delayMs : -1;
    });
    expect(new Set(draws).size).toBe(3);
    for (const d of draws) {
      expect(d).toBeGreaterThanOrEqual(750);
      expect(d).toBeLessThanOrEqual(1_000);
    }
  });

  it("never comes back before a hint below the ceiling, even when its window runs past the ceiling", () => {
    const at = (r: number) => {
      const d = new ReconnectPlanner(options({ maxDelayMs: 1_000 })).onFailure(0, () => r, hint(900, 400));
      return d.kind === "wait" ? d.delayMs : -1;
    };
    expect(at(0)).toBe(900);
    expect(at(0.999)).toBeCloseTo(999.9, 5);
  });

  it("spreads a plain hint just under the ceiling over what is left of the ceiling, not below the hint", () => {
    const d = new ReconnectPlanner(options({ maxDelayMs: 600_000 })).onFailure(0, () => 0, hint(590_000));
    expect(d).toMatchObject({ delayMs: 590_000 });
  });

  it("spreads a hint that starts below ¾ of the ceiling but runs past it over [delay, ceiling]", () => {
    const at = (r: number) => {
      const d = new ReconnectPlanner(options({ maxDelayMs: 1_000 })).onFailure(0, () => r, hint(100, 1e6));
      return d.kind === "wait" ? d.delayMs : -1;
    };
    expect(at(0.5)).toBe(550);
    expect(at(0.999)).toBeCloseTo(999.1, 5);
  });
});
