import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  defaultCircuitBreakerOptions,
  resolveCircuitBreakerOptions,
} from "../../src/policy/circuit-breaker.js";

/** Small numbers so each test reads at a glance. Ratio rules are off unless a test turns them on. */
const opts: Partial<CircuitBreakerOptions> = {
  consecutiveFailures: 3,
  failureRatio: 1,
  minimumAttempts: 1000,
  windowMs: 10_000,
  openMs: 1_000,
  maxOpenMs: 8_000,
};

/** A breaker opened once at `at`; the default jitter draw of 0 makes the open period openMs / 2. */
function openedBreaker(at = 0, random = 0): CircuitBreaker {
  const breaker = new CircuitBreaker(opts);
  for (let i = 0; i < 3; i++) breaker.recordFailure(at, random);
  return breaker;
}

function openPeriod(breaker: CircuitBreaker): number {
  const s = breaker.snapshot();
  if (s.kind !== "open") throw new Error(`expected open, got ${s.kind}`);
  return s.untilMs - s.openedAtMs;
}

describe("CircuitBreaker: opening", () => {
  it("admits attempts while closed, without a probe", () => {
    expect(new CircuitBreaker(opts).tryAcquire(0)).toEqual({ allowed: true, probe: false });
  });

  it("stays closed one failure short of the consecutive threshold", () => {
    const breaker = new CircuitBreaker(opts);
    breaker.recordFailure(0, 0);
    expect(breaker.recordFailure(0, 0)).toBe("closed");
  });

  it("opens after the configured number of consecutive failures", () => {
    const breaker = new CircuitBreaker(opts);
    breaker.recordFailure(0, 0);
    breaker.recordFailure(1, 0);
    expect(breaker.recordFailure(2, 0)).toBe("open");
    expect(breaker.state).toBe("open");
  });

  it("restarts the consecutive count after a success", () => {
    const breaker = new CircuitBreaker(opts);
    breaker.recordFailure(0, 0);
    breaker.recordFailure(0, 0);
    breaker.recordSuccess(0);
    breaker.recordFailure(0, 0);
    expect(breaker.recordFailure(0, 0)).toBe("closed");
  });

  it("opens when the failure share over the window reaches the ratio", () => {
    const breaker = new CircuitBreaker({
      ...opts,
      consecutiveFailures: 100,
      failureRatio: 0.5,
      minimumAttempts: 4,
    });
    breaker.recordFailure(0, 0);
    breaker.recordSuccess(1);
    breaker.recordFailure(2, 0);
    expect(breaker.recordFailure(3, 0)).toBe("open");
  });

  it("ignores the ratio until the window holds minimumAttempts outcomes", () => {
    const breaker = new CircuitBreaker({
      ...opts,
      consecutiveFailures: 100,
      failureRatio: 0.5,
      minimumAttempts: 5,
    });
    breaker.recordFailure(0, 0);
    breaker.recordSuccess(1);
    breaker.recordFailure(2, 0);
    expect(breaker.recordFailure(3, 0)).toBe("closed");
  });

  it("forgets outcomes older than windowMs when judging the ratio", () => {
    const breaker = new CircuitBreaker({
      ...opts,
      consecutiveFailures: 100,
      failureRatio: 0.5,
      minimumAttempts: 4,
    });
    breaker.recordFailure(0, 0);
    breaker.recordFailure(0, 0);
    breaker.recordSuccess(20_000);
    breaker.recordSuccess(20_001);
    expect(breaker.recordFailure(20_002, 0)).toBe("closed");
  });

  it("keeps at most 1000 outcomes in the window", () => {
    const breaker = new CircuitBreaker(opts);
    for (let i = 0; i < 1500; i++) breaker.recordSuccess(0);
    const s = breaker.snapshot();
    expect(s.kind === "closed" && s.window.length).toBe(1000);
  });
});

