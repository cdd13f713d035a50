/**
 * Admission control that answers with a schedule instead of a bare "no": at most `ratePerSecond` new
 * connections are admitted (a token bucket holding up to `burst`), and every refused client is handed its
 * own appointment — the k-th client refused in a burst is told to come back near k / rate from now — so the
 * refused population returns at the rate the server can take instead of all at once. Pure: time comes in as
 * `nowMs`; the same class runs in the server helpers and in the storm simulator.
 *
 * @see https://en.wikipedia.org/wiki/Token_bucket
 * @see https://aws.amazon.com/builders-library/using-load-shedding-to-avoid-overload/
 */
import { badOption, numberOption, objectOption, rejectUnknown } from "../options-check.js";
import type { HintPayload } from "../protocol/hints.js";
import {
  type BudgetBooking,
  budgetHorizonMs,
  budgetSpreadMs,
  budgetWaveMs,
  MIN_BUDGET_HORIZON_MS,
} from "./admission-budget.js";
import { book, claimFirst, type KeyRecord, KeyTable } from "./admission-keys.js";

export { MIN_BUDGET_HORIZON_MS };

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
   * slot is booked inside its first wave. Storm lab sweep, brownout: worst T99 1.41 → 1.19 × the ideal (the
   * rest out of reach, docs/planner.md). Default: none (books max(window, 20 s) ahead whatever the
   * population).
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

/**
 * The answer for one arriving client. A refusal with `cheap: true` went to a key whose own schedule is
 * booked to the horizon (it keeps coming back before its appointments): the adapters answer it in their
 * cheapest form (an HTTP 503 instead of a completed upgrade).
 */
export type AdmissionDecision =
  | {
      /** Let this connection in. */
      readonly admit: true;
    }
  | {
      /** Refuse it, telling the client when to come back (`hint`). */
      readonly admit: false;
      /** When to come back, in the wire format. */
      readonly hint: HintPayload;
      /** The key's own schedule was full: refused without booking anything (ws answers a plain 503). */
      readonly cheap?: boolean;
    };

/** Serialisable state. */
export interface AdmissionState {
  /** Admissions the bucket holds now (may be negative: refusals owed, down to one second's worth). */
  readonly tokens: number;
  /** When `tokens` was last brought up to date (clock ms). */
  readonly updatedAtMs: number;
  /** The first appointment not yet handed out. */
  readonly nextSlotAtMs: number;
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

/**
 * An arrival this much before its appointment still counts as on time: timers may fire a millisecond early,
 * and the client's clock started after the server's decision anyway.
 */
const EARLY_TOLERANCE_MS = 10;

export class AdmissionController {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedAdmissionOptions;
  private tokens: number;
  private updatedAtMs: number;
  private nextSlotAtMs: number;
  private readonly keys: KeyTable;
  /** Whether the last shared refusal booked a slot (one past the horizon does not). */
  private booked = false;
  /** Admitted and refused counts since construction (for metrics and the storm lab). */
  admitted = 0;
  /** Connections refused since construction (with a hint, or plainly when a key's own schedule was full). */
  refused = 0;
  /**
   * Refusals that cost the shared capacity nothing (included in `refused`): a key back before its
   * appointment, or held off by its own bucket.
   */
  refusedByKey = 0;

  constructor(options: AdmissionOptions, nowMs: number, state?: AdmissionState) {
    this.options = resolveAdmissionOptions(options);
    this.tokens = state?.tokens ?? this.options.burst;
    this.updatedAtMs = state?.updatedAtMs ?? nowMs;
    this.nextSlotAtMs = state?.nextSlotAtMs ?? nowMs;
    this.keys = new KeyTable(this.options.maxKeys, nowMs);
  }

  /** Keys remembered now (at most `maxKeys`): those with an appointment pending or paced after a recent pass. */
  get trackedKeys(): number {
    return this.keys.size;
  }

  /**
   * Admit the client arriving now, or refuse it with its appointment.
   *
   * With a `key` (who is asking: a user id, or the remote address by default in the adapters; a non-empty
   * string of at most 256 characters — others share one record) the decision is fair to the other keys. A
   * refusal books the key a slot. A client of the key arriving before the key's first slot is due — one
   * ignoring its hint, or another client behind the same address — is booked the key's next slot, one
   * spacing after its last: no shared token spent, no shared appointment moved. A key reaches the shared
   * bucket only without slots or when one is due, and at most once per spacing after a burst of `keyBurst`;
   * the spacing is (keys remembered) / `ratePerSecond`, so a key alone may use the whole rate and K keys
   * waiting get about a K-th each. A key whose own slots reach the booking horizon is refused with
   * `cheap: true` and books nothing. Without a key every arrival is decided on the shared bucket alone (the
   * storm simulator's model).
   *
   * `cost`: the tokens this attempt takes when admitted (default 1, a login; a cheap resume less — see
   * `attemptCost` in `./budget.ts`), the third argument: pass `undefined` as `key` for the shared bucket alone.
   * @throws RangeError when `cost` is not a number in (0, `burst`].
   */
  decide(nowMs: number, key?: string, cost = 1): AdmissionDecision {
    // A cost <= 0 (or NaN) would mint tokens or never be charged, one over `burst` could never be admitted:
    // both would silently break the rate the server promises. Checked before anything is booked.
    if (typeof cost !== "number" || !(cost > 0 && cost <= this.options.burst))
      badOption(
        "AdmissionController.decide",
        "cost",
        `a number > 0 and <= burst (${this.options.burst})`,
        cost,
        true,
      );
    if (key === undefined) return this.decideShared(nowMs, cost);
    const record = this.keys.get(key, nowMs);
    const decision = this.decideKeyed(record, nowMs, cost);
    this.keys.release(key, record, nowMs);
    return decision;
  }

