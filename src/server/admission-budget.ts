/**
 * How an {@link AdmissionController} told the connect-time budget it announces (`budgetWindowMs`, and
 * optionally `budgetPopulation`) books refused clients. Three rules, measured together in the storm lab's
 * sweep (brownout: 10 % of C for 30 s, N 10k–50k, C 300–5,000/s; worst T99 1.41 → 1.19 × the ideal;
 * `docs/planner.md`, "The sweep"):
 *
 * - the booking horizon ({@link budgetHorizonMs}): the whole herd is booked when it fits at the current rate
 *   within {@link MIN_BUDGET_HORIZON_MS}; otherwise the refused herd cycles once per window;
 * - the spread ({@link budgetSpreadMs}): a refused client picks its moment in a window scaled to the slot
 *   spacing, not a fixed 2.5 s that is a large share of a short storm;
 * - the wave ({@link budgetWaveMs}): while the herd's refusals alone outrun the rate, no slot is booked
 *   before one window and one second from now — the herd the budget paces keeps arriving for a window, and
 *   its refusals keep the server in debt that long, so a slot inside it is refused again and rebooked at
 *   the end of the line; and while the herd's arrivals alone outrun the rate, no slot before the wave's
 *   end ({@link budgetWaveEndMs}), anchored where the wave began.
 *
 * Kept apart from `admission.ts` because none of it applies without a budget. The Redis script
 * (`./redis/admission-script.ts`) ports the same rules, checked equal by
 * test/integration/redis-admission-equivalence.test.ts.
 */

/**
 * The least a server told the budget's window books ahead (ms), and the span within which a herd that fits
 * at the current rate is booked whole. With a window of a few seconds the refused herd would cycle once per
 * window, and its refusals alone cost more than a browned-out server has (r × C / 1.05 against a tenth of
 * C): it would admit no one for the whole brownout. Storm lab sweep, brownout, worst T99 over the ideal:
 * 2.93 (N / C = 2 s) with the window alone; 1.92 with a 15 s floor; 1.41 (N / C = 10 s) with 20 s; 1.68
 * with 30 s (before `budgetPopulation`).
 */
export const MIN_BUDGET_HORIZON_MS = 20_000;

/** A refused client's window under a budget is this many slot spacings… */
export const BUDGET_SPREAD_SLOTS = 10;

/**
 * …and at least this long (ms): timers, clocks and round trips jitter by tens of milliseconds, and a client
 * arriving before its token exists is refused again.
 */
export const MIN_BUDGET_SPREAD_MS = 250;

/** The budget a controller was told about, and its current rate. */
export interface BudgetBooking {
  /** The announced window W (ms). */
  readonly windowMs: number;
  /** The population N the budget was announced for, when known. */
  readonly population: number | undefined;
  /** Admissions per second now. */
  readonly ratePerSecond: number;
}

/**
 * How far ahead (ms) a budget-aware controller books. Without the population: max(W,
 * {@link MIN_BUDGET_HORIZON_MS}) — the rule before `budgetPopulation`. With it: the same when the whole herd
 * fits at the current rate within that span (N / rate ≤ max(W, 20 s): everyone is booked, and a server that
 * stays slow admits them all at its rate), else the window alone (the herd cycles once per window, so when
 * capacity returns every client is within one window of it instead of holding an appointment booked at the
 * low rate up to 20 s out). Storm lab sweep, brownout at N / C = 10 s (N / rate = 100 s), r 0.25: T99
 * 1.40 → 1.11 × the ideal with the spread below; at N / C = 2 s (N / rate = 20 s) the herd is still booked
 * whole.
 *
 * Tuned, honestly: the 20 s separates "book everyone" from "cycle" by a time the server cannot know (how
 * long its capacity stays low). Booking a herd that fits in 20 s costs at most 20 s however soon capacity
 * returns; cycling costs nothing once it returns but admits no one while it stays low.
 */
export function budgetHorizonMs(budget: BudgetBooking): number {
  const span = Math.max(budget.windowMs, MIN_BUDGET_HORIZON_MS);
  if (budget.population === undefined) return span;
  return (budget.population * 1000) / budget.ratePerSecond <= span ? span : budget.windowMs;
}

/**
 * The window (ms) a refused client picks its moment in, under a budget: {@link BUDGET_SPREAD_SLOTS} slot
 * spacings, at least {@link MIN_BUDGET_SPREAD_MS}, at most the configured `spreadMs`. At 500 admissions/s
 * that is 250 ms instead of 2.5 s — an eighth of the 20 s a herd of 10,000 takes there. Storm lab sweep,
 * brownout, r 0.25, where it is the only rule that acts: T99 1.13 → 1.11 × the ideal at N / C = 33 s,
 * 1.12 → 1.10 at 50 s.
 */
export function budgetSpreadMs(spreadMs: number, ratePerSecond: number): number {
  return Math.min(spreadMs, Math.max(MIN_BUDGET_SPREAD_MS, (BUDGET_SPREAD_SLOTS * 1000) / ratePerSecond));
}