describe("CircuitBreaker: open and half-open", () => {
  it("refuses attempts while open and says how long to wait", () => {
    expect(openedBreaker(0).tryAcquire(100)).toEqual({ allowed: false, retryInMs: 400 });
  });

  it("reports when an open breaker will let its probe through", () => {
    expect(openedBreaker(0).reopensAt).toBe(500);
  });

  it("has no reopening time while closed", () => {
    expect(new CircuitBreaker(opts).reopensAt).toBeUndefined();
  });

  it("still says open past the open period until an attempt is asked for", () => {
    const breaker = openedBreaker(0);
    expect(breaker.state).toBe("open");
    breaker.tryAcquire(10_000);
    expect(breaker.state).toBe("half-open");
  });

  it("admits one probe once the open period has passed", () => {
    expect(openedBreaker(0).tryAcquire(500)).toEqual({ allowed: true, probe: true });
  });

  it("refuses a second attempt while the probe is in flight", () => {
    const breaker = openedBreaker(0);
    breaker.tryAcquire(500);
    expect(breaker.tryAcquire(501)).toEqual({ allowed: false, retryInMs: 0 });
  });

  it("admits a new probe after the one in flight is released", () => {
    const breaker = openedBreaker(0);
    breaker.tryAcquire(500);
    breaker.releaseProbe();
    expect(breaker.tryAcquire(501)).toEqual({ allowed: true, probe: true });
  });

  it("closes when the probe succeeds", () => {
    const breaker = openedBreaker(0);
    breaker.tryAcquire(500);
    breaker.recordSuccess(600);
    expect(breaker.state).toBe("closed");
  });

  it("starts again from openMs after a successful probe", () => {
    const breaker = openedBreaker(0);
    breaker.tryAcquire(500);
    breaker.recordFailure(600, 0);
    breaker.tryAcquire(2_000);
    breaker.recordSuccess(2_000);
    for (let i = 0; i < 3; i++) breaker.recordFailure(3_000, 0);
    expect(openPeriod(breaker)).toBe(500);
  });

  it("reopens for twice as long when the probe fails", () => {
    const breaker = openedBreaker(0);
    breaker.tryAcquire(500);
    expect(breaker.recordFailure(600, 0)).toBe("open");
    expect(openPeriod(breaker)).toBe(1_000);
  });

  it("caps the doubling open period at maxOpenMs", () => {
    const breaker = openedBreaker(0);
    let now = 0;
    for (let i = 0; i < 10; i++) {
      now = breaker.reopensAt ?? now;
      breaker.tryAcquire(now);
      breaker.recordFailure(now, 0.999999);
    }
    expect(openPeriod(breaker)).toBeCloseTo(8_000, 0);
    expect(openPeriod(breaker)).toBeLessThanOrEqual(8_000);
  });

  it("opens for half the period with a jitter draw of 0", () => {
    expect(openPeriod(openedBreaker(0, 0))).toBe(500);
  });

  it("opens for nearly the whole period with the largest draw below 1", () => {
    const period = openPeriod(openedBreaker(0, 1 - Number.EPSILON));
    expect(period).toBeLessThan(1_000);
    expect(period).toBeGreaterThan(999);
  });

  it.each([Number.NaN, -0.1, 1, Number.POSITIVE_INFINITY])("treats a draw of %s as 0.5", (random) => {
    expect(openPeriod(openedBreaker(0, random))).toBe(750);
  });

  it("keeps the open period within maxOpenMs for any count of openings", () => {
    const restored = { kind: "half-open", opens: Number.MAX_SAFE_INTEGER, probeInFlight: true } as const;
    const breaker = new CircuitBreaker(opts, restored);
    breaker.recordFailure(0, 0);
    expect(openPeriod(breaker)).toBe(4_000);
  });

  it("ignores a failure reported while open", () => {
    const breaker = openedBreaker(0);
    const before = breaker.snapshot();
    expect(breaker.recordFailure(100, 0.9)).toBe("open");
    expect(breaker.snapshot()).toEqual(before);
  });

  it("ignores a success reported while open", () => {
    const breaker = openedBreaker(0);
    const before = breaker.snapshot();
    breaker.recordSuccess(100);
    expect(breaker.snapshot()).toEqual(before);
  });

  it("refuses a clock reading that is not finite", () => {
    expect(() => new CircuitBreaker(opts).tryAcquire(Number.NaN)).toThrow(RangeError);
  });
});

