/**
 * The connect-time reconnect budget, pure: the wire format's bounds, the server's announcer, the planner's
 * pacing on a virtual clock, and the herd it shapes — N planners that lost their server together come back
 * at about C per second whenever it returns.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decorrelatedJitter,
  exponentialNoJitter,
  ResilientSocket,
  type RetryEvent,
  seededRandom,
  VirtualClock,
} from "../../src/index.js";
import {
  type BudgetPayload,
  encodeBudgetFrame,
  isBudgetFrame,
  MAX_BUDGET_VALID_MS,
  type PlannerOptions,
  ReconnectPlanner,
  readBudget,
  readBudgetFrame,
} from "../../src/internals.js";
import { holdBudget, MAX_BUDGET_ATTEMPTS, MIN_BUDGET_PACED_MS } from "../../src/policy/budget.js";
import { AdmissionController, reconnectBudget } from "../../src/server/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const options = (overrides: Partial<PlannerOptions> = {}): PlannerOptions => ({
  backoff: exponentialNoJitter({ baseMs: 100, capMs: 10_000 }),
  circuitBreaker: false,
  maxDelayMs: 60_000,
  maxAttempts: Number.POSITIVE_INFINITY,
  hintSpreadRatio: 0.25,
  ...overrides,
});
const waitOf = (d: ReturnType<ReconnectPlanner["onFailure"]>) => (d.kind === "wait" ? d : undefined);

describe("budget wire format", () => {
  it("reads a well-formed budget as it is", () => {
    expect(readBudget({ windowMs: 50_000, validForMs: 600_000 })).toEqual({
      budget: { windowMs: 50_000, validForMs: 600_000 },
    });
  });

  it("raises a window under a second to one second and says so", () => {
    const reading = readBudget({ windowMs: 0, validForMs: 1_000 });
    expect(reading.budget?.windowMs).toBe(1_000);
    expect(reading.problem).toMatch(/raised/);
  });

  it("cuts a validity of 10^15 ms to an hour and says so", () => {
    const reading = readBudget({ windowMs: 5_000, validForMs: 1e15 });
    expect(reading.budget?.validForMs).toBe(MAX_BUDGET_VALID_MS);
    expect(reading.problem).toMatch(/cut/);
  });

  for (const bad of [
    null,
    42,
    "x",
    [1],
    { windowMs: "5" },
    { windowMs: -1, validForMs: 5 },
    { windowMs: 5 },
  ]) {
    it(`gives no budget for ${JSON.stringify(bad)} and reports it`, () => {
      const reading = readBudget(bad);
      expect(reading.budget).toBeUndefined();
      expect(reading.problem).toMatch(/budget ignored/);
    });
  }

  it("reads a slot in [0, window) and ignores any other, saying so, keeping the budget", () => {
    expect(readBudget({ windowMs: 10_000, validForMs: 60_000, slotMs: 2_500 })).toEqual({
      budget: { windowMs: 10_000, validForMs: 60_000, slotMs: 2_500 },
    });
    for (const slotMs of [-1, 10_000, 1e300, Number.NaN, "5", null, {}]) {
      const reading = readBudget({ windowMs: 10_000, validForMs: 60_000, slotMs });
      expect(reading.budget).toEqual({ windowMs: 10_000, validForMs: 60_000 });
      expect(reading.problem).toMatch(/^budget slot ignored: slotMs must be a finite number in \[0, 10000\)/);
    }
  });

  it("reads nothing through __proto__ and leaves Object.prototype alone", () => {
    const reading = readBudgetFrame('{"resilient:budget":{"__proto__":{"windowMs":1,"validForMs":1}}}');
    expect(reading.budget).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, "windowMs")).toBe(false);
  });

  it("round-trips a frame and recognises it by its prefix only", () => {
    const frame = encodeBudgetFrame({ windowMs: 5_000, validForMs: 60_000 });
    expect(isBudgetFrame(frame)).toBe(true);
    expect(readBudgetFrame(frame).budget).toEqual({ windowMs: 5_000, validForMs: 60_000 });
    for (const other of [
      '{"type":"resilient:budget"}',
      ' {"resilient:budget":{}}',
      42,
      { "resilient:budget": 1 },
    ])
      expect(isBudgetFrame(other)).toBe(false);
  });

  it("ignores an oversized or broken frame with a problem", () => {
    expect(readBudgetFrame(`{"resilient:budget":${"1".repeat(300)}}`).problem).toMatch(/characters/);
    expect(readBudgetFrame('{"resilient:budget":{').problem).toMatch(/JSON/);
  });
});

describe("reconnectBudget (server)", () => {
  it("announces W = N / C (with 5 % headroom by default) from the current population", () => {
    let n = 100_000;
    const budget = reconnectBudget({ population: () => n, ratePerSecond: 2_000 });
    expect(budget.payload()).toMatchObject({ windowMs: 52_500, validForMs: 1_800_000 });
    expect(
      reconnectBudget({ population: 100_000, ratePerSecond: 2_000, headroom: 1 }).payload().windowMs,
    ).toBe(50_000);
    n = 10;
    expect(budget.payload().windowMs).toBe(1_000);
  });

  it("sends the frame a client recognises, and the Socket.IO event", () => {
    const budget = reconnectBudget({
      population: 8_000,
      ratePerSecond: 2_000,
      validForMs: 60_000,
      headroom: 1,
      clock: { now: () => 0 },
    });
    const sent: string[] = [];
    budget.sendTo({ send: (data) => sent.push(data) });
    expect(readBudgetFrame(sent[0] as string)).toEqual({
      budget: { windowMs: 4_000, validForMs: 60_000, slotMs: 0 },
    });
    const emitted: unknown[] = [];
    budget.emitTo({ emit: (event, payload) => emitted.push([event, payload]) });
    // The second client served: 1 / φ of the way through the window.
    expect(emitted).toEqual([["resilient:budget", { windowMs: 4_000, validForMs: 60_000, slotMs: 2_472 }]]);
  });

  it("spreads the clients it serves evenly over one cycle, whenever each was served", () => {
    let now = 5_000;
    const windowMs = 50_000;
    const n = 1_000;
    const budget = reconnectBudget({
      population: n,
      ratePerSecond: 20,
      headroom: 1,
      clock: { now: () => now },
    });
    const random = seededRandom(7);
    const places: number[] = [];
    for (let i = 0; i < n; i++) {
      now += random() * 2_000; // served over half an hour
      const { slotMs, windowMs: w } = budget.payload();
      expect(w).toBe(windowMs);
      expect(slotMs).toBeGreaterThanOrEqual(0);
      expect(slotMs).toBeLessThan(windowMs);
      places.push((now + (slotMs as number)) % windowMs);
    }
    places.sort((a, b) => a - b);
    const gaps = places.map((p, i) =>
      i === 0 ? p + windowMs - (places[n - 1] as number) : p - (places[i - 1] as number),
    );
    // Independent random phases leave gaps from ~0 to ~7 × W / N; these stay within the three-distance bounds.
    expect(Math.max(...gaps)).toBeLessThan((2.7 * windowMs) / n);
    expect(Math.min(...gaps)).toBeGreaterThan((0.35 * windowMs) / n);
  });

  it("rejects bad options naming them", () => {
    expect(() => reconnectBudget({ population: 1, ratePerSecond: 0 })).toThrow(/ratePerSecond/);
    expect(() => reconnectBudget({ population: 1, ratePerSecond: 1, validForMs: 1e15 })).toThrow(
      /validForMs/,
    );
    expect(() => reconnectBudget({ population: -1, ratePerSecond: 1 })).toThrow(/population/);
    expect(() => reconnectBudget({ population: 1, ratePerSecond: 1, headroom: 0.5 })).toThrow(/headroom/);
    expect(() => reconnectBudget({ population: 1, ratePerSecond: 1, clock: {} as never })).toThrow(
      /reconnectBudget: clock must be an object with now\(\); got an object/,
    );
  });
});

describe("a budget window longer than the client's ceiling", () => {
  it("scales the server's slots into the ceiling instead of folding them onto its start", () => {
    // N / C past the 10-minute ceiling (200,000 clients at 300/s: W = 700 s): the window is cut to 600 s.
    const windowMs = 700_000;
    const maxDelayMs = 600_000;
    const at = (slotMs: number) =>
      holdBudget({ windowMs, validForMs: 1_800_000, slotMs }, 0, 0, maxDelayMs).firstSlotAt;
    expect(at(650_000)).toBeCloseTo((650 / 700) * 600_000, 6);
    // 1,000 slots spread evenly over W stay spread evenly over the ceiling: no stretch of it twice as dense.
    const phases = Array.from({ length: 1_000 }, (_, k) => at((k * windowMs) / 1_000));
    const perTenth = new Array(10).fill(0);
    for (const phase of phases) perTenth[Math.floor((phase / maxDelayMs) * 10)]++;
    expect(Math.max(...perTenth)).toBeLessThanOrEqual(101);
    expect(Math.min(...perTenth)).toBeGreaterThanOrEqual(99);
  });

  it("keeps every phase inside the cut window, whatever the slot and the window", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 3_600_000, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.double({ min: 1, max: 3_600_000, noNaN: true }),
        (windowMs, share, maxDelayMs) => {
          const held = holdBudget({ windowMs, validForMs: 1, slotMs: share * windowMs }, 0, 0, maxDelayMs);
          expect(held.firstSlotAt).toBeGreaterThanOrEqual(0);
          expect(held.firstSlotAt).toBeLessThan(held.windowMs);
          expect(held.windowMs).toBe(Math.min(windowMs, maxDelayMs));
        },
      ),
    );
  });
});

describe("the planner under a budget", () => {
  const budget: BudgetPayload = { windowMs: 10_000, validForMs: 60_000 };

  it("waits for its own slot after a silent loss, then once per window", () => {
    const planner = new ReconnectPlanner(options());
    planner.onBudget(0, () => 0.3, budget); // slots at 3 s, 13 s, 23 s, …
    expect(waitOf(planner.onDrop(1_000, () => 0.5))).toMatchObject({ delayMs: 2_000, cause: "budget" });
    expect(waitOf(planner.onFailure(3_050, () => 0.5))).toMatchObject({ delayMs: 9_950, cause: "budget" });
    expect(waitOf(planner.onFailure(13_050, () => 0.5))).toMatchObject({ delayMs: 9_950, cause: "budget" });
  });

  it("comes back at the slot the server gave it, not at a phase of its own", () => {
    const planner = new ReconnectPlanner(options());
    planner.onBudget(0, () => 0.3, { ...budget, slotMs: 7_000 }); // slots at 7 s, 17 s, …
    expect(waitOf(planner.onDrop(1_000, () => 0.5))).toMatchObject({ delayMs: 6_000, cause: "budget" });
    expect(waitOf(planner.onFailure(7_050, () => 0.5))).toMatchObject({ delayMs: 9_950, cause: "budget" });
  });

  it("lets a later hint win over the budget", () => {
    const planner = new ReconnectPlanner(options());
    planner.onBudget(0, () => 0.3, budget);
    const hint = { source: "connect-error" as const, delayMs: 500, spreadMs: 0 };
    expect(waitOf(planner.onFailure(1_000, () => 0, hint))).toMatchObject({ delayMs: 500, cause: "hint" });
  });

  it("falls back to its backoff once the budget has expired", () => {
    const planner = new ReconnectPlanner(options());
    planner.onBudget(0, () => 0.3, budget);
    expect(waitOf(planner.onFailure(55_000, () => 0.5))?.cause).toBe("backoff");
  });

  it("never parks a client beyond maxDelayMs, whatever window a server announces", () => {
    const planner = new ReconnectPlanner(options({ maxDelayMs: 20_000 }));
    planner.onBudget(
      0,
      () => 0.999,
      readBudget({ windowMs: 1e12, validForMs: 3_600_000 }).budget as BudgetPayload,
    );
    for (let t = 1; t < 200_000; t += 19_000) {
      const wait = waitOf(planner.onFailure(t, () => 0.5));
      expect(wait?.delayMs).toBeLessThanOrEqual(20_000);
    }
  });

  it("paces at most 15 minutes of one-second windows (900 attempts) between stable connections, even if re-announced on every open", () => {
    const planner = new ReconnectPlanner(options());
    const hostile = readBudget({ windowMs: 0, validForMs: 1e15 }).budget as BudgetPayload;
    let now = 0;
    let paced = 0;
    for (let i = 0; i < 1_200; i++) {
      planner.onBudget(now, () => 0, hostile); // a flapping server announcing on every brief open
      const wait = waitOf(planner.onFailure(now, () => 0.5));
      if (wait?.cause === "budget") paced++;
      now += wait?.delayMs ?? 0;
    }
    expect(paced).toBe(MIN_BUDGET_PACED_MS / 1_000);
    // Measured bound: the 1,200 attempts take at least 900 one-second windows plus the backoff's growth.
    expect(now).toBeGreaterThan(900 * 1_000 + 60_000);
  });

  it("keeps the cap at MAX_BUDGET_ATTEMPTS for windows of 7.5 s and more", () => {
    const planner = new ReconnectPlanner(options({ maxDelayMs: 600_000 }));
    planner.onBudget(0, () => 0, { windowMs: 30_000, validForMs: 3_600_000 });
    let now = 0;
    let paced = 0;
    for (let i = 0; i < 200; i++) {
      const wait = waitOf(planner.onFailure(now, () => 0.5));
      if (wait?.cause === "budget") paced++;
      now += wait?.delayMs ?? 0;
    }
    expect(paced).toBe(MAX_BUDGET_ATTEMPTS);
  });

  it("keeps paced attempts at least one window apart and every wait within the ceiling, whatever the budget and the times (property)", () => {
    fc.assert(
      fc.property(
        fc.anything(),
        fc.integer(),
        fc.array(fc.nat({ max: 120_000 }), { minLength: 1, maxLength: 40 }),
        (payload, seed, gaps) => {
          const planner = new ReconnectPlanner(
            options({ backoff: decorrelatedJitter(), maxDelayMs: 600_000 }),
          );
          const random = seededRandom(seed);
          const reading = readBudget(payload);
          if (reading.budget !== undefined) planner.onBudget(0, random, reading.budget);
          let now = 0;
          let lastPacedAttempt: number | undefined;
          for (const gap of gaps) {
            now += gap;
            const wait = waitOf(planner.onFailure(now, random));
            if (wait === undefined) return;
            expect(wait.delayMs).toBeGreaterThanOrEqual(0);
            expect(wait.delayMs).toBeLessThanOrEqual(600_000);
            if (wait.cause === "budget") {
              const at = now + wait.delayMs;
              if (lastPacedAttempt !== undefined)
                expect(at - lastPacedAttempt).toBeGreaterThanOrEqual((reading.budget?.windowMs ?? 0) - 1e-6);
              lastPacedAttempt = at;
              now = at;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("brings a herd that lost its server together back at about C per second, after 3 s and after 10 minutes alike", () => {
    const n = 20_000;
    const c = 1_000; // W = 20 s
    for (const outageMs of [3_000, 600_000]) {
      let servedAt = 0;
      const announcer = reconnectBudget({
        population: n,
        ratePerSecond: c,
        headroom: 1,
        clock: { now: () => servedAt },
      });
      const announced = announcer.payload();
      const random = seededRandom(outageMs);
      const perSecond = new Map<number, number>();
      let attempts = 0;
      for (let i = 0; i < n; i++) {
        const planner = new ReconnectPlanner(options({ backoff: decorrelatedJitter(), maxDelayMs: 600_000 }));
        servedAt = -random() * 60_000; // joined at different times
        planner.onBudget(servedAt, random, announcer.payload());
        let now = 0;
        let wait = waitOf(planner.onDrop(now, random));
        for (;;) {
          now += wait?.delayMs ?? Number.POSITIVE_INFINITY;
          attempts++;
          if (now >= outageMs) break; // the server is back: admitted
          wait = waitOf(planner.onFailure(now + 1, random)); // a dead port refuses within a millisecond
          now += 1;
        }
        const second = Math.floor((now - outageMs) / 1_000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      const busiest = Math.max(...perSecond.values());
      const lastSecond = Math.max(...perSecond.keys());
      expect(busiest).toBeLessThan(1.15 * c);
      expect(lastSecond).toBeLessThan(20); // everyone within one window of the return: T100 ≈ N / C
      // Live attempts: one each; dead-port attempts: one per window of the outage.
      expect(attempts / n).toBeLessThan(1 + outageMs / announced.windowMs + 1);
    }
  });
});

describe("slots from the server against phases of the clients' own", () => {
  it("bring a herd back that a bucket at its rate admits without a refusal, where own phases are refused", () => {
    // The live storm's numbers: N 5,000, C 100/s, W = 1.05 × N / C; a bucket holding a quarter second.
    const n = 5_000;
    const refusals = (slots: boolean) => {
      let servedAt = 0;
      const announcer = reconnectBudget({
        population: n,
        ratePerSecond: 100,
        clock: { now: () => servedAt },
      });
      const random = seededRandom(3);
      const attempts: number[] = [];
      for (let i = 0; i < n; i++) {
        servedAt = -random() * 20_000;
        const payload = announcer.payload();
        const planner = new ReconnectPlanner(options({ maxDelayMs: 600_000 }));
        planner.onBudget(servedAt, random, slots ? payload : { ...payload, slotMs: undefined });
        attempts.push(1_000 + (waitOf(planner.onDrop(1_000, random))?.delayMs ?? 0));
      }
      attempts.sort((a, b) => a - b);
      const bucket = new AdmissionController({ ratePerSecond: 100, burst: 25 }, 0);
      return attempts.filter((at) => !bucket.decide(at).admit).length;
    };
    expect(refusals(true)).toBe(0);
    expect(refusals(false)).toBeGreaterThan(10);
  });
});

describe("ResilientSocket with a budget", () => {
  it("keeps the budget frame from the app, paces its way back by it, and announces cause budget", () => {
    const clock = new VirtualClock(0);
    const transport = new FakeTransport(() => clock.now());
    const socket = new ResilientSocket({
      transport,
      clock,
      random: () => 0.5,
      autoConnect: false,
      stableAfterMs: 100,
    });
    const messages: unknown[] = [];
    const retries: RetryEvent[] = [];
    socket.on("message", (m) => messages.push(m));
    socket.on("retry", (r) => retries.push(r));
    socket.connect();
    transport.last.open();
    transport.last.message(encodeBudgetFrame({ windowMs: 8_000, validForMs: 60_000 })); // phase 4 s: slots 4 s, 12 s…
    transport.last.message("app");
    clock.advance(1_000);
    transport.last.close({ kind: "closed" });
    expect(messages).toEqual(["app"]);
    expect(retries[0]).toMatchObject({ cause: "budget", delayMs: 3_000 });
    clock.advance(3_000);
    expect(transport.attempts).toHaveLength(2);
    transport.last.close({ kind: "error" });
    expect(retries[1]).toMatchObject({ cause: "budget", delayMs: 8_000 });
    expect(socket.stats().plannedAt).toBe(12_000);
    void socket.close();
  });

  it("arms its one timer for the slot, not for its backoff", () => {
    const clock = new VirtualClock(0);
    const transport = new FakeTransport(() => clock.now());
    const socket = new ResilientSocket({
      transport,
      clock,
      random: () => 0.5,
      autoConnect: false,
      stableAfterMs: 100,
    });
    socket.connect();
    transport.last.open();
    transport.last.message(encodeBudgetFrame({ windowMs: 8_000, validForMs: 60_000 }));
    clock.advance(200);
    transport.last.close({ kind: "closed" });
    expect(socket.state).toBe("waiting");
    expect(socket.stats().nextAttemptAt).toBe(4_000);
    void socket.close();
  });
});