/**
 * The earliest a refusal's slot may lie (ms from now) under a budget, or 0: while the bucket is in debt
 * (`tokens` < 0 after the refusal was charged) and the herd the budget paces refuses faster than the server
 * admits (`refusalCost` × N / W ≥ the rate: its refusals alone keep the bucket in debt), the first wave is
 * still arriving — for up to one window — and the debt will reach its floor, one second of tokens. A slot
 * before the wave has passed and that debt is paid is refused again and rebooked at the end of the line, so
 * none is booked there: at least one window and one second out. Not applied without the population (the
 * herd's rate is unknown), nor when that lies past the booking horizon (it would book nothing, and cycle
 * clients a server at full capacity could serve at their slot). Storm lab sweep, brownout at N / C = 2 s
 * (a herd of 10,000 at 4,760/s against 500/s), with the spread above: T99 1.17 → 1.13 (r 0.25), 1.22 →
 * 1.14 (r 0.5) × the ideal.
 */
export function budgetWaveMs(
  budget: BudgetBooking,
  refusalCost: number,
  tokens: number,
  horizonMs: number,
): number {
  const { population, windowMs, ratePerSecond } = budget;
  if (population === undefined || tokens >= 0) return 0;
  if ((refusalCost * population * 1000) / windowMs < ratePerSecond) return 0;
  const waveMs = windowMs + 1000 + 1000 / ratePerSecond;
  return waveMs < horizonMs ? waveMs : 0;
}

/**
 * The window (ms) the herd really arrives over: the announced one cut to `maxHintMs`, since a client cuts a
 * budget's window to its own ceiling (`maxDelayMs`, 600 s by default like `maxHintMs`) — the server's
 * ceiling stands for its clients'.
 */
export function budgetEffectiveWindowMs(budget: BudgetBooking, maxHintMs: number): number {
  return Math.min(budget.windowMs, maxHintMs);
}

/**
 * Whether the herd's arrivals alone outrun the rate: N over the window it keeps (cut to the ceiling) above
 * the current rate. True at full capacity only where the window was cut (N / C > 571 s at the defaults:
 * N 200,000 at C 300/s arrives at 333/s), and while capacity is browned out.
 */
export function budgetHerdOverloads(budget: BudgetBooking, maxHintMs: number): boolean {
  const { population, ratePerSecond } = budget;
  if (population === undefined) return false;
  return (population * 1000) / budgetEffectiveWindowMs(budget, maxHintMs) > ratePerSecond;
}

/**
 * When a wave that began at `waveStartMs` ends (clock ms): the herd keeps arriving for the window it keeps,
 * and one second more for the debt its refusals left. A wave runs at least until then, and past it until the
 * server is idle again (bucket full, book empty); only then may a refusal in debt begin another — a server
 * that merely keeps pace (a drain's clients arriving at C) is idle now and then, and a wave restarted at
 * each such moment would push its refusals a whole window out, again and again (storm lab, deploy-drain at
 * N 200,000, C 300/s: T99 1.70 × the ideal when the idle moment alone ended the wave).
 */
export function budgetWaveEndsAtMs(budget: BudgetBooking, maxHintMs: number, waveStartMs: number): number {
  return waveStartMs + budgetEffectiveWindowMs(budget, maxHintMs) + 1000;
}

/**
 * The earliest a refusal's slot may lie (clock ms) while the first wave runs, or -Infinity: the wave began
 * at `waveStartMs` (the first refusal in debt while no wave ran) and the herd keeps arriving until
 * {@link budgetWaveEndsAtMs}, so a slot before that is taken by the herd's own arrivals, refused again and
 * rebooked, again and again (N 200,000, C 300/s: attempts at 634/s over the first 600 s, admissions at
 * 188/s, T99 1.32–2.00 × the ideal). Anchored at the wave's start, not at each refusal: "now + window" from
 * each refusal lies past the horizon and books nothing. Only while the herd's arrivals alone outrun the
 * rate ({@link budgetHerdOverloads}), and not when the wave's end lies past the booking horizon (the first
 * second of a wave whose window is the horizon): such a refusal is booked as without the rule rather than
 * sent a whole window away.
 */
export function budgetWaveEndMs(
  budget: BudgetBooking,
  maxHintMs: number,
  waveStartMs: number | undefined,
  nowMs: number,
  horizonMs: number,
  refusals: number,
): number {
  if (waveStartMs === undefined || !budgetHerdOverloads(budget, maxHintMs)) return -Infinity;
  if (refusals < budgetHerdEvidence(budget)) return -Infinity;
  const endMs = budgetWaveEndsAtMs(budget, maxHintMs, waveStartMs);
  return endMs - nowMs <= horizonMs ? endMs : -Infinity;
}

/** Share of the population refused since a wave began before the refusals count as its herd's. */
export const HERD_EVIDENCE_SHARE = 0.01;

/**
 * How many refusals since a wave began make it a herd's (at least `HERD_EVIDENCE_SHARE` of N): before that,
 * a refusal is booked as without the rule. An ordinary burst (a meeting's 500 people joining at once on a
 * server of 200,000 at 300/s) is not a herd, and sending its refused clients to the end of a ten-minute
 * wave would be a surprise; a returning herd refuses that many within seconds, and its first refusals, booked
 * inside the wave, are refused again and then booked past its end.
 */
export function budgetHerdEvidence(budget: BudgetBooking): number {
  return Math.ceil((budget.population ?? 0) * HERD_EVIDENCE_SHARE);
}
