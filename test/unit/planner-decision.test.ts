/**
 * The planner's one decision per event, called directly: what `ResilientSocket` arms its one timer from.
 * Page state in (paused, slowdown), a decision out — connect, wait N ms with its cause and event, pause,
 * stop — with the ceiling applied once, here.
 */
import { describe, expect, it } from "vitest";
import { exponentialNoJitter } from "../../src/index.js";
import {
  type Decision,
  PAGE_ACTIVE,
  type PlannerOptions,
  ReconnectPlanner,
  resolvePlannerOptions,
} from "../../src/internals.js";

const options = (overrides: Partial<PlannerOptions> = {}): PlannerOptions => ({
  backoff: exponentialNoJitter({ baseMs: 100, capMs: 10_000 }),
  circuitBreaker: false,
  maxDelayMs: 60_000,
  maxAttempts: Number.POSITIVE_INFINITY,
  hintSpreadRatio: 0.25,
  resumeJitterMs: 1_000,
  ...overrides,
});
const half = () => 0.5;
const offline = { paused: true, slowdown: 1 };
const hiddenSlow = { paused: false, slowdown: 4 };
const wait = (d: Decision | undefined) => (d?.kind === "wait" ? d : undefined);

describe("ReconnectPlanner decisions", () => {
  it("says connect when nothing stands in the way, and pause while the page forbids attempts", () => {
    const planner = new ReconnectPlanner(options());
    expect(planner.next(0, PAGE_ACTIVE)).toEqual({ kind: "connect", probe: false });
    expect(planner.next(0, offline)).toEqual({ kind: "pause" });
    expect(planner.next(0, offline, true)).toEqual({ kind: "connect", probe: false });
  });

  it("turns a failure into one wait with its cause and the retry event to announce", () => {
    const planner = new ReconnectPlanner(options());
    expect(planner.ended(0, half, false, PAGE_ACTIVE)).toEqual({
      kind: "wait",
      delayMs: 100,
      retry: { attempt: 1, delayMs: 100, cause: "backoff" },
      circuitOpen: false,
    });
    expect(planner.plannedAt).toBe(100);
  });

  it("slows a wait that starts while hidden, announces the slowed delay, and plans the policy's moment", () => {
    const planner = new ReconnectPlanner(options());
    expect(wait(planner.ended(0, half, false, hiddenSlow))).toMatchObject({
      delayMs: 400,
      retry: { delayMs: 400 },
    });
    expect(planner.plannedAt).toBe(100);
    // Visible again: back to the planned moment, or the resume jitter if later.
    expect(wait(planner.pageChanged(50, () => 0.01, PAGE_ACTIVE, false))?.delayMs).toBe(50);
  });

  it("pauses a wait when the page goes offline and resumes no sooner than planned, after its own jitter", () => {
    const planner = new ReconnectPlanner(options());
    planner.ended(0, half, false, PAGE_ACTIVE); // planned at 100
    expect(planner.pageChanged(10, half, offline, false)).toEqual({ kind: "pause" });
    expect(planner.pageChanged(20, half, offline, true)).toBeUndefined();
    expect(wait(planner.pageChanged(30, () => 0, PAGE_ACTIVE, true))?.delayMs).toBe(70);
    expect(wait(planner.pageChanged(30, () => 0.5, PAGE_ACTIVE, true))?.delayMs).toBe(500);
  });

  it("changes nothing when the page changes in a way that does not matter to a running wait", () => {
    const planner = new ReconnectPlanner(options());
    planner.ended(0, half, false, PAGE_ACTIVE);
    expect(planner.pageChanged(10, half, PAGE_ACTIVE, false)).toBeUndefined();
  });

  it("cuts a hint past the ceiling here, once, and says so", () => {
    const planner = new ReconnectPlanner(options({ maxDelayMs: 20_000 }));
    const hint = { source: "close-code" as const, delayMs: 1e15, spreadMs: 1e15 };
    const step = wait(planner.ended(0, half, false, PAGE_ACTIVE, hint));
    expect(step?.delayMs).toBeLessThanOrEqual(20_000);
    expect(step?.delayMs).toBeGreaterThanOrEqual(15_000);
    expect(step?.problem).toMatch(/cut to the 20000 ms ceiling/);
    expect(step?.retry?.hint).toMatchObject({ delayMs: 20_000, spreadMs: 0 });
  });

  it("never arms more than the ceiling, whatever the slowdown", () => {
    const planner = new ReconnectPlanner(options({ maxDelayMs: 10_000 }));
    for (let i = 0; i < 10; i++) planner.ended(0, half, false, PAGE_ACTIVE);
    expect(wait(planner.ended(0, half, false, { paused: false, slowdown: 1_000 }))?.delayMs).toBe(10_000);
  });

  it("says stop after maxAttempts and forgets its plan", () => {
    const planner = new ReconnectPlanner(options({ maxAttempts: 1 }));
    expect(planner.ended(0, half, false, PAGE_ACTIVE)).toEqual({ kind: "stop", attempt: 1 });
    expect(planner.plannedAt).toBeUndefined();
  });

  it("announces a breaker wait once and re-arms it silently when woken early", () => {
    const planner = new ReconnectPlanner(
      options({
        circuitBreaker: {
          consecutiveFailures: 1,
          failureRatio: 1,
          windowMs: 1_000,
          minimumAttempts: 100,
          openMs: 5_000,
          maxOpenMs: 5_000,
        },
      }),
    );
    expect(wait(planner.ended(0, () => 0, false, PAGE_ACTIVE))).toMatchObject({ circuitOpen: true });
    const early = wait(planner.next(100, PAGE_ACTIVE));
    expect(early?.retry).toBeUndefined();
    expect(early?.circuitOpen).toBe(true);
  });

  it("pauses at once when the page is hidden for the back/forward cache, due on its return", () => {
    const planner = new ReconnectPlanner(options());
    expect(planner.hidden(500)).toEqual({ kind: "pause" });
    expect(planner.plannedAt).toBe(500);
  });

  it("resolves its own options, the page's resume jitter included, and names a bad one", () => {
    expect(resolvePlannerOptions({}, 250).resumeJitterMs).toBe(250);
    expect(resolvePlannerOptions({}).backoff.name).toBe("wave-jitter");
    expect(() => resolvePlannerOptions({ maxDelayMs: -1 })).toThrow(/maxDelayMs/);
    expect(() => resolvePlannerOptions({ maxAttempts: 1.5 })).toThrow(/maxAttempts/);
  });
});
