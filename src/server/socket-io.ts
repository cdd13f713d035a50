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
import { badOption, functionOption, objectOption } from "../options-check.js";
import type { HintPayload } from "../protocol/hints.js";
import type { AdmissionController, AdmissionDecision, AdmissionOptions } from "./admission.js";

/** socketIoAdmission's own option names, beside the admission options. */
const SIO_KEYS = ["clock", "key"];

import { addressKey, MAX_KEY_LENGTH } from "./admission-keys.js";
import { type AdmissionSchedule, adapterDecider, PENDING_FULL_HINT } from "./admission-schedule.js";

/** How long a refused connection may linger before the server closes it (ms). */
const REFUSED_GRACE_MS = 1_000;

/** The `message` of a refusal, as the client's `connect_error` shows it. */
export const OVERLOADED = "overloaded";

/** The parts of a Socket.IO handshake (`socket.handshake`) a `key` function may read. */
export interface SocketIoHandshakeLike {
  /** The remote address of the underlying connection. */
  readonly address?: string;
  /** The HTTP headers of the request that opened the connection (proxy headers are not trusted by default). */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The query parameters of that request. */
  readonly query?: Readonly<Record<string, unknown>>;
  /** The client's `auth` payload for this namespace. */
  readonly auth?: Readonly<Record<string, unknown>>;
}

export interface SocketIoAdmissionOptions extends AdmissionOptions {
  /** Time and timers (`now`, and `setTimeout` to close refused connections that linger). Default: the system clock. */
  clock?: Clock;
  /**
   * Who is asking, from the handshake: a user or tenant id, or an address. Refusals are accounted per key
   * (AdmissionController.decide), so one key ignoring its hints cannot take the capacity of the others.
   * Default: `handshake.address` ({@link addressKey}: IPv6 by its /64). Behind a reverse proxy that is the
   * proxy's address — return the client address the proxy reports instead, and only from a proxy you trust
   * (a forwarded-for header is whatever the client wrote unless your proxy overwrites it). A key that
   * throws, or is not a non-empty string of at most 256 characters, falls back to the address.
   */
  key?: (handshake: SocketIoHandshakeLike) => string | undefined;
}

/**
 * The options of {@link socketIoAdmission} with a shared `schedule` (e.g. `redisAdmission(...)` from
 * `resilient-reconnect/server/redis`): the rate and the other admission options belong to the schedule.
 */
export interface SocketIoScheduledAdmissionOptions
  extends Omit<SocketIoAdmissionOptions, keyof AdmissionOptions> {
  /** Where decisions are made; awaited for each new connection. */
  schedule: AdmissionSchedule;
  /**
   * Most connections awaiting the schedule at once (an integer ≥ 1). Default 1,000. One more is refused at
   * once (come back in 1–3 s) without asking the schedule.
   */
  maxPending?: number;
}

/**
 * What a duplicate CONNECT is told: come back after its connection has been closed (see
 * {@link DuplicateConnectError}).
 */
const DUPLICATE_HINT: HintPayload = { retryAfterMs: REFUSED_GRACE_MS, spreadMs: REFUSED_GRACE_MS };

/**
 * The error a CONNECT gets when its connection already has a socket admitted (or being admitted) on the
 * same namespace. It spends nothing. An honest client sends one after it gave up on a CONNECT still in the
 * server's middleware (a governed `io()` attempt that timed out on a Manager another namespace keeps open):
 * that earlier CONNECT becomes a socket the client no longer hears. So the refusal carries a hint (a refusal
 * without data would read as final, stopping the client for good) and the connection is closed after a
 * grace period, taking the stale socket with it; the client comes back on a fresh connection.
 */
export class DuplicateConnectError extends Error {
  /** Stable error name. */
  override readonly name = "DuplicateConnectError";
  /** Stable error code. */
  readonly code = "DUPLICATE_CONNECT";
  /** When to come back, in the wire format (after the connection has been closed). */
  readonly data: HintPayload = DUPLICATE_HINT;

  constructor(namespace: string) {
    super(`duplicate CONNECT for namespace ${namespace} on one connection`);
  }
}

/**
 * The error a refused client is given: Socket.IO sends its `message` and `data` to the client
 * (`connect_error`), where `data` is read as the hint.
 */
