/**
 * The planner's attempt cost (`attemptCost`) on the admission branch's per-key `decide(nowMs, key?, cost)`:
 * a cheap resume takes its share of a token on the keyed path as on the shared one, and a cost that would
 * mint tokens or never fit the bucket is a clear error naming it, not a silent hole in the rate.
 */
import { describe, expect, it } from "vitest";
import { AdmissionController, attemptCost } from "../../src/server/index.js";

describe("attempt cost on admission decisions", () => {
  it("admits five resumes for the token one login takes, with a key as without", () => {
    const resume = attemptCost("resume");
    for (const keyOf of [() => undefined, (i: number) => `user-${i}`]) {
      const controller = new AdmissionController({ ratePerSecond: 1, burst: 1 }, 0);
      const admitted = Array.from({ length: 6 }, (_, i) => controller.decide(0, keyOf(i), resume).admit);
      expect(admitted).toEqual([true, true, true, true, true, false]);
      expect(controller.snapshot().tokens).toBeLessThan(1e-9);
    }
  });

  it("charges a login a whole token on the keyed path", () => {
    const controller = new AdmissionController({ ratePerSecond: 1, burst: 1 }, 0);
    expect(controller.decide(0, "a", attemptCost("resume")).admit).toBe(true);
    expect(controller.decide(0, "b", attemptCost("login")).admit).toBe(false);
  });

  it("rejects a cost that is not a finite number in (0, burst], naming it, before touching the bucket", () => {
    const controller = new AdmissionController({ ratePerSecond: 10, burst: 2 }, 0);
    for (const cost of [-1, 0, Number.NaN, Number.POSITIVE_INFINITY, 3, "1" as unknown as number]) {
      expect(() => controller.decide(0, undefined, cost)).toThrow(RangeError);
      expect(() => controller.decide(0, "k", cost)).toThrow(/cost/);
    }
    // A negative cost would have minted tokens: the bucket is untouched.
    expect(controller.snapshot().tokens).toBe(2);
    expect(controller.trackedKeys).toBe(0);
  });
});
