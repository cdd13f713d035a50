/**
 * The client's side of a connect-time reconnect budget (wire format: `src/protocol/budget.ts`): while it
 * cannot reach the server, a client tries once per window W = N / C at its slot — the phase the server gave
 * it, or else a random phase of its own, drawn when the budget arrived. N clients that lost the server together then come back at about C per second
 * whenever it returns — after a 3 s crash or a 10 minute outage alike — and a client waiting is never more
 * than one window away from a server that is back. Pure: time comes in as `nowMs`.
 */
import type { BudgetPayload } from "../protocol/budget.js";

/**
 * Budget-paced attempts allowed between two stable connections. Bounds what a hostile server can get from a
 * budget (with the 1 s window floor: 120 attempts, then the client is back on its backoff and breaker), and
 * covers an hour's outage at W = 30 s.
 */
export const MAX_BUDGET_ATTEMPTS = 120;

/** A budget as the planner holds it: the window, this client's phase, and until when it holds. */
export interface HeldBudget {
  readonly windowMs: number;
  /** The first slot (clock ms): arrival time plus this client's phase in [0, window). */
  readonly firstSlotAt: number;
  /** The budget holds for slots up to this moment (clock ms). */
  readonly validUntil: number;
}

/**
 * Holds a (read, bounded) budget: the window is cut to the ceiling; the phase is the slot the server gave
 * (its clients spread evenly), or drawn now.
 */
export function holdBudget(
  budget: BudgetPayload,
  nowMs: number,
  draw: number,
  maxDelayMs: number,
): HeldBudget {
  const windowMs = Math.min(budget.windowMs, maxDelayMs);
  const phase = budget.slotMs === undefined ? draw * windowMs : budget.slotMs % windowMs;
  return { windowMs, firstSlotAt: nowMs + phase, validUntil: nowMs + budget.validForMs };
}

/**
 * How long to wait for this client's next slot (strictly after now), or undefined when the budget no
 * longer holds by then (the client falls back to its backoff).
 */
export function budgetWait(budget: HeldBudget, nowMs: number): number | undefined {
  const { windowMs, firstSlotAt, validUntil } = budget;
  const k = nowMs < firstSlotAt ? 0 : Math.floor((nowMs - firstSlotAt) / windowMs) + 1;
  const slot = firstSlotAt + k * windowMs;
  if (slot > validUntil || !Number.isFinite(slot)) return undefined;
  return slot - nowMs;
}