describe("CircuitBreaker: state", () => {
  it("behaves identically after its snapshot round-trips through JSON", () => {
    const original = openedBreaker(0, 0.3);
    original.tryAcquire(1_000);
    original.recordFailure(1_000, 0.7);
    const restored = new CircuitBreaker(opts, JSON.parse(JSON.stringify(original.snapshot())));
    const run = (b: CircuitBreaker) => [
      b.tryAcquire(2_000),
      b.tryAcquire(5_000),
      b.recordFailure(5_001, 0.2),
      b.snapshot(),
    ];
    expect(run(restored)).toEqual(run(original));
  });

  it("round-trips a closed breaker's window through JSON", () => {
    const breaker = new CircuitBreaker(opts);
    breaker.recordFailure(1, 0);
    breaker.recordSuccess(2);
    const snapshot = breaker.snapshot();
    expect(new CircuitBreaker(opts, JSON.parse(JSON.stringify(snapshot))).snapshot()).toEqual(snapshot);
  });

  it("hands out a snapshot that does not share memory with the breaker", () => {
    const breaker = new CircuitBreaker(opts);
    breaker.recordFailure(1, 0);
    const snapshot = breaker.snapshot();
    if (snapshot.kind === "closed") snapshot.window.push([1, 1], [1, 1]);
    expect(breaker.recordFailure(1, 0)).toBe("closed");
  });

  it("does not share memory with the state it was restored from", () => {
    const state: BreakerState = { kind: "closed", opens: 0, consecutiveFailures: 0, window: [] };
    const breaker = new CircuitBreaker(opts, state);
    breaker.recordSuccess(1);
    expect(state.window).toEqual([]);
  });

  it("returns to closed with no history on reset", () => {
    const breaker = openedBreaker(0);
    breaker.reset();
    expect(breaker.snapshot()).toEqual({ kind: "closed", opens: 0, consecutiveFailures: 0, window: [] });
  });

  it.each<[string, unknown]>([
    ["null", null],
    ["a string", "open"],
    ["an unknown kind", { kind: "ajar", opens: 0 }],
    ["a negative opens", { kind: "closed", opens: -1, consecutiveFailures: 0, window: [] }],
    ["a fractional opens", { kind: "half-open", opens: 0.5, probeInFlight: false }],
    ["a missing window", { kind: "closed", opens: 0, consecutiveFailures: 0 }],
    [
      "a window entry with NaN time",
      { kind: "closed", opens: 0, consecutiveFailures: 0, window: [[null, 1]] },
    ],
    ["a window entry flagged 2", { kind: "closed", opens: 0, consecutiveFailures: 0, window: [[0, 2]] }],
    [
      "an over-long window",
      { kind: "closed", opens: 0, consecutiveFailures: 0, window: Array(1001).fill([0, 0]) },
    ],
    ["an open state without untilMs", { kind: "open", opens: 1, openedAtMs: 0 }],
    ["an open state ending before it began", { kind: "open", opens: 1, openedAtMs: 10, untilMs: 5 }],
    ["a half-open state with a string flag", { kind: "half-open", opens: 1, probeInFlight: "yes" }],
  ])("refuses to restore %s with a TypeError", (_, state) => {
    expect(() => new CircuitBreaker(opts, state as BreakerState)).toThrow(TypeError);
  });

  it("names the offending field of a restored state", () => {
    const state = { kind: "open", opens: 1, openedAtMs: 0, untilMs: "soon" } as unknown as BreakerState;
    expect(() => new CircuitBreaker(opts, state)).toThrow(
      'CircuitBreaker state.untilMs must be a finite number >= openedAtMs; got "soon"',
    );
  });
});

