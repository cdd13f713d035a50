/**
 * The options of an {@link AdmissionController} (and of the adapters that build one): what each means, its
 * default, and the one place they are checked and filled in.
 */
import { badOption, numberOption, objectOption, rejectUnknown } from "../options-check.js";

export interface AdmissionOptions {
  /** New connections admitted per second, sustained (C). Required, > 0. */
  ratePerSecond: number;
  /** Tokens the bucket holds: how many may be admitted at once after a quiet spell; ≥ 1. Default: ½ s worth. */
  burst?: number;
  /**
   * Window after its appointment in which a refused client picks its moment (ms). Default 2,500. The spread
   * absorbs clock and latency jitter but adds to the last client's wait, while a narrow one lets clients
   * land on tokens still owed to refusals and be refused again. Storm lab, seed 1: small-storm (N / C = 5 s)
   * T99 1.52 × N/C at 3,000, 1.44 at 2,500, 1.27 at 1,000; mass-drop attempts per client 1.997 at 3,000,
   * 1.999 at 2,500, 2.014 at 1,000; brownout unchanged.
   */
  spreadMs?: number;
  /**
   * What refusing costs, as a share of what admitting costs (0–1). Default 0.25. A refusal still takes a
   * handshake, so during a storm refusals eat capacity: the bucket is charged for them (down to one second
   * of debt) and appointments move back accordingly — otherwise the server admits at its full rate on paper
   * while it is already behind, and those admits fail without a hint.
   */
  refusalCost?: number;
  /**
   * Longest wait the server will ever ask for (ms): `retryAfterMs + spreadMs` never exceeds it. Default
   * 600,000 — the client's default ceiling. Clients whose turn lies beyond it get no appointment; they are
   * spread over its last quarter and book one when they come back.
   */
  maxHintMs?: number;
  /**
   * How far ahead appointments are booked (ms). Default 60,000. A client whose turn lies further out gets no
   * appointment: it is told to come back in [horizon, 1.5 × horizon] and books one then. Without a horizon a
   * crowd refused while capacity was low keeps appointments made at the low rate after capacity returns
   * (the storm lab's brownout: T99 9.9 × N/C with unlimited booking). The price: a storm bigger than
   * horizon × rate costs its later clients about one more attempt per horizon.
   */
  maxBookAheadMs?: number;
  /**
   * How many times one key may reach the shared bucket at once before it is paced (≥ 1). Default: `burst`.
   * A key reaches the shared bucket when it has no appointment or one of its appointments is due, at most
   * once per (keys remembered) / `ratePerSecond` seconds after this burst; see
   * {@link AdmissionController.decide}.
   */
  keyBurst?: number;
  /**
   * Most keys remembered at once (an integer ≥ 1). Default 10,000. Only keys with an appointment pending or
   * paced after a recent pass take room (tens of bytes each, plus the key); when all of it is taken, new keys
   * share one record among themselves and never push out a key already known.
   */
  maxKeys?: number;
  /**
   * The window W of the connect-time budget this server announces (`reconnectBudget(...).payload().windowMs`),
   * when it announces one. A client whose turn lies past the booking horizon is then told to come back within
   * one window, at a random moment of it, instead of in [horizon, 1.5 × horizon]: the refused herd keeps
   * arriving at about the budget's rate, so when capacity returns (a brownout ends) the clients refused
   * meanwhile are back within one window, not a horizon and a half later. Storm lab, brownout (10 % of C for
   * 30 s, N / C = 50 s): T99 1.49 × the ideal without it, see docs/planner.md for the figure with it.
   * Default: none (the [horizon, 1.5 × horizon] spread). With a window, a refused client also picks its
   * moment in ten slot spacings (at least 250 ms, at most `spreadMs`); see `./admission-budget.ts`.
   */
  budgetWindowMs?: number;
  /**
   * The population N the budget was announced for (`reconnectBudget`'s `population`; a number > 0), with
   * `budgetWindowMs`. The controller then books the whole refused herd when it fits at the current rate
   * within max(window, 20 s), and otherwise books only one window ahead, so the herd cycles once per window
   * and is back within one window of capacity that returns; while the herd's refusals outrun the rate, no
   * slot is booked inside its first wave; and while its arrivals alone outrun the rate (N over the window
   * cut to `maxHintMs`, the clients' ceiling, above `ratePerSecond`), no slot before the wave's end, anchored
   * at the decision that found the server idle (N 200,000, C 300/s: T99 1.32–2.00 → 1.02–1.11 × the ideal).
   * Storm lab sweep, brownout: worst T99 1.41 → 1.19 × the ideal (the rest out of reach, docs/planner.md).
   * Default: none (books max(window, 20 s) ahead whatever the population).
   * @throws RangeError at construction when given without `budgetWindowMs`.
   */
  budgetPopulation?: number;
}

