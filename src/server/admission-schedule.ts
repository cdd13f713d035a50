/**
 * Where admission decisions are made, as an interface that may answer later: the in-memory
 * {@link AdmissionController} (the default of `wsAdmission` and `socketIoAdmission`, decided in the same
 * tick, nothing to set up) or a schedule shared by every node (`redisAdmission` in
 * `resilient-reconnect/server/redis`), which answers after a round trip. The adapters take either: without a
 * `schedule` option they decide synchronously on their own controller, exactly as before; with one they
 * await it, holding at most `maxPending` upgrades or handshakes while it answers.
 */
import { rejectUnknown } from "../options-check.js";
import type { HintPayload } from "../protocol/hints.js";
import {
  AdmissionController,
  type AdmissionDecision,
  type AdmissionOptions,
  admissionPart,
  resolveAdmissionOptions,
} from "./admission.js";

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

/**
 * What both adapters make of their options once their own are checked: the schedule they await and its
 * `maxPending` bound, or without one their own controller from the admission options. The admission options
 * are checked under the adapter's name (`where`; the controller would name itself), with the adapter's own
 * keys beside them; `ratePerSecond` beside a schedule is refused, it belongs to the schedule.
 */
export function adapterDecider(
  where: string,
  options: object,
  ownKeys: readonly string[],
  nowMs: number,
):
  | { readonly schedule: AdmissionSchedule; readonly maxPending: number; readonly controller?: undefined }
  | { readonly schedule?: undefined; readonly maxPending: 0; readonly controller: AdmissionController } {
  const { schedule: given, maxPending: bound } = options as { schedule?: unknown; maxPending?: unknown };
  const schedule = checkSchedule(where, given, bound);
  if (schedule === undefined) {
    resolveAdmissionOptions(options as AdmissionOptions, where, ownKeys);
    return { maxPending: 0, controller: new AdmissionController(admissionPart(options), nowMs) };
  }
  if ((options as Partial<AdmissionOptions>).ratePerSecond !== undefined) {
    throw new TypeError(
      `${where}: ratePerSecond belongs to the schedule (e.g. redisAdmission({ ratePerSecond })), not beside it`,
    );
  }
  rejectUnknown(where, options, [...ownKeys, "schedule", "maxPending"]);
  return { schedule, maxPending: checkMaxPending(where, bound) };
}