  private decideKeyed(record: KeyRecord, nowMs: number, cost: number): AdmissionDecision {
    const { ratePerSecond, keyBurst, burst } = this.options;
    const spacingMs = (Math.max(1, this.keys.size) * 1000) / ratePerSecond;
    if (record.slots > 0 && nowMs < record.firstAtMs - EARLY_TOLERANCE_MS) {
      return this.bookOnKey(record, nowMs, record.lastAtMs + spacingMs);
    }
    // Clients keeping appointments booked one spacing apart still arrive in clumps (each picks its moment in
    // a window), so a claim may pass in the shared burst; an arrival without one only in the key's own.
    const claims = record.slots > 0;
    if (claims) claimFirst(record);
    const toleranceMs = ((claims ? Math.max(keyBurst, burst) : keyBurst) - 1) * spacingMs;
    if (nowMs < record.paceAtMs - toleranceMs) {
      const atMs = record.slots > 0 ? record.lastAtMs + spacingMs : record.paceAtMs - toleranceMs;
      return this.bookOnKey(record, nowMs, atMs);
    }
    record.paceAtMs = Math.max(record.paceAtMs, nowMs) + spacingMs;
    const decision = this.decideShared(nowMs, cost);
    if (decision.admit) return decision;
    if (!this.booked) return decision;
    const { retryAfterMs, spreadMs = 0 } = decision.hint;
    if (record.slots === 0) {
      book(record, nowMs + retryAfterMs, spreadMs);
      return decision;
    }
    // The key's own clients come in its order, one spacing apart, however early the shared slot is.
    const atMs = Math.max(nowMs + retryAfterMs, record.lastAtMs + spacingMs);
    const horizon = this.horizonMs;
    if (atMs - nowMs > horizon) return decision;
    const later = Math.min(Math.ceil(atMs - nowMs), this.options.maxHintMs);
    const windowMs = Math.min(this.spreadMs, this.options.maxHintMs - later);
    book(record, nowMs + later, windowMs);
    return { admit: false, hint: { retryAfterMs: later, spreadMs: windowMs } };
  }

  /** Refuses on the key's own schedule, booking `atMs` for it unless that lies past the horizon. */
  private bookOnKey(record: KeyRecord, nowMs: number, atMs: number): AdmissionDecision {
    const { maxHintMs } = this.options;
    const { spreadMs } = this;
    this.refused++;
    this.refusedByKey++;
    if (atMs - nowMs > this.horizonMs) return { admit: false, hint: this.pastHorizonHint(), cheap: true };
    const retryAfterMs = Math.min(Math.max(1, Math.ceil(atMs - nowMs)), maxHintMs);
    const windowMs = Math.min(spreadMs, maxHintMs - retryAfterMs);
    book(record, nowMs + retryAfterMs, windowMs);
    return { admit: false, hint: { retryAfterMs, spreadMs: windowMs } };
  }

  private decideShared(nowMs: number, cost: number): AdmissionDecision {
    this.booked = false;
    this.refill(nowMs);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      this.admitted++;
      return { admit: true };
    }
    this.refused++;
    const { maxHintMs, refusalCost, ratePerSecond } = this.options;
    const { spreadMs } = this;
    const intervalMs = 1000 / ratePerSecond;
    this.tokens = Math.max(this.tokens - refusalCost, -ratePerSecond);
    const debtMs = (1 - this.tokens) * intervalMs;
    const horizon = this.horizonMs;
    const waveMs =
      this.budget === undefined ? 0 : budgetWaveMs(this.budget, refusalCost, this.tokens, horizon);
    const slot = Math.max(this.nextSlotAtMs, nowMs + debtMs, nowMs + waveMs);
    if (slot - nowMs > horizon) return { admit: false, hint: this.pastHorizonHint() };
    this.nextSlotAtMs = slot + intervalMs;
    this.booked = true;
    // Rounded up, and at least 1 ms: a client told to come back even a fraction of a millisecond before its
    // token exists is refused again. (At epoch-sized `nowMs` a tiny wait is lost to floating point and
    // `slot - nowMs` can be exactly 0, which as `Retry-After: 0` would invite the client back at once.)
    const retryAfterMs = Math.min(Math.max(1, Math.ceil(slot - nowMs)), maxHintMs);
    return { admit: false, hint: { retryAfterMs, spreadMs: Math.min(spreadMs, maxHintMs - retryAfterMs) } };
  }

