/**
 * The connect-time reconnect budget on the wire: what a server tells each client, in its first message, about
 * how to come back if the server vanishes without a word. One JSON shape, {@link BudgetPayload}, carried
 * - over Socket.IO as the event {@link BUDGET_EVENT} emitted right after `connection`;
 * - over a plain WebSocket as the first text frame `{"resilient:budget":{…}}` ({@link encodeBudgetFrame}),
 *   which a client recognises by its exact prefix and never hands to the app as a message.
 * Browsers cannot read handshake headers, hence a message. Old clients ignore the Socket.IO event; over a
 * WebSocket the server sends the frame only when configured to (`reconnectBudget`), so a server whose
 * clients are older sends nothing new. Client and server both import this module (DESIGN.md, turn 2).
 *
 * Reading is bounded like every hint: non-numbers, NaN, negatives give no budget (and a problem to
 * report); a window below {@link MIN_BUDGET_WINDOW_MS} is raised to it, a validity past
 * {@link MAX_BUDGET_VALID_MS} cut to it, so a hostile budget cannot make a client retry in a loop nor hold
 * it for good. The ceiling (`maxDelayMs`) is applied once, by the planner.
 * @see https://discord.com/developers/docs/events/gateway#session-start-limit-object (the idea: a budget
 *   published at connect time — `session_start_limit` with `max_concurrency` buckets)
 */
import { describe } from "../describe.js";

/** The Socket.IO event carrying a {@link BudgetPayload} (emitted by the server right after connect). */
export const BUDGET_EVENT = "resilient:budget";
/** The key of the one-member JSON object a WebSocket budget frame is. */
export const BUDGET_FRAME_KEY = "resilient:budget";
/** Every WebSocket budget frame starts with exactly this text. */
export const BUDGET_FRAME_PREFIX = `{"${BUDGET_FRAME_KEY}":`;
/** Shortest window a client accepts (ms): one attempt a second at most, whatever a server says. */
export const MIN_BUDGET_WINDOW_MS = 1_000;
/** Longest validity a client accepts (ms): one hour; past it the client is back on its own backoff. */
export const MAX_BUDGET_VALID_MS = 3_600_000;
/** Longest budget frame read (characters); a larger one is ignored. */
export const MAX_BUDGET_FRAME = 256;

/** The wire shape: come back once per `windowMs`, at your slot (or a random phase of your own), for the next
 * `validForMs`. */
export interface BudgetPayload {
  /** W = N / C: the server's population over its admission rate, in ms. One attempt per window. */
  readonly windowMs: number;
  /** How long from now the budget holds (ms); after it the client falls back to its backoff. */
  readonly validForMs: number;
  /**
   * This client's first slot, ms from now, in [0, `windowMs`): the server spreads its clients evenly over the
   * window, where phases each client draws alone bunch by chance (a Poisson stream, which an admission bucket
   * loaded near its rate answers with refusals). Absent: the client draws its own phase.
   */
  readonly slotMs?: number;
}

/** A budget as a client holds it: bounded, with what was wrong with the input, if anything. */
export interface BudgetReading {
  /** The budget to follow, its window and validity bounded; absent when there is none to follow. */
  readonly budget?: BudgetPayload;
  /** Set when the input was malformed or bounded (for an `error` event). */
  readonly problem?: string;
}

const NONE: BudgetReading = {};

/** A finite number >= 0 (the hint readers check delays with it too). */
export const finiteNonNegative = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v) && v >= 0;

/** `data[key]` when it is an own property of `data`, else undefined (`__proto__` tricks read nothing). */
export const ownValue = (data: object, key: string): unknown =>
  Object.hasOwn(data, key) ? (data as Record<string, unknown>)[key] : undefined;

/** Reads a budget out of an unknown value (the Socket.IO event's payload, a parsed frame's member). Only own
 * properties of a plain object are read. */
export function readBudget(data: unknown): BudgetReading {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { problem: `budget ignored: expected an object; got ${describe(data)}` };
  }
  const windowMs = ownValue(data, "windowMs");
  const validForMs = ownValue(data, "validForMs");
  if (!finiteNonNegative(windowMs) || !finiteNonNegative(validForMs) || validForMs === 0) {
    return {
      problem: `budget ignored: windowMs and validForMs must be finite numbers (>= 0, > 0); got ${describe(windowMs)} and ${describe(validForMs)}`,
    };
  }
  let problem: string | undefined;
  let window = windowMs;
  let valid = validForMs;
  if (window < MIN_BUDGET_WINDOW_MS) {
    problem = `budget window of ${window} ms raised to ${MIN_BUDGET_WINDOW_MS} ms`;
    window = MIN_BUDGET_WINDOW_MS;
  }
  if (valid > MAX_BUDGET_VALID_MS) {
    problem ??= `budget validity of ${valid} ms cut to ${MAX_BUDGET_VALID_MS} ms`;
    valid = MAX_BUDGET_VALID_MS;
  }
  const slot = readSlot(data, window);
  problem ??= slot.problem;
  const budget =
    slot.slotMs === undefined
      ? { windowMs: window, validForMs: valid }
      : { windowMs: window, validForMs: valid, slotMs: slot.slotMs };
  return problem === undefined ? { budget } : { budget, problem };
}

/** The slot of a budget, when it has a usable one: a number in [0, window); anything else is reported and the
 * client draws its own phase instead. */
function readSlot(data: object, windowMs: number): { slotMs?: number; problem?: string } {
  if (!Object.hasOwn(data, "slotMs")) return {};
  const slotMs = (data as Record<string, unknown>).slotMs;
  if (finiteNonNegative(slotMs) && slotMs < windowMs) return { slotMs };
  return {
    problem: `budget slot ignored: slotMs must be a finite number in [0, ${windowMs}); got ${describe(slotMs)}`,
  };
}

/** Is this inbound WebSocket message a budget frame? Cheap: a prefix test on strings only. */
export function isBudgetFrame(data: unknown): data is string {
  return typeof data === "string" && data.startsWith(BUDGET_FRAME_PREFIX);
}

/** Reads a WebSocket budget frame (see {@link isBudgetFrame}). */
export function readBudgetFrame(frame: string): BudgetReading {
  if (frame.length > MAX_BUDGET_FRAME) return { problem: `budget frame ignored: ${frame.length} characters` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame);
  } catch {
    return { problem: "budget frame ignored: not valid JSON" };
  }
  if (parsed === null || typeof parsed !== "object" || !Object.hasOwn(parsed, BUDGET_FRAME_KEY)) return NONE;
  return readBudget((parsed as Record<string, unknown>)[BUDGET_FRAME_KEY]);
}

/** The WebSocket text frame for a budget. */
export function encodeBudgetFrame(budget: BudgetPayload): string {
  const { windowMs, validForMs, slotMs } = budget;
  return `${BUDGET_FRAME_PREFIX}${JSON.stringify({ windowMs, validForMs, slotMs })}}`;
}
