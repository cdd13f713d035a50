/**
 * The server's side of the connect-time reconnect budget (wire format: `src/protocol/budget.ts`). The server
 * knows what no client can: its population N and its admission rate C. It tells each client, in its first
 * message, "if I vanish without a word, try once per W = N / C at your slot, for the next `validForMs`" — so
 * the returning herd arrives at about C per second whenever the server is back, after a 3 s crash or a 10
 * minute outage alike, and a dead port costs the server nothing meanwhile. The slots are spread evenly over
 * the window ({@link slotPhase}): phases each client drew alone would arrive as a Poisson stream, whose chance
 * bunches an admission bucket near its rate answers with refusals (and the refused with appointments later).
 *
 * Sending: `budget.sendTo(ws)` right after a `ws` connection opens (one text frame, before any app message),
 * `budget.emitTo(socket)` in Socket.IO's `connection` handler (the event {@link BUDGET_EVENT}). Old Socket.IO
 * clients ignore the event; over a plain WebSocket send it only when your clients run a version that
 * recognises the frame (an older client would see it as one text message).
 *
 * Pricing resumes apart from logins: see {@link attemptCost} and `docs/planner.md`.
 * @see https://discord.com/developers/docs/events/gateway#session-start-limit-object
 */
import { type Clock, systemClock } from "../env.js";
import { badOption, numberOption, objectOption } from "../options-check.js";
import {
  BUDGET_EVENT,
  type BudgetPayload,
  encodeBudgetFrame,
  MAX_BUDGET_VALID_MS,
  MIN_BUDGET_WINDOW_MS,
} from "../protocol/budget.js";

/** Options of {@link reconnectBudget}. */
export interface ReconnectBudgetOptions {
  /** N: the clients this server holds — a number, or a function read at each send (e.g. `() => wss.clients.size`). */
  population: number | (() => number);
  /** C: logins admitted per second (the admission's `ratePerSecond`). Required, > 0. */
  ratePerSecond: number;
  /** How long the budget holds (ms). Default 1,800,000 (30 min); at most 3,600,000 (clients cut it there). */
  validForMs?: number;
  /**
   * Factor on N / C (≥ 1). Default 1.05: the herd arrives at C / 1.05 per second. At exactly C the admission
   * bucket is critically loaded — a random walk that, over a window of minutes, drifts past its burst and
   * turns chance bunching into refusals (storm lab sweep, N 50,000 at 300/s, refusal cost 0.5: T99 1.82 ×
   * the ideal with 2.66 attempts per client at 1, 1.04 × with 1.00 at 1.05).
   */
  headroom?: number;
  /** Where `now` comes from, for the slots (default the system clock; a virtual one in the storm lab). */
  clock?: Pick<Clock, "now">;
}

/** Default factor on N / C (see {@link ReconnectBudgetOptions.headroom}). */
export const DEFAULT_HEADROOM = 1.05;

/** 1 / φ: successive multiples, taken modulo 1, stay evenly spread however many there are (three-distance
 * theorem), so every prefix of the clients served so far covers the window evenly. */
const GOLDEN = (Math.sqrt(5) - 1) / 2;

/** Where in the window (a share in [0, 1)) the `k`-th client served gets its slot. */
export function slotPhase(k: number): number {
  return (k * GOLDEN) % 1;
}

/** A reconnect budget announcer. */
export interface ReconnectBudget {
  /** The payload for a client connecting now (window from the current population). */
  payload(): BudgetPayload;
  /** Sends the budget as the connection's first text frame (`ws`'s `WebSocket`, or anything with `send`). */
  sendTo(ws: { send(data: string): void }): void;
  /** Emits the budget event on a Socket.IO socket (server side). */
  emitTo(socket: { emit(event: string, payload: BudgetPayload): unknown }): void;
}

function positiveNumber(name: string, value: unknown, fallback: number, min: number, max: number): number {
  return numberOption("reconnectBudget", name, value, fallback, { min, max });
}

/**
 * Creates the announcer.
 *
 * @example
 * const budget = reconnectBudget({ population: () => wss.clients.size, ratePerSecond: 500 });
 * wss.on("connection", (ws) => budget.sendTo(ws));
 * io.on("connection", (socket) => budget.emitTo(socket));
 * @throws RangeError naming the option (`ratePerSecond`, `validForMs`, `headroom`, `population`); TypeError for
 *   a `clock` without `now()`.
 */
export function reconnectBudget(options: ReconnectBudgetOptions): ReconnectBudget {
  objectOption("reconnectBudget", "options", options);
  const rate = positiveNumber("ratePerSecond", options.ratePerSecond, Number.NaN, Number.MIN_VALUE, 1e9);
  if (Number.isNaN(rate)) badOption("reconnectBudget", "ratePerSecond", "given (a number > 0)", undefined);
  const validForMs = positiveNumber("validForMs", options.validForMs, 1_800_000, 1, MAX_BUDGET_VALID_MS);
  const headroom = positiveNumber("headroom", options.headroom, DEFAULT_HEADROOM, 1, 100);
  const { population } = options;
  if (typeof population !== "function") positiveNumber("population", population, 0, 0, 1e12);
  const clock = options.clock ?? systemClock;
  if (clock === null || typeof clock !== "object" || typeof clock.now !== "function")
    badOption("reconnectBudget", "clock", "an object with now()", clock);
  // Slots are fixed moments modulo the window, counted from here: clients served at different times still
  // land on their own places in one shared cycle.
  const anchorMs = clock.now();
  let served = 0;
  const payload = (): BudgetPayload => {
    const n = typeof population === "function" ? population() : population;
    const clients = typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0;
    const windowMs = Math.max(MIN_BUDGET_WINDOW_MS, Math.ceil((1000 * clients * headroom) / rate));
    const fromAnchor = (anchorMs + slotPhase(served++) * windowMs - clock.now()) % windowMs;
    const slotMs = Math.min(
      windowMs - 1,
      Math.max(0, Math.floor(fromAnchor < 0 ? fromAnchor + windowMs : fromAnchor)),
    );
    return { windowMs, validForMs, slotMs };
  };
  return {
    payload,
    sendTo: (ws) => ws.send(encodeBudgetFrame(payload())),
    emitTo: (socket) => socket.emit(BUDGET_EVENT, payload()),
  };
}

/** What kind of attempt a connection is, for pricing: a full login, or a cheap resume of a known session. */
export type AttemptKind = "login" | "resume";

/**
 * Default share of a login's cost a resume is charged (Discord: a RESUME does not spend the session-start
 * budget an IDENTIFY does). A resume restores state the server still holds (a Socket.IO recovery, a presence
 * re-sync from a known revision) instead of fanning out the login's downstream calls.
 */
export const DEFAULT_RESUME_COST = 0.2;

/** The admission tokens an attempt of this kind costs (a login 1, a resume `resumeCost`). */
export function attemptCost(kind: AttemptKind, resumeCost = DEFAULT_RESUME_COST): number {
  numberOption("attemptCost", "resumeCost", resumeCost, 0, { exclusiveMin: true, max: 1 });
  return kind === "resume" ? resumeCost : 1;
}