export class OverloadedError extends Error {
  /** Always `"OverloadedError"`. */
  override readonly name = "OverloadedError";
  /** Always `"OVERLOADED"` (also the message, which the client sees as the `connect_error` message). */
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
  (socket: unknown, next: (err?: OverloadedError | DuplicateConnectError) => void): void;
  /** The controller deciding: read `admitted`, `refused` and `backlogMs(now)` for metrics. */
  readonly controller: AdmissionController;
}

/** The middleware of {@link socketIoAdmission} with a `schedule`. */
export interface SocketIoScheduledAdmission {
  (socket: unknown, next: (err?: OverloadedError | DuplicateConnectError) => void): void;
  /** The schedule deciding. */
  readonly schedule: AdmissionSchedule;
  /** Connections awaiting the schedule now (at most `maxPending`). */
  readonly pending: number;
  /** Connections refused at once because `maxPending` were already awaiting the schedule. */
  readonly refusedPending: number;
}

/** What the middleware reads of a Socket.IO server-side socket. */
interface SocketIoSocketView {
  readonly conn?: { close?: () => void };
  readonly client?: { close?: () => void };
  readonly nsp?: { readonly name?: unknown };
  readonly handshake?: SocketIoHandshakeLike;
  once?(event: "disconnect", listener: () => void): unknown;
}

/** The decision made for one engine.io connection. */
interface Decided {
  refusal: HintPayload | undefined;
  /** While a schedule decides: CONNECTs that came meanwhile, answered once it has. */
  waiting?: Array<() => void>;
  /** Namespaces this admitted connection has a socket on (or is joining). */
  readonly namespaces: Set<string>;
  /** A duplicate CONNECT came: the connection is being closed. */
  closing?: boolean;
}

/** Marks `namespace` held by the connection until its socket disconnects (a client may leave and re-join). */
function holdNamespace(decided: Decided, namespace: string, socket: SocketIoSocketView): void {
  decided.namespaces.add(namespace);
  socket.once?.("disconnect", () => decided.namespaces.delete(namespace));
}

/** The operator's key, or the handshake address when it is missing, throws or returns something unusable. */
function keyFunction(
  key: ((handshake: SocketIoHandshakeLike) => string | undefined) | undefined,
): (handshake: SocketIoHandshakeLike | undefined) => string {
  return (handshake) => {
    if (key !== undefined && handshake !== undefined) {
      try {
        const value = key(handshake);
        if (typeof value === "string" && value.length > 0 && value.length <= MAX_KEY_LENGTH) return value;
      } catch {
        // An operator's key function that throws on a hostile handshake must not crash the middleware.
      }
    }
    return addressKey(typeof handshake?.address === "string" ? handshake.address : undefined);
  };
}

/**
 * Creates the admission middleware. Register it first, so a refused attempt costs no other middleware
 * (auth, session lookups) — shedding load is only worth it when refusing is cheap.
 *
 * One engine.io connection is one admission: Socket.IO runs middleware for every CONNECT packet, and the
 * first decision on a connection is the only one — a refused connection gets the same refusal again, an
 * admitted one may join further namespaces without spending another token, and a second CONNECT for a
 * namespace the connection already has (or is joining) is refused with {@link DuplicateConnectError}.
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
export function socketIoAdmission(options: SocketIoAdmissionOptions): SocketIoAdmission;
/**
 * Creates the admission middleware on a shared schedule: each new connection awaits
 * `schedule.decide(key)`, at most `maxPending` at once; the rules for one connection are the same.
 *
 * @example
 * io.use(socketIoAdmission({ schedule: redisAdmission({ redis, ratePerSecond: 500, nodes: 3 }) }));
 * @throws TypeError when `schedule` has no `decide`, or admission options (`ratePerSecond`…) are passed
 * beside it; RangeError for `maxPending`.
 */
