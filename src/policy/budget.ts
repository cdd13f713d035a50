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

/**
 * A short window may pace more attempts than {@link MAX_BUDGET_ATTEMPTS}: as many as fit in this span (ms),
 * 15 minutes. With a window of 2 s (N / C = 2 s) 120 attempts last only four minutes, and a ten-minute outage
 * then ended on the backoff, grown to its cap (storm lab sweep, long-outage, N 10,000 at 5,000/s: T99 64 × the
 * ideal). A hostile 1 s window gets at most one attempt a second for 15 minutes.
 */
export const MIN_BUDGET_PACED_MS = 900_000;

/** Budget-paced attempts allowed between two stable connections under this budget. */
export function maxBudgetAttempts(budget: HeldBudget): number {
  return Math.max(MAX_BUDGET_ATTEMPTS, Math.ceil(MIN_BUDGET_PACED_MS / budget.windowMs));
}

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
 * (its clients spread evenly), or drawn now. A window cut to the ceiling keeps the server's spread: the slot
 * is scaled into the shorter window, not folded into it (folded, the slots past the ceiling would land on
 * the window's start, twice as dense there — storm lab sweep, N 200,000 at 300/s, W = 700 s against the
 * 600 s ceiling: T99 1.32 × the ideal, 2.33 live attempts per client).
 */
export function holdBudget(
  budget: BudgetPayload,
  nowMs: number,
  draw: number,
  maxDelayMs: number,
): HeldBudget {
  const windowMs = Math.min(budget.windowMs, maxDelayMs);
  const phase =
    budget.slotMs === undefined
      ? draw * windowMs
      : ((budget.slotMs % budget.windowMs) / budget.windowMs) * windowMs;
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

/**
 * The shortest connect timeout of a budget-paced attempt (ms). A budget-paced attempt is abandoned before its
 * client's next slot, so a client whose attempt hangs on a host that swallows SYNs is not a whole connect
 * timeout away from a server that is back; this floor keeps a live server's handshake (TLS over a slow link
 * takes a second or two) from being abandoned every time. See {@link budgetAttemptTimeout}.
 */
export const MIN_BUDGET_ATTEMPT_TIMEOUT_MS = 2_000;

/** Share of the window a budget-paced attempt may take: it fails just before the next slot, not on it. */
const BUDGET_ATTEMPT_SHARE = 0.9;

/** A live server's handshake may take this many times the slowest one seen lately before it is given up. */
const OPEN_MARGIN = 4;

/**
 * The connect timeout of an attempt made at a budget slot: 0.9 × the window, at least
 * {@link MIN_BUDGET_ATTEMPT_TIMEOUT_MS} and 4 × the slowest recent handshake (`openMs`), never more than the
 * socket's own `connectTimeoutMs`. With a window shorter than the connect timeout, a dead host's attempt would
 * otherwise hang past several slots, and when the server returns the herd would reach it a whole connect
 * timeout later, not one window (storm lab, long-outage at N / C = 2 s with a 20 s connect timeout: T99 5.59 ×
 * the ideal). The handshake margin keeps a live but loaded server from being abandoned mid-handshake (live
 * storm over Socket.IO on a loaded machine, N / C = 4 s: 2,001 attempts given up at 3.78 s without it).
 */
export function budgetAttemptTimeout(budget: HeldBudget, connectTimeoutMs: number, openMs = 0): number {
  const wanted = Math.max(
    MIN_BUDGET_ATTEMPT_TIMEOUT_MS,
    budget.windowMs * BUDGET_ATTEMPT_SHARE,
    OPEN_MARGIN * openMs,
  );
  return Math.min(connectTimeoutMs, wanted);
}
