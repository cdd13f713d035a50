/**
 * Where admission decisions are made, as an interface that may answer later: the in-memory
 * {@link AdmissionController} (the default of `wsAdmission` and `socketIoAdmission`, decided in the same
 * tick, nothing to set up) or a schedule shared by every node (`redisAdmission` in
 * `resilient-reconnect/server/redis`), which answers after a round trip. The adapters take either: without a
 * `schedule` option they decide synchronously on their own controller, exactly as before; with one they
 * await it, holding at most `maxPending` upgrades or handshakes while it answers.
 */
import type { HintPayload } from "../policy/hints.js";
import type { AdmissionDecision } from "./admission.js";

/** An admission schedule the adapters can await (see the module comment). */
export interface AdmissionSchedule {
  /**
   * Admit the client arriving now, or refuse it with its appointment; the same contract as
   * {@link AdmissionController.decide}, at the schedule's own clock. `key`: who is asking (undefined: the
   * shared bucket alone); `cost`: the tokens an admission takes (default 1).
   */
  decide(key?: string, cost?: number): AdmissionDecision | PromiseLike<AdmissionDecision>;
}

/** Default most decisions one adapter awaits at once (`maxPending`). */
export const DEFAULT_MAX_PENDING_DECISIONS = 1_000;

/**
 * What a request is told when `maxPending` decisions are already awaited: come back in 1–3 s. Refusing it
 * costs nothing shared (no round trip, no slot), so it must not be told a precise slot it does not have.
 */
export const PENDING_FULL_HINT: Readonly<HintPayload> = Object.freeze({
  retryAfterMs: 1_000,
  spreadMs: 2_000,
});

/** Checks the adapters' `schedule` and `maxPending` options; returns the bound. */
export function checkSchedule(
  owner: string,
  schedule: unknown,
  maxPending: unknown,
): AdmissionSchedule | undefined {
  if (schedule === undefined) {
    if (maxPending !== undefined) {
      throw new TypeError(
        `${owner}: maxPending bounds the decisions awaited from a schedule; pass schedule too`,
      );
    }
    return undefined;
  }
  if (
    schedule === null ||
    typeof schedule !== "object" ||
    typeof (schedule as AdmissionSchedule).decide !== "function"
  ) {
    throw new TypeError(
      `${owner}: schedule must have decide(key, cost) (e.g. redisAdmission(...)); got ${String(schedule)}`,
    );
  }
  return schedule as AdmissionSchedule;
}

/** Checks `maxPending`: an integer >= 1. */
export function checkMaxPending(owner: string, value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_PENDING_DECISIONS;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new RangeError(`${owner}: maxPending must be an integer >= 1; got ${String(value)}`);
  }
  return value as number;
}
