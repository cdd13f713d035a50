import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decorrelatedJitter,
  equalJitter,
  fullJitter,
  readHintPayload,
  seededRandom,
  waveJitter,
} from "../../src/index.js";
import { defaultCircuitBreakerOptions as breaker, ReconnectPlanner } from "../../src/internals.js";

const strategies = [
  decorrelatedJitter(),
  fullJitter(),
  equalJitter(),
  decorrelatedJitter({ baseMs: 1, capMs: 1 }),
  waveJitter(),
  waveJitter({ baseMs: 1, capMs: 1, compactMaxMs: 1 }),
];

const event = fc.oneof(
  fc.record({ kind: fc.constant("failure" as const), hint: fc.option(fc.anything(), { nil: undefined }) }),
  fc.record({ kind: fc.constant("drop" as const), hint: fc.option(fc.anything(), { nil: undefined }) }),
  fc.record({ kind: fc.constant("stable" as const) }),
  fc.record({ kind: fc.constant("advance" as const), ms: fc.nat({ max: 10 * 60_000 }) }),
  fc.record({
    kind: fc.constant("hinted" as const),
    retryAfterMs: fc.oneof(fc.double(), fc.integer(), fc.constant(1e15)),
    spreadMs: fc.oneof(fc.double(), fc.integer()),
  }),
);

describe("planner properties", () => {
  it("every delay is finite and within [backoff floor, ceiling], whatever the hints and draws", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...strategies),
        fc.integer({ min: 1_000, max: 3_600_000 }),
        fc.boolean(),
        fc.integer(),
        fc.array(event, { maxLength: 60 }),
        (backoff, ceiling, withBreaker, seed, events) => {
          const maxDelayMs = Math.max(ceiling, backoff.capMs);
          const planner = new ReconnectPlanner({
            backoff,
            circuitBreaker: withBreaker ? { ...breaker } : false,
            maxDelayMs,
            maxAttempts: Number.POSITIVE_INFINITY,
            hintSpreadRatio: 0.25,
          });
          const random = seededRandom(seed);
          let now = 0;
          for (const e of events) {
            if (e.kind === "advance") now += e.ms;
            else if (e.kind === "stable") planner.onStable(now);
            else {
              const payload =
                e.kind === "hinted" ? { retryAfterMs: e.retryAfterMs, spreadMs: e.spreadMs } : e.hint;
              const hint = readHintPayload(payload, "connect-error", maxDelayMs).hint;
              const decision =
                e.kind === "drop" ? planner.onDrop(now, random, hint) : planner.onFailure(now, random, hint);
              if (decision.kind !== "wait") throw new Error("unexpected stop");
              expect(Number.isFinite(decision.delayMs)).toBe(true);
              expect(decision.delayMs).toBeGreaterThanOrEqual(backoff.minMs);
              // never less than its own backoff
              expect(decision.delayMs).toBeGreaterThanOrEqual(decision.backoffMs);
              expect(decision.delayMs).toBeLessThanOrEqual(maxDelayMs);
              // at least the hint; a hint cut to the ceiling is spread over the ceiling's last quarter
              if (hint !== undefined) {
                const floor = hint.delayMs < maxDelayMs ? hint.delayMs : 0.75 * maxDelayMs;
                expect(decision.delayMs).toBeGreaterThanOrEqual(floor);
              }
            }
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });

  it("while the breaker is open no attempt is allowed before its probe time", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.array(fc.nat({ max: 120_000 }), { minLength: 1, maxLength: 40 }),
        (seed, gaps) => {
          const planner = new ReconnectPlanner({
            backoff: decorrelatedJitter(),
            circuitBreaker: { ...breaker, consecutiveFailures: 3 },
            maxDelayMs: 600_000,
            maxAttempts: Number.POSITIVE_INFINITY,
            hintSpreadRatio: 0.25,
          });
          const random = seededRandom(seed);
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            const reopensAt = planner.circuit === "open" ? planner.reopensAt : undefined;
            const decision = planner.beforeAttempt(now);
            if (reopensAt !== undefined && now < reopensAt) expect(decision.kind).toBe("wait");
            if (decision.kind === "connect") planner.onFailure(now, random);
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });
});
