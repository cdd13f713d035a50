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

/** How long a refused connection may linger before the server closes it (ms). */
const REFUSED_GRACE_MS = 1_000;

/** The `message` of a refusal, as the client's `connect_error` shows it. */
export const OVERLOADED = "overloaded";

export interface SocketIoAdmissionOptions extends AdmissionOptions {
  /** Time and timers (`now`, and `setTimeout` to close refused connections that linger). Default: the system clock. */
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
 * A client that socket.io's connection-state recovery brought back (`socket.recovered`) is admitted without a
 * token: it costs no fresh session and none of a login's fan-out. socket.io skips middlewares for such
 * clients by default (`skipMiddlewares: true`); with `skipMiddlewares: false` this keeps the same outcome.
 * A recovery cannot be faked: socket.io sets `recovered` only for a session id it stored itself.
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
  if (
    clock === null ||
    typeof clock !== "object" ||
    typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function"
  ) {
    throw new TypeError(`socketIoAdmission: clock must have now() and setTimeout(); got ${String(clock)}`);
  }
  const controller = new AdmissionController(options, clock.now());
  // One decision per engine.io connection: Socket.IO runs middleware for every CONNECT packet, so a client
  // that repeats CONNECT on one refused connection would otherwise book a new appointment each time and
  // push every honest client's appointment out towards the ceiling. It gets its first answer again, and
  // the connection is closed once that answer has been written.
  const refusedOn = new WeakMap<object, HintPayload>();
  const middleware = (socket: unknown, next: (err?: OverloadedError) => void): void => {
    if ((socket as { recovered?: unknown } | null)?.recovered === true) {
      next();
      return;
    }
    const conn = (socket as { conn?: { close?: () => void } } | null)?.conn;
    const earlier = conn === undefined ? undefined : refusedOn.get(conn);
    if (earlier !== undefined) {
      next(new OverloadedError(earlier));
      return;
    }
    const decision = controller.decide(clock.now());
    if (decision.admit) {
      next();
      return;
    }
    if (conn !== undefined) refusedOn.set(conn, decision.hint);
    next(new OverloadedError(decision.hint));
    // A well-behaved client disconnects on its own at once; one that lingers is closed after a grace
    // period (closing at once could overtake the CONNECT_ERROR that carries the appointment).
    if (conn !== undefined) clock.setTimeout(() => conn.close?.(), REFUSED_GRACE_MS);
  };
  return Object.assign(middleware, { controller });
}