  /**
   * How far ahead appointments are booked (ms): with a budget (`budgetWindowMs`) the budget's rule
   * (`budgetHorizonMs` in `./admission-budget.ts`: max(window, {@link MIN_BUDGET_HORIZON_MS}), or the window
   * alone when `budgetPopulation` says the herd does not fit that span at the current rate), else
   * `maxBookAheadMs`; never past `maxHintMs`. With a budget, an appointment booked while capacity is low (a
   * brownout) lies at most that far out, so the clients refused meanwhile are back soon after capacity
   * returns, at the rate the budget paces.
   */
  private get horizonMs(): number {
    const { maxBookAheadMs, maxHintMs } = this.options;
    return Math.min(this.budget === undefined ? maxBookAheadMs : budgetHorizonMs(this.budget), maxHintMs);
  }

  /** The budget this controller was told about, with its current rate; undefined without `budgetWindowMs`. */
  private get budget(): BudgetBooking | undefined {
    const { budgetWindowMs, budgetPopulation, ratePerSecond } = this.options;
    return budgetWindowMs === undefined
      ? undefined
      : { windowMs: budgetWindowMs, population: budgetPopulation, ratePerSecond };
  }

  /** A refused client's window (ms): `spreadMs`, or under a budget one scaled to the slot spacing. */
  private get spreadMs(): number {
    const { spreadMs, budgetWindowMs, ratePerSecond } = this.options;
    return budgetWindowMs === undefined ? spreadMs : budgetSpreadMs(spreadMs, ratePerSecond);
  }

  /**
   * The hint for a client whose turn lies past the booking horizon. No appointment is booked: a slot that far
   * out may no longer fit the server when the client comes (capacity changes; and past the ceiling the client
   * returns before it anyway). Telling every such client one instant would bring them back in lock step, so
   * they are spread: over one announced budget window from now (`budgetWindowMs`: the refused herd keeps
   * the budget's pace and is within one window of capacity that returns), else over
   * [horizon, 1.5 × horizon] — the ceiling's last quarter when the horizon is the ceiling. They book a real
   * slot when they return.
   */
  private pastHorizonHint(): HintPayload {
    const { maxHintMs, budgetWindowMs } = this.options;
    const { spreadMs } = this;
    if (budgetWindowMs !== undefined) {
      const retryAfterMs = Math.max(1, Math.min(Math.ceil(budgetWindowMs), maxHintMs));
      return { retryAfterMs, spreadMs: Math.min(spreadMs, maxHintMs - retryAfterMs) };
    }
    const horizon = this.horizonMs;
    const start = Math.round(Math.min(horizon, (maxHintMs * 3) / 4));
    const end = Math.min(horizon * 1.5, maxHintMs);
    return { retryAfterMs: start, spreadMs: Math.floor(end - start) };
  }

  /** How far ahead appointments are booked (ms) — 0 when the server keeps up. */
  backlogMs(nowMs: number): number {
    return Math.max(0, this.nextSlotAtMs - nowMs);
  }

  /** The serialisable state (bucket and next appointment), for restoring a controller elsewhere. */
  snapshot(): AdmissionState {
    return { tokens: this.tokens, updatedAtMs: this.updatedAtMs, nextSlotAtMs: this.nextSlotAtMs };
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.updatedAtMs);
    this.tokens = Math.min(this.options.burst, this.tokens + (elapsed * this.options.ratePerSecond) / 1000);
    this.updatedAtMs = Math.max(this.updatedAtMs, nowMs);
  }
}

/**
 * Appointments for a drain: `count` clients told to come back at evenly spaced moments across `windowMs`,
 * starting `startInMs` from now (when the replacement will accept: a client sent back before that only
 * fails and backs off), each with a spread of one spacing — so a deploy's reconnects arrive at
 * count / window per second.
 */
export function drainSchedule(count: number, windowMs: number, startInMs = 0): HintPayload[] {
  numberOption("drainSchedule", "count", count, 0, { integer: true });
  numberOption("drainSchedule", "windowMs", windowMs, 0);
  numberOption("drainSchedule", "startInMs", startInMs, 0);
  const step = count === 0 ? 0 : windowMs / count;
  return Array.from({ length: count }, (_, i) => ({
    retryAfterMs: Math.round(startInMs + i * step),
    spreadMs: Math.round(step),
  }));
}