describe("resolveCircuitBreakerOptions", () => {
  it("fills in the documented defaults", () => {
    expect(resolveCircuitBreakerOptions(undefined)).toEqual({
      consecutiveFailures: 10,
      failureRatio: 0.8,
      windowMs: 120_000,
      minimumAttempts: 10,
      openMs: 30_000,
      maxOpenMs: 60_000,
    });
  });

  it("returns frozen options, never the exported defaults; the defaults resolve to one shared object", () => {
    const resolved = resolveCircuitBreakerOptions({});
    expect(resolved).not.toBe(defaultCircuitBreakerOptions);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(() => {
      (resolved as { openMs: number }).openMs = 1;
    }).toThrow(TypeError);
    expect(defaultCircuitBreakerOptions.openMs).toBe(30_000);
    // One copy for every breaker with the defaults (memory per socket), and resolving twice is free.
    expect(resolveCircuitBreakerOptions(undefined)).toBe(resolveCircuitBreakerOptions(undefined));
    expect(resolveCircuitBreakerOptions(resolved)).toBe(resolved);
    expect(new CircuitBreaker().options).toBe(resolveCircuitBreakerOptions(undefined));
  });

  it("raises the default maxOpenMs to a larger openMs", () => {
    expect(resolveCircuitBreakerOptions({ openMs: 600_000 }).maxOpenMs).toBe(600_000);
  });

  it.each<[string, unknown, string]>([
    ["consecutiveFailures", 0, "an integer >= 1; got 0"],
    ["consecutiveFailures", 2.5, "an integer >= 1; got 2.5"],
    ["failureRatio", 1.5, "a number in (0, 1]; got 1.5"],
    ["failureRatio", 0, "a number in (0, 1]; got 0"],
    ["failureRatio", Number.NaN, "a number in (0, 1]; got NaN"],
    ["windowMs", Number.POSITIVE_INFINITY, "a finite number > 0; got Infinity"],
    ["minimumAttempts", 1001, "an integer in [1, 1000]; got 1001"],
    ["openMs", -5, "a finite number > 0; got -5"],
    ["maxOpenMs", 0, "a finite number > 0; got 0"],
  ])("refuses %s = %s with a RangeError naming both", (key, value, expected) => {
    expect(() => resolveCircuitBreakerOptions({ [key]: value })).toThrow(
      new RangeError(`CircuitBreaker: ${key} must be ${expected}`),
    );
  });

  it("refuses a maxOpenMs below openMs", () => {
    expect(() => resolveCircuitBreakerOptions({ openMs: 10_000, maxOpenMs: 5_000 })).toThrow(
      new RangeError("CircuitBreaker: maxOpenMs must be >= openMs (10000); got 5000"),
    );
  });

  it("refuses a non-number with a TypeError naming the option and value", () => {
    const input = { openMs: "30s" } as unknown as Partial<CircuitBreakerOptions>;
    expect(() => resolveCircuitBreakerOptions(input)).toThrow(
      new TypeError('CircuitBreaker: openMs must be a finite number > 0; got "30s"'),
    );
  });

  it("refuses an unknown key with a TypeError naming it", () => {
    const input = { openMS: 1 } as unknown as Partial<CircuitBreakerOptions>;
    expect(() => resolveCircuitBreakerOptions(input)).toThrow(
      new TypeError('CircuitBreaker: unknown option "openMS" (did you mean "openMs"?)'),
    );
  });

  it("refuses options that are not an object", () => {
    expect(() => resolveCircuitBreakerOptions(null as unknown as undefined)).toThrow(TypeError);
  });

  it("names the caller and the options under the given prefix", () => {
    expect(() => resolveCircuitBreakerOptions({ openMs: 0 }, "ResilientSocket", "circuitBreaker.")).toThrow(
      /^ResilientSocket: circuitBreaker\.openMs must be /,
    );
  });

  it("validates the options given to the constructor", () => {
    expect(() => new CircuitBreaker({ failureRatio: 2 })).toThrow(RangeError);
  });
});

describe("the breaker's documented defaults", () => {
  it("says in each option's JSDoc the default the code uses (maxOpenMs 60,000, not the 300,000 it once said)", () => {
    const source = readFileSync(join(import.meta.dirname, "../../src/policy/circuit-breaker.ts"), "utf8");
    const body = /export interface CircuitBreakerOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
    const documented = Object.fromEntries(
      [...body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(\w+):/g)].map(([, doc = "", name = ""]) => [
        name,
        Number(/Default (\d[\d_]*(?:\.\d+)?)/.exec(doc)?.[1]?.replace(/_/g, "")),
      ]),
    );
    expect(documented).toEqual({ ...defaultCircuitBreakerOptions });
    expect(documented.maxOpenMs).toBe(60_000);
  });
});
