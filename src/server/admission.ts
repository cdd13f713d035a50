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
import { badOption, numberOption } from "../options-check.js";
import type { HintPayload } from "../protocol/hints.js";
import {
  type BudgetBooking,
  budgetHorizonMs,
  budgetSpreadMs,
  budgetWaveEndMs,
  budgetWaveEndsAtMs,
  budgetWaveMs,
  MIN_BUDGET_HORIZON_MS,
} from "./admission-budget.js";
import { book, claimFirst, type KeyRecord, KeyTable } from "./admission-keys.js";
import {
  ADMISSION_KEYS,
  type AdmissionOptions,
  admissionPart,
  type ResolvedAdmissionOptions,
  resolveAdmissionOptions,
} from "./admission-options.js";

export {
  ADMISSION_KEYS,
  type AdmissionOptions,
  admissionPart,
  MIN_BUDGET_HORIZON_MS,
  type ResolvedAdmissionOptions,
  resolveAdmissionOptions,
};

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
  /**
   * When the herd's current wave began (clock ms; absent before the first): under a budget with
   * `budgetPopulation`, a decision that found the server idle (bucket full, book empty) while no wave ran.
   */
  readonly waveStartMs?: number;
  /** Refusals since that wave began (the herd's evidence; see `budgetWaveEndMs`). */
  readonly waveRefusals?: number;
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
  private waveStartMs: number | undefined;
  private waveRefusals = 0;
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
    this.waveStartMs = state?.waveStartMs;
    this.waveRefusals = state?.waveRefusals ?? 0;
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
    this.beginWave(nowMs);
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
    const { budget } = this;
    const waveMs = budget === undefined ? 0 : budgetWaveMs(budget, refusalCost, this.tokens, horizon);
    const waveEndMs =
      budget === undefined
        ? -Infinity
        : budgetWaveEndMs(budget, maxHintMs, this.waveStartMs, nowMs, horizon, ++this.waveRefusals);
    const slot = Math.max(this.nextSlotAtMs, nowMs + debtMs, nowMs + waveMs, waveEndMs);
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
   * A wave begins at a decision that finds the server idle (bucket full, book empty) while none runs: a
   * herd returning after a loss (a restart, a mass drop, a drain) first meets an idle server, and from then
   * on arrives for the window it keeps. Anchored at the server's first decision, not at its first refusal:
   * a herd that merely keeps pace for a while and overloads later (a drain whose last appointments, cut to
   * the clients' ceiling, pile up at its end) has been arriving since the start, and its end is where the
   * wave began plus the window (storm lab, deploy-drain at N 200,000, C 300/s: T99 1.70 × the ideal when
   * anchored at the first refusal in debt, 450 s in).
   */
  private beginWave(nowMs: number): void {
    const { budget, waveStartMs } = this;
    if (budget?.population === undefined) return;
    if (this.tokens < this.options.burst || this.nextSlotAtMs > nowMs) return;
    if (
      waveStartMs === undefined ||
      nowMs > budgetWaveEndsAtMs(budget, this.options.maxHintMs, waveStartMs)
    ) {
      this.waveStartMs = nowMs;
      this.waveRefusals = 0;
    }
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
    const { tokens, updatedAtMs, nextSlotAtMs, waveStartMs, waveRefusals } = this;
    return waveStartMs === undefined
      ? { tokens, updatedAtMs, nextSlotAtMs }
      : { tokens, updatedAtMs, nextSlotAtMs, waveStartMs, waveRefusals };
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
