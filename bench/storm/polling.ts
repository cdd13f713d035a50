/**
 * An online yardstick for the brownout: servers that do not know how long their capacity stays low and
 * answer every refusal with one constant polling period P ("come back in [P / 2, 3P / 2]", no appointment),
 * in front of the same clients with the same connect-time budget (so the same first wave). The sweep runs a
 * family of periods at each brownout point and reports the best — chosen in hindsight, so it flatters the
 * family: no single P is best at every point, and a server would have to pick one before the storm.
 *
 * Where even the best period misses the goal, no server of this family meets it either; where ours is near
 * it, booking buys nothing a well-chosen constant period would not.
 */
import { AdmissionController } from "../../src/server/admission.js";
import type { AdmissionSetup } from "./server-model.js";

/** The periods tried (ms): half a second to 20 s. */
export const POLLING_PERIODS_MS: readonly number[] = [500, 1_000, 2_000, 5_000, 10_000, 20_000];

/**
 * A hint server that polls at `periodMs`: the library's token bucket decides (refusals charged as usual),
 * and every refusal is answered with [P / 2, 3P / 2] instead of an appointment.
 */
export function pollingAdmission(periodMs: number): AdmissionSetup {
  const retryAfterMs = Math.round(periodMs / 2);
  return {
    create: (options, nowMs, state) => {
      // Nothing is booked: every slot lies past a 1 ms horizon.
      const { budgetWindowMs: _w, budgetPopulation: _n, ...rest } = options;
      const inner = new AdmissionController({ ...rest, maxBookAheadMs: 1 }, nowMs, state);
      return {
        snapshot: () => inner.snapshot(),
        decide: (atMs) => {
          const decision = inner.decide(atMs);
          return decision.admit ? decision : { admit: false, hint: { retryAfterMs, spreadMs: periodMs } };
        },
      };
    },
  };
}