export interface ResolvedAdmissionOptions {
  /** Admissions per second the server can take; see {@link AdmissionOptions.ratePerSecond}. */
  readonly ratePerSecond: number;
  /** Admissions at once from a full bucket; see {@link AdmissionOptions.burst}. */
  readonly burst: number;
  /** The window (ms) a refused client picks its moment in; see {@link AdmissionOptions.spreadMs}. */
  readonly spreadMs: number;
  /** What a refusal costs relative to an admission (0–1); see {@link AdmissionOptions.refusalCost}. */
  readonly refusalCost: number;
  /** Longest wait (ms) ever asked of a client; see {@link AdmissionOptions.maxHintMs}. */
  readonly maxHintMs: number;
  /** How far ahead (ms) appointments are booked; see {@link AdmissionOptions.maxBookAheadMs}. */
  readonly maxBookAheadMs: number;
  /** Arrivals one key may take from the shared bucket back to back before its spacing applies. */
  readonly keyBurst: number;
  /** Keys remembered at once; past it new keys share one overflow record. */
  readonly maxKeys: number;
  /** The announced budget's window (ms), or undefined: where clients past the horizon are sent back. */
  readonly budgetWindowMs: number | undefined;
  /** The population the budget was announced for, or undefined; see {@link AdmissionOptions.budgetPopulation}. */
  readonly budgetPopulation: number | undefined;
}

const POSITIVE = { exclusiveMin: true };
/** A bucket that cannot hold one whole token never admits anyone: `burst` must be at least 1. */
const AT_LEAST_ONE = { min: 1 };

/** The option names of an {@link AdmissionController}. */
export const ADMISSION_KEYS: readonly string[] = [
  "ratePerSecond",
  "burst",
  "spreadMs",
  "refusalCost",
  "maxHintMs",
  "maxBookAheadMs",
  "keyBurst",
  "maxKeys",
  "budgetWindowMs",
  "budgetPopulation",
];

/** Only the admission options of an adapter's options object (the adapter checked its own keys). */
export function admissionPart(options: object): AdmissionOptions {
  const part: Record<string, unknown> = {};
  for (const key of ADMISSION_KEYS) if (key in options) part[key] = (options as Record<string, unknown>)[key];
  return part as unknown as AdmissionOptions;
}

/**
 * Validates and fills in defaults; `where` names the caller in messages, `ownKeys` are the caller's own
 * option names beside the admission options (any other key is refused as unknown).
 */
export function resolveAdmissionOptions(
  options: AdmissionOptions,
  where = "AdmissionController",
  ownKeys: readonly string[] = [],
): ResolvedAdmissionOptions {
  rejectUnknown(where, objectOption(where, "options", options), [...ADMISSION_KEYS, ...ownKeys]);
  const ratePerSecond = numberOption(where, "ratePerSecond", options.ratePerSecond, Number.NaN, POSITIVE);
  if (Number.isNaN(ratePerSecond)) badOption(where, "ratePerSecond", "given (a number > 0)", undefined);
  const burst = numberOption(where, "burst", options.burst, Math.max(1, ratePerSecond / 2), AT_LEAST_ONE);
  const spreadMs =
    options.spreadMs === 0 ? 0 : numberOption(where, "spreadMs", options.spreadMs, 2_500, POSITIVE);
  const refusalCost = numberOption(where, "refusalCost", options.refusalCost, 0.25, { max: 1 });
  const maxHintMs = numberOption(where, "maxHintMs", options.maxHintMs, 600_000, POSITIVE);
  const maxBookAheadMs = numberOption(where, "maxBookAheadMs", options.maxBookAheadMs, 60_000, POSITIVE);
  const keyBurst = numberOption(where, "keyBurst", options.keyBurst, Math.max(1, burst / 4), AT_LEAST_ONE);
  const maxKeys = numberOption(where, "maxKeys", options.maxKeys, 10_000, { min: 1, integer: true });
  const budgetWindowMs =
    options.budgetWindowMs === undefined
      ? undefined
      : numberOption(where, "budgetWindowMs", options.budgetWindowMs, 0, POSITIVE);
  const budgetPopulation =
    options.budgetPopulation === undefined
      ? undefined
      : numberOption(where, "budgetPopulation", options.budgetPopulation, 0, POSITIVE);
  // A population alone changes nothing: say so rather than ignore it.
  if (budgetPopulation !== undefined && budgetWindowMs === undefined)
    badOption(where, "budgetPopulation", "given with budgetWindowMs", budgetPopulation, true);
  return {
    ratePerSecond,
    burst,
    spreadMs,
    refusalCost,
    maxHintMs,
    maxBookAheadMs,
    keyBurst,
    maxKeys,
    budgetWindowMs,
    budgetPopulation,
  };
}
