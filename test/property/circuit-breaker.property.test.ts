import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker, type CircuitBreakerOptions } from "../../src/policy/circuit-breaker.js";

type Step =
  | { op: "advance"; ms: number }
  | { op: "acquire" }
  | { op: "success" }
  | { op: "failure"; random: number }
  | { op: "release" };

const options: fc.Arbitrary<CircuitBreakerOptions> = fc
  .record({
    consecutiveFailures: fc.integer({ min: 1, max: 6 }),
    failureRatio: fc.integer({ min: 1, max: 100 }).map((n) => n / 100),
    windowMs: fc.integer({ min: 1, max: 200_000 }),
    minimumAttempts: fc.integer({ min: 1, max: 20 }),
    openMs: fc.integer({ min: 1, max: 60_000 }),
    extraMs: fc.integer({ min: 0, max: 600_000 }),
  })
  .map(({ extraMs, ...rest }) => ({ ...rest, maxOpenMs: rest.openMs + extraMs }));

const draw = fc.oneof(
  { weight: 9, arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, -1, 1, Number.POSITIVE_INFINITY) },
);

/** Weighted towards failures so runs open, probe, reopen and close many times. */
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 700_000 })),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ op: "acquire" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "success" as const }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("failure" as const), random: draw }) },
  { weight: 1, arbitrary: fc.constant({ op: "release" as const }) },
);

const start = fc.integer({ min: 0, max: 2 ** 41 });
const steps = fc.array(step, { minLength: 10, maxLength: 200, size: "large" });

/** Runs one step; returns the admission for acquire steps. */
function apply(
  breaker: CircuitBreaker,
  s: Step,
  now: number,
): ReturnType<CircuitBreaker["tryAcquire"]> | undefined {
  if (s.op === "acquire") return breaker.tryAcquire(now);
  if (s.op === "success") breaker.recordSuccess(now);
  if (s.op === "failure") breaker.recordFailure(now, s.random);
  if (s.op === "release") breaker.releaseProbe();
  return undefined;
}

function numbersIn(value: unknown): number[] {
  if (typeof value === "number") return [value];
  return typeof value === "object" && value !== null ? Object.values(value).flatMap(numbersIn) : [];
}

describe("CircuitBreaker properties", () => {
  it("never admits an attempt while open and before untilMs", () => {
    fc.assert(
      fc.property(options, start, steps, (o, t0, run) => {
        const breaker = new CircuitBreaker(o);
        let now = t0;
        for (const s of run) {
          if (s.op === "advance") now += s.ms;
          const before = breaker.snapshot();
          const admission = apply(breaker, s, now);
          if (admission && before.kind === "open" && now < before.untilMs) {
            expect(admission).toEqual({ allowed: false, retryInMs: before.untilMs - now });
          }
        }
      }),
    );
  });

  it("never has more than one probe in flight", () => {
    fc.assert(
      fc.property(options, start, steps, (o, t0, run) => {
        const breaker = new CircuitBreaker(o);
        let now = t0;
        let probeOutstanding = false;
        for (const s of run) {
          if (s.op === "advance") now += s.ms;
          const wasHalfOpen = breaker.state === "half-open";
          const admission = apply(breaker, s, now);
          if (admission?.allowed && admission.probe) {
            expect(probeOutstanding).toBe(false);
            probeOutstanding = true;
          }
          // An outcome reported while half-open, or a release, ends the probe.
          if ((wasHalfOpen && (s.op === "success" || s.op === "failure")) || s.op === "release") {
            probeOutstanding = false;
          }
          const snap = breaker.snapshot();
          expect(snap.kind === "half-open" && snap.probeInFlight).toBe(probeOutstanding);
        }
      }),
    );
  });

  it("keeps every open period within [openMs / 2, maxOpenMs]", () => {
    fc.assert(
      fc.property(options, start, steps, (o, t0, run) => {
        const breaker = new CircuitBreaker(o);
        let now = t0;
        for (const s of run) {
          if (s.op === "advance") now += s.ms;
          apply(breaker, s, now);
          const snap = breaker.snapshot();
          if (snap.kind === "open") {
            expect(snap.untilMs - snap.openedAtMs).toBeGreaterThanOrEqual(o.openMs / 2);
            expect(snap.untilMs - snap.openedAtMs).toBeLessThanOrEqual(o.maxOpenMs);
          }
        }
      }),
    );
  });

  it("keeps every number in the snapshot finite", () => {
    fc.assert(
      fc.property(options, start, steps, (o, t0, run) => {
        const breaker = new CircuitBreaker(o);
        let now = t0;
        for (const s of run) {
          if (s.op === "advance") now += s.ms;
          apply(breaker, s, now);
          for (const n of numbersIn(breaker.snapshot())) expect(Number.isFinite(n)).toBe(true);
        }
      }),
    );
  });

  it("behaves identically after a JSON round-trip at any point", () => {
    fc.assert(
      fc.property(options, start, steps, steps, (o, t0, before, after) => {
        const original = new CircuitBreaker(o);
        let now = t0;
        for (const s of before) {
          if (s.op === "advance") now += s.ms;
          apply(original, s, now);
        }
        const restored = new CircuitBreaker(o, JSON.parse(JSON.stringify(original.snapshot())));
        for (const s of after) {
          if (s.op === "advance") now += s.ms;
          expect(apply(restored, s, now)).toEqual(apply(original, s, now));
          expect(restored.snapshot()).toEqual(original.snapshot());
        }
      }),
    );
  });
});