export function socketIoAdmission(options: SocketIoScheduledAdmissionOptions): SocketIoScheduledAdmission;
export function socketIoAdmission(
  options: SocketIoAdmissionOptions | SocketIoScheduledAdmissionOptions,
): SocketIoAdmission | SocketIoScheduledAdmission {
  const where = "socketIoAdmission";
  objectOption(where, "options", options);
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== "function" || typeof clock.setTimeout !== "function")
    badOption(where, "clock", "an object with now() and setTimeout()", clock);
  const keyOf = keyFunction(functionOption(where, "key", options.key, undefined));
  const { schedule, maxPending, controller } = adapterDecider(where, options, SIO_KEYS, clock.now());
  let pending = 0;
  let refusedPending = 0;
  // One decision per engine.io connection. Socket.IO runs middleware for every CONNECT packet, and a TCP
  // write full of CONNECTs is parsed before the first of them completes, so without this one client would
  // take a token (or book an appointment) per packet. A refused connection gets its first answer again and
  // is closed once that answer has been written; an admitted one holds each namespace once.
  const decided = new WeakMap<object, Decided>();
  const middleware = (
    socket: unknown,
    next: (err?: OverloadedError | DuplicateConnectError) => void,
  ): void => {
    // A client socket.io's connection-state recovery brought back costs no fresh session (see above).
    if ((socket as { recovered?: unknown } | null)?.recovered === true) {
      next();
      return;
    }
    const view = (socket ?? {}) as SocketIoSocketView;
    const conn = view.conn ?? view.client;
    const namespace = typeof view.nsp?.name === "string" ? view.nsp.name : "/";
    const earlier = conn === undefined ? undefined : decided.get(conn);
    if (earlier?.waiting !== undefined) {
      // A CONNECT for another namespace while the schedule decides this connection: answered as it is.
      earlier.waiting.push(() => middleware(socket, next));
      return;
    }
    if (earlier?.refusal !== undefined) {
      next(new OverloadedError(earlier.refusal));
      return;
    }
    if (earlier !== undefined) {
      if (earlier.namespaces.has(namespace)) {
        next(new DuplicateConnectError(namespace));
        // The namespace's earlier socket may be one the client abandoned (see DuplicateConnectError), or
        // one a later middleware refused (it never disconnects, so it would hold the namespace for good):
        // a fresh connection clears both. After a grace period, as for refusals, and once.
        if (!earlier.closing && conn !== undefined) {
          earlier.closing = true;
          clock.setTimeout(() => conn.close?.(), REFUSED_GRACE_MS);
        }
        return;
      }
      holdNamespace(earlier, namespace, view);
      next();
      return;
    }
    if (controller !== undefined) {
      answer(controller.decide(clock.now(), keyOf(view.handshake)), undefined);
      return;
    }
    if (pending >= maxPending) {
      refusedPending++;
      // Nothing remembered: the refusal cost no round trip and holds no slot.
      next(new OverloadedError(PENDING_FULL_HINT));
      if (conn !== undefined) clock.setTimeout(() => conn.close?.(), REFUSED_GRACE_MS);
      return;
    }
    pending++;
    const entry: Decided = { refusal: undefined, namespaces: new Set(), waiting: [] };
    if (conn !== undefined) decided.set(conn, entry);
    const settle = (decision: AdmissionDecision) => {
      pending--;
      answer(decision, entry);
    };
    try {
      Promise.resolve((schedule as AdmissionSchedule).decide(keyOf(view.handshake))).then(settle, () =>
        settle({ admit: false, hint: PENDING_FULL_HINT }),
      );
    } catch {
      settle({ admit: false, hint: PENDING_FULL_HINT });
    }

    function answer(decision: AdmissionDecision, entry: Decided | undefined): void {
      const waiting = entry?.waiting ?? [];
      if (entry !== undefined) entry.waiting = undefined;
      if (decision.admit) {
        if (conn !== undefined) {
          const admitted: Decided = entry ?? { refusal: undefined, namespaces: new Set() };
          decided.set(conn, admitted);
          holdNamespace(admitted, namespace, view);
        }
        next();
      } else {
        if (conn !== undefined) {
          const refused: Decided = entry ?? { refusal: undefined, namespaces: new Set() };
          refused.refusal = decision.hint;
          decided.set(conn, refused);
        }
        next(new OverloadedError(decision.hint));
        // A well-behaved client disconnects on its own at once; one that lingers is closed after a grace
        // period (closing at once could overtake the CONNECT_ERROR that carries the appointment).
        if (conn !== undefined) clock.setTimeout(() => conn.close?.(), REFUSED_GRACE_MS);
      }
      for (const again of waiting) again();
    }
  };
  if (controller !== undefined) return Object.assign(middleware, { controller });
  return Object.defineProperties(middleware, {
    schedule: { value: schedule, enumerable: true },
    pending: { get: () => pending, enumerable: true },
    refusedPending: { get: () => refusedPending, enumerable: true },
  }) as SocketIoScheduledAdmission;
}
