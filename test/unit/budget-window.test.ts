/**
 * The budget's window as the bound of the way back (issue 15, the missed goals): a budget-paced attempt
 * gives up before the next slot instead of after the whole connect timeout, a hinted wait's backoff floor is
 * capped at the window, and admission told the window books at most one window ahead and sends clients past
 * it back one window later. Pure, on a virtual clock and fast-check.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ResilientSocket, type RetryEvent, seededRandom, VirtualClock, waveJitter } from "../../src/index.js";
import {
  type BudgetPayload,
  encodeBudgetFrame,
  type PlannerOptions,
  ReconnectPlanner,
} from "../../src/internals.js";
import { MIN_BUDGET_ATTEMPT_TIMEOUT_MS } from "../../src/policy/budget.js";
import { AdmissionController, MIN_BUDGET_HORIZON_MS } from "../../src/server/admission.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const options = (overrides: Partial<PlannerOptions> = {}): PlannerOptions => ({
  backoff: waveJitter(),
  circuitBreaker: false,
  maxDelayMs: 600_000,
  maxAttempts: Number.POSITIVE_INFINITY,
  hintSpreadRatio: 0.25,
  ...overrides,
});

describe("a budget-paced attempt's connect timeout", () => {
  it("gives up an attempt at a budget slot after 0.9 × the window, and one after a hint after connectTimeoutMs", () => {
    const clock = new VirtualClock(0);
    const transport = new FakeTransport(() => clock.now());
    const socket = new ResilientSocket({
      transport,
      clock,
      random: () => 0.5,
      autoConnect: false,
      stableAfterMs: 100,
      connectTimeoutMs: 20_000,
    });
    socket.connect();
    transport.last.open();
    transport.last.message(encodeBudgetFrame({ windowMs: 8_000, validForMs: 600_000 })); // slots 4 s, 12 s…
    clock.advance(1_000);
    transport.last.close({ kind: "closed" }); // the server vanished without a word
    clock.advance(3_000); // the slot at 4 s: the attempt hangs (a host that swallows SYNs)
    expect(transport.attempts).toHaveLength(2);
    clock.advance(7_199);
    expect(transport.attempts[1]?.closedByClient).toBe(false);
    clock.advance(1);
    expect(transport.attempts[1]?.closedByClient).toBe(true);
    clock.advance(800); // the next slot, 12 s: one window after the last, not after 20 s
    expect(transport.attempts).toHaveLength(3);
    // A hint wins over the budget: the attempt it leads to gets the whole connect timeout.
    const retries: RetryEvent[] = [];
    socket.on("retry", (r) => retries.push(r));
    transport.last.close({
      kind: "refused",
      hint: { hint: { delayMs: 1_000, source: "connect-error", spreadMs: 0 } },
    });
    expect(retries[0]?.cause).not.toBe("budget");
    clock.advance(retries[0]?.delayMs ?? 0);
    expect(transport.attempts).toHaveLength(4);
    clock.advance(19_999);
    expect(transport.attempts[3]?.closedByClient).toBe(false);
    clock.advance(1);
    expect(transport.attempts[3]?.closedByClient).toBe(true);
    void socket.close();
  });

  it("is connectTimeoutMs without a budget slot, else within [min(2 s, connectTimeoutMs), max(2 s, 0.9 W)] and never past connectTimeoutMs (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 600_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.boolean(),
        fc.integer(),
        (windowMs, connectTimeoutMs, atMs, hinted, seed) => {
          const random = seededRandom(seed);
          const planner = new ReconnectPlanner(options());
          expect(planner.attemptTimeoutMs(0, connectTimeoutMs)).toBe(connectTimeoutMs);
          const budget: BudgetPayload = { windowMs, validForMs: 1_800_000 };
          planner.onBudget(0, random, budget);
          const hint = hinted ? { delayMs: 500, source: "connect-error" as const, spreadMs: 0 } : undefined;
          const decision = planner.onFailure(atMs, random, hint);
          const timeout = planner.attemptTimeoutMs(atMs, connectTimeoutMs);
          if (decision.kind === "wait" && decision.cause === "budget") {
            expect(timeout).toBeGreaterThanOrEqual(Math.min(MIN_BUDGET_ATTEMPT_TIMEOUT_MS, connectTimeoutMs));
            expect(timeout).toBeLessThanOrEqual(
              Math.min(connectTimeoutMs, Math.max(MIN_BUDGET_ATTEMPT_TIMEOUT_MS, 0.9 * windowMs)),
            );
          } else {
            expect(timeout).toBe(connectTimeoutMs);
          }
        },
      ),
    );
  });

  it("never gives up a budget-paced attempt before 4 × the slowest recent handshake (a loaded server is slow, not gone)", () => {
    const planner = new ReconnectPlanner(options());
    const random = seededRandom(1);
    planner.onOpened(3_000); // the last handshake took 3 s
    planner.onBudget(0, random, { windowMs: 4_200, validForMs: 1_800_000 });
    const d = planner.onDrop(10, random);
    expect(d.kind === "wait" && d.cause).toBe("budget");
    expect(planner.attemptTimeoutMs(10, 20_000)).toBe(12_000);
    planner.onOpened(100); // faster handshakes since: the margin decays by half at each
    planner.onOpened(100);
    expect(planner.attemptTimeoutMs(10, 20_000)).toBe(3_780); // back to 0.9 × the window
    planner.onOpened(Number.NaN); // a nonsense duration is ignored
    planner.onOpened(-5);
    expect(planner.attemptTimeoutMs(10, 20_000)).toBe(3_780);
  });

  it("brings a herd back within about one window of a host that swallowed its attempts for 10 minutes, with a window far shorter than the connect timeout", () => {
    // N / C = 2 s (W 2.1 s) and a 20 s connect timeout: before, a client whose attempt was hanging when the
    // host returned waited out the rest of its 20 s (the storm lab: T99 5.59 × N / C).
    const n = 2_000;
    const windowMs = 2_100;
    const random = seededRandom(7);
    const returnAt = 600_000;
    const reachedAt: number[] = [];
    for (let c = 0; c < n; c++) {
      const planner = new ReconnectPlanner(options());
      planner.onBudget(0, random, { windowMs, validForMs: 1_800_000 });
      const drop = planner.onDrop(0, random);
      let now = drop.kind === "wait" ? drop.delayMs : 0;
      for (;;) {
        const timeout = planner.attemptTimeoutMs(now, 20_000);
        // The host answers an attempt that starts once it is back; one that started before hangs until its timeout.
        if (now >= returnAt) break;
        now += timeout;
        const next = planner.onFailure(now, random);
        now += next.kind === "wait" ? next.delayMs : 0;
      }
      reachedAt.push(now - returnAt);
    }
    reachedAt.sort((a, b) => a - b);
    // Measured: every client's first attempt after the return starts within one window of it.
    expect(reachedAt[n - 1]).toBeLessThanOrEqual(windowMs);
    expect(reachedAt[Math.floor(n / 2)]).toBeLessThan(windowMs * 0.6);
  });
});

describe("a hinted wait under a budget", () => {
  it("is never held longer than the window by a backoff grown over many refusals, and never shorter than the hint (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 120_000 }),
        fc.array(fc.integer({ min: 1, max: 60_000 }), { minLength: 1, maxLength: 30 }),
        fc.integer(),
        (windowMs, hints, seed) => {
          const random = seededRandom(seed);
          const planner = new ReconnectPlanner(options());
          planner.onBudget(0, random, { windowMs, validForMs: 3_600_000 });
          let now = 0;
          for (const delayMs of hints) {
            const d = planner.onFailure(now, random, { delayMs, source: "connect-error", spreadMs: 0 });
            if (d.kind !== "wait") return;
            expect(d.delayMs).toBeGreaterThanOrEqual(delayMs);
            expect(d.delayMs).toBeLessThanOrEqual(Math.max(delayMs, windowMs));
            now += d.delayMs;
          }
        },
      ),
    );
  });

  it("keeps the backoff as the floor without a budget: the 6th refusal with a 1 ms hint waits at least the backoff's 8 s", () => {
    const planner = new ReconnectPlanner(options());
    const random = seededRandom(3);
    let last = 0;
    for (let i = 0; i < 6; i++) {
      const d = planner.onFailure(i * 100_000, random, { delayMs: 1, source: "connect-error", spreadMs: 0 });
      last = d.kind === "wait" ? d.delayMs : 0;
    }
    expect(last).toBeGreaterThanOrEqual(8_000);
  });
});

describe("admission told the budget's window", () => {
  it("books no appointment more than one window out and sends a client past it back one window later", () => {
    const windowMs = 30_000;
    const admission = new AdmissionController(
      { ratePerSecond: 100, budgetWindowMs: windowMs, spreadMs: 2_500 },
      0,
    );
    const hints: { retryAfterMs: number; spreadMs?: number }[] = [];
    for (let i = 0; i < 10_000; i++) {
      const decision = admission.decide(i); // 1,000 arrivals a second: 10 × the rate
      if (!decision.admit) hints.push(decision.hint);
    }
    const booked = hints.filter((h) => h.retryAfterMs < windowMs);
    const past = hints.filter((h) => h.retryAfterMs >= windowMs);
    expect(booked.length).toBeGreaterThan(2_000);
    expect(past.length).toBeGreaterThan(5_000);
    // Under a budget the window a client picks its moment in is ten slot spacings (100 ms at 100/s), at
    // least 250 ms, at most spreadMs.
    for (const h of past) expect(h).toEqual({ retryAfterMs: windowMs, spreadMs: 250 });
    expect(admission.backlogMs(9_999)).toBeLessThanOrEqual(windowMs + 10);
  });

  it("books at least MIN_BUDGET_HORIZON_MS ahead under a window of a few seconds", () => {
    const admission = new AdmissionController({ ratePerSecond: 100, budgetWindowMs: 2_000 }, 0);
    let farthest = 0;
    for (let i = 0; i < 5_000; i++) {
      const decision = admission.decide(i / 2);
      if (!decision.admit && decision.hint.retryAfterMs !== 2_000)
        farthest = Math.max(farthest, decision.hint.retryAfterMs);
    }
    expect(farthest).toBeGreaterThan(MIN_BUDGET_HORIZON_MS - 500);
    expect(farthest).toBeLessThanOrEqual(MIN_BUDGET_HORIZON_MS);
  });

  it("keeps the [horizon, 1.5 × horizon] spread without a window", () => {
    const admission = new AdmissionController({ ratePerSecond: 10, maxBookAheadMs: 1_000 }, 0);
    let hint: { retryAfterMs: number; spreadMs?: number } | undefined;
    for (let i = 0; i < 100; i++) {
      const decision = admission.decide(0);
      if (!decision.admit) hint = decision.hint;
    }
    expect(hint).toEqual({ retryAfterMs: 1_000, spreadMs: 500 });
  });

  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "10"]) {
    it(`rejects budgetWindowMs ${String(bad)} with a RangeError naming the option`, () => {
      expect(() => new AdmissionController({ ratePerSecond: 10, budgetWindowMs: bad as number }, 0)).toThrow(
        /budgetWindowMs/,
      );
    });
  }
});
