/**
 * Admission control for a Socket.IO server: a middleware that admits at most `ratePerSecond` new
 * connections a second and refuses the rest with their own appointment, in the wire form the client reads
 * (README, "Server hints"): `next(err)` with `err.message === "overloaded"` and `err.data` the
 * {@link HintPayload}. The client sees it as `connect_error` and comes back at its appointment.
 *
 * No runtime import of `socket.io`: the middleware is a plain `(socket, next)` function.
 * @see https://socket.io/docs/v4/middlewares/#sending-an-error
 */
import { type Clock, systemClock } from "../env.js";
import type { HintPayload } from "../policy/hints.js";
import { AdmissionController, type AdmissionOptions } from "./admission.js";

/** The `message` of a refusal, as the client's `connect_error` shows it. */
export const OVERLOADED = "overloaded";

export interface SocketIoAdmissionOptions extends AdmissionOptions {
  /** Time source (only `now` is used). Default: the system clock. */
  clock?: Clock;
}

/**
 * The error a refused client is given: Socket.IO sends its `message` and `data` to the client
 * (`connect_error`), where `data` is read as the hint.
 */
export class OverloadedError extends Error {
  override readonly name = "OverloadedError";
  readonly code = "OVERLOADED";
  /** The appointment, in the wire format. */
  readonly data: HintPayload;

  constructor(hint: HintPayload) {
    super(OVERLOADED);
    this.data = hint;
  }
}

/** A Socket.IO middleware (`io.use(...)` / `namespace.use(...)`) that also exposes its controller. */
export interface SocketIoAdmission {
  (socket: unknown, next: (err?: OverloadedError) => void): void;
  /** The controller deciding: read `admitted`, `refused` and `backlogMs(now)` for metrics. */
  readonly controller: AdmissionController;
}

/**
 * Creates the admission middleware. Register it first, so a refused attempt costs no other middleware
 * (auth, session lookups) — shedding load is only worth it when refusing is cheap.
 *
 * A middleware runs once per namespace a client joins; register it on the namespace clients connect to
 * first (usually `/`), or each namespace join spends a token.
 *
 * @example
 * const admission = socketIoAdmission({ ratePerSecond: 500 });
 * io.use(admission);
 * setInterval(() => metrics.gauge("backlog_ms", admission.controller.backlogMs(Date.now())), 1000);
 * @throws RangeError naming the option (`ratePerSecond`, `burst`, `spreadMs`, `maxHintMs`) when out of
 * range; TypeError when `options` or `clock` has the wrong type.
 * @see https://aws.amazon.com/builders-library/using-load-shedding-to-avoid-overload/
 */
export function socketIoAdmission(options: SocketIoAdmissionOptions): SocketIoAdmission {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`socketIoAdmission: options must be an object; got ${String(options)}`);
  }
  const clock = options.clock ?? systemClock;
  if (clock === null || typeof clock !== "object" || typeof clock.now !== "function") {
    throw new TypeError(`socketIoAdmission: clock must have a now() method; got ${String(clock)}`);
  }
  const controller = new AdmissionController(options, clock.now());
  const middleware = (_socket: unknown, next: (err?: OverloadedError) => void): void => {
    const decision = controller.decide(clock.now());
    if (decision.admit) next();
    else next(new OverloadedError(decision.hint));
  };
  return Object.assign(middleware, { controller });
}
