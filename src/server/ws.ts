/**
 * Admission control on the WebSocket upgrade path of a Node HTTP server (for `ws` in `noServer` mode, or
 * any server that handles `upgrade` itself). Admitted requests are handed on; refused ones are given their
 * appointment in one of the two wire forms of the README ("Server hints"):
 * - `"close-1013"`: the upgrade completes and the socket is closed at once with 1013 (Try Again Later) and
 *   the JSON hint as the close reason — readable by every client, browsers included;
 * - `"http-503"`: `HTTP/1.1 503 Service Unavailable` with `Retry-After` in whole seconds (rounded up) —
 *   readable only where the runtime exposes the handshake response (Node `ws` clients).
 *
 * No runtime import of `ws`: the WebSocket server is passed in and used through the few members it needs.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3 (Retry-After)
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type Clock, systemClock } from "../env.js";
import { badOption, functionOption, objectOption } from "../options-check.js";
import { CLOSE_TRY_AGAIN_LATER, type HintPayload } from "../protocol/hints.js";
import type { AdmissionController, AdmissionDecision, AdmissionOptions } from "./admission.js";

/** wsAdmission's own option names, beside the admission options. */
const WS_KEYS = ["refuseWith", "wss", "clock", "key"];

import { addressKey, MAX_KEY_LENGTH } from "./admission-keys.js";
import { type AdmissionSchedule, adapterDecider, PENDING_FULL_HINT } from "./admission-schedule.js";

/** How a refused upgrade is answered. */
export type WsRefusal = "close-1013" | "http-503";

/** The WebSocket close reason limit: 125 bytes of control-frame payload minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** The members of a server-side WebSocket (`ws`'s `WebSocket`) the helpers use. */
export interface ServerWebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket constants). */
  readonly readyState: number;
  /** Starts the closing handshake with `code` and `reason` (the hint travels in the reason). */
  close(code: number, reason: string): void;
  /** Destroys the connection at once, when a closing handshake does not finish. */
  terminate?(): void;
  /** Subscribes to socket errors (so one does not crash the process while it closes). */
  on?(event: "error", listener: (error: Error) => void): unknown;
}

/** The members of a `ws` `WebSocketServer` (created with `noServer: true`) the helpers use. */
export interface WebSocketServerLike {
  /** Completes an HTTP upgrade to a WebSocket and calls `callback` with it. */
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (ws: ServerWebSocketLike, request: IncomingMessage) => void,
  ): void;
  /** Emits `connection` for an admitted socket, as `ws` does for the upgrades it handles itself. */
  emit(event: "connection", ws: ServerWebSocketLike, request: IncomingMessage): unknown;
}

export interface WsAdmissionOptions extends AdmissionOptions {
  /**
   * How refusals are answered. Default `"close-1013"`: a browser cannot see the status or headers of a
   * refused handshake (it only reports close 1006), so a 503 leaves every browser on blind backoff, while
   * a 1013 close reason reaches browsers and Node clients alike, to the millisecond. Its cost: the
   * handshake completes (a 101 and a close frame, no application code runs), and the client sees a brief
   * `open` before the close — ResilientSocket counts that as a failed, unstable connection. Choose
   * `"http-503"` when every client runs on Node with `ws` (it reads `Retry-After`) or when a refused
   * client must never see an open socket; `Retry-After` carries whole seconds, so clients refused within
   * the same second come back together.
   */
  refuseWith?: WsRefusal;
  /**
   * The `ws` server (`new WebSocketServer({ noServer: true })`). Required for `"close-1013"`; also the
   * default way to admit: `wss.handleUpgrade(...)` then `wss.emit("connection", ws, request)`.
   */
  wss?: WebSocketServerLike;
  /** Time and timers (`now`, and `setTimeout` to cut off refused clients that linger). Default: the system clock. */
  clock?: Clock;
  /**
   * Who is asking, from the upgrade request: a user or tenant id, or an address. Refusals are accounted per
   * key (AdmissionController.decide), so one key ignoring its hints cannot take the capacity of the others.
   * Default: the remote address of the TCP connection ({@link addressKey}: IPv6 by its /64). Behind a
   * reverse proxy that address is the proxy's — return the client address the proxy reports instead, and
   * only from a proxy you trust: a forwarded-for header is whatever the client wrote unless your proxy
   * overwrites it. A key that throws, or is not a non-empty string of at most 256 characters, falls back to
   * the remote address.
   */
  key?: (request: IncomingMessage) => string | undefined;
}

/**
 * The options of {@link wsAdmission} with a shared `schedule` (e.g. `redisAdmission(...)` from
 * `resilient-reconnect/server/redis`): the rate and the other admission options belong to the schedule.
 */
export interface WsScheduledAdmissionOptions extends Omit<WsAdmissionOptions, keyof AdmissionOptions> {
  /** Where decisions are made; awaited for each upgrade. */
  schedule: AdmissionSchedule;
  /**
   * Most upgrades awaiting the schedule at once (an integer ≥ 1). Default 1,000. One more is answered at
   * once with a 503 and `Retry-After` (come back in 1–3 s), without asking the schedule: a storm while the
   * schedule is slow must not pile up sockets and buffers in this process.
   */
  maxPending?: number;
}

/** The upgrade handler of {@link wsAdmission} with a `schedule`: it resolves once the request is answered. */
export interface WsScheduledAdmission {
  (request: IncomingMessage, socket: Duplex, head: Buffer, accept?: () => void): Promise<boolean>;
  /** The schedule deciding. */
  readonly schedule: AdmissionSchedule;
  /** Upgrades awaiting the schedule now (at most `maxPending`). */
  readonly pending: number;
  /** Upgrades refused at once because `maxPending` were already awaiting the schedule. */
  readonly refusedPending: number;
}

/**
 * Decides one upgrade request: admits it (calls `accept`, or by default hands it to `wss` and emits
 * `connection`) and returns true, or refuses it as configured and returns false. The app never sees a
 * refused request.
 */
export interface WsAdmission {
  (request: IncomingMessage, socket: Duplex, head: Buffer, accept?: () => void): boolean;
  /** The controller deciding: read `admitted`, `refused` and `backlogMs(now)` for metrics. */
  readonly controller: AdmissionController;
}

/** The close reason for a hint: its JSON, checked against the 123-byte limit. */
export function hintCloseReason(hint: HintPayload): string {
  const reason = JSON.stringify(hint);
  // The JSON of a HintPayload is ASCII, so characters are bytes.
  if (reason.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `hint close reason must be at most ${MAX_CLOSE_REASON_BYTES} bytes; got ${reason.length}: ${reason}`,
    );
  }
  return reason;
}

/** `Retry-After` delay-seconds for a hint: rounded up, so no client comes back before its appointment. */
export function retryAfterSeconds(hint: HintPayload): number {
  return Math.ceil(hint.retryAfterMs / 1000);
}

function refuseWith503(socket: Duplex, hint: HintPayload): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(hint);
  const head = [
    "HTTP/1.1 503 Service Unavailable",
    `Retry-After: ${retryAfterSeconds(hint)}`,
    "Connection: close",
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  // Node's HTTP server drops its error listener from an upgraded socket; a reset must not crash the process.
  socket.on("error", () => socket.destroy());
  socket.once("finish", () => socket.destroy());
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
}

/** A refused client that never answers the close frame is cut off after this long (ms), not ws's 30 s. */
const REFUSED_GRACE_MS = 1_000;
const CLOSED = 3;

function refuseWith1013(
  wss: WebSocketServerLike,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  hint: HintPayload,
  clock: Clock,
): void {
  const reason = hintCloseReason(hint);
  wss.handleUpgrade(request, socket, head, (ws) => {
    ws.on?.("error", () => {});
    ws.close(CLOSE_TRY_AGAIN_LATER, reason);
    clock.setTimeout(() => {
      if (ws.readyState !== CLOSED) ws.terminate?.();
    }, REFUSED_GRACE_MS);
  });
}

/** The operator's key, or the remote address when it is missing, throws or returns something unusable. */
function keyFunction(
  key: ((request: IncomingMessage) => string | undefined) | undefined,
): (request: IncomingMessage) => string {
  return (request) => {
    if (key !== undefined) {
      try {
        const value = key(request);
        if (typeof value === "string" && value.length > 0 && value.length <= MAX_KEY_LENGTH) return value;
      } catch {
        // An operator's key function that throws on a hostile request must not crash the upgrade path.
      }
    }
    return addressKey(request.socket?.remoteAddress);
  };
}

/**
 * Creates the upgrade-path admission control.
 *
 * @example
 * const wss = new WebSocketServer({ noServer: true });
 * const admission = wsAdmission({ ratePerSecond: 500, wss });
 * server.on("upgrade", (request, socket, head) => admission(request, socket, head));
 * @throws RangeError naming the option (`ratePerSecond`, `burst`, `spreadMs`, `maxHintMs`, `refuseWith`)
 * when out of range; TypeError when `options`, `wss` or `clock` has the wrong type, or `wss` is missing for
 * `refuseWith: "close-1013"`.
 */
export function wsAdmission(options: WsAdmissionOptions): WsAdmission;
/**
 * Creates the upgrade-path admission control on a shared schedule: each upgrade awaits
 * `schedule.decide(key)`, at most `maxPending` at once.
 *
 * @example
 * const admission = wsAdmission({ wss, schedule: redisAdmission({ redis, ratePerSecond: 500, nodes: 3 }) });
 * server.on("upgrade", (request, socket, head) => void admission(request, socket, head));
 * @throws TypeError when `schedule` has no `decide`, or admission options (`ratePerSecond`…) are passed
 * beside it; RangeError for `maxPending`; the other checks as without a schedule.
 */
export function wsAdmission(options: WsScheduledAdmissionOptions): WsScheduledAdmission;
export function wsAdmission(
  options: WsAdmissionOptions | WsScheduledAdmissionOptions,
): WsAdmission | WsScheduledAdmission {
  const where = "wsAdmission";
  objectOption(where, "options", options);
  const { refuseWith = "close-1013", wss } = options;
  const clock = options.clock ?? systemClock;
  if (refuseWith !== "close-1013" && refuseWith !== "http-503")
    badOption(where, "refuseWith", '"close-1013" or "http-503"', refuseWith, true);
  if (wss !== undefined && typeof wss?.handleUpgrade !== "function")
    badOption(where, "wss", "a ws WebSocketServer (with handleUpgrade)", wss);
  if (wss === undefined && refuseWith === "close-1013")
    badOption(
      where,
      "wss",
      'given with refuseWith "close-1013" (the WebSocketServer that completes the upgrade before closing it)',
      wss,
    );
  if (typeof clock?.now !== "function" || typeof clock.setTimeout !== "function")
    badOption(where, "clock", "an object with now() and setTimeout()", clock);
  const keyOf = keyFunction(functionOption(where, "key", options.key, undefined));
  const { schedule, maxPending, controller } = adapterDecider(where, options, WS_KEYS, clock.now());
  const answer = (
    decision: AdmissionDecision,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accept: (() => void) | undefined,
  ): boolean => {
    if (decision.admit) {
      if (accept !== undefined) accept();
      else wss?.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
      return true;
    }
    // A key that keeps coming back early is answered without completing the upgrade: it has had its
    // appointment in band already, and ignores it.
    if (refuseWith === "http-503" || wss === undefined || decision.cheap === true) {
      refuseWith503(socket, decision.hint);
    } else refuseWith1013(wss, request, socket, head, decision.hint, clock);
    return false;
  };
  const needAccept = (accept: (() => void) | undefined): void => {
    if (accept === undefined && wss === undefined) {
      throw new TypeError("wsAdmission: pass accept, or create the admission with the wss option");
    }
  };
  if (schedule !== undefined) return scheduledWsAdmission(schedule, maxPending, keyOf, answer, needAccept);
  const admission = (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accept?: () => void,
  ): boolean => {
    needAccept(accept);
    return answer(controller.decide(clock.now(), keyOf(request)), request, socket, head, accept);
  };
  return Object.assign(admission, { controller });
}

/** A schedule that throws (not one that refuses) refuses the upgrade as the pending bound does. */
const SCHEDULE_FAILED: AdmissionDecision = { admit: false, hint: PENDING_FULL_HINT, cheap: true };

function scheduledWsAdmission(
  schedule: AdmissionSchedule,
  maxPending: number,
  keyOf: (request: IncomingMessage) => string,
  answer: (
    decision: AdmissionDecision,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accept: (() => void) | undefined,
  ) => boolean,
  needAccept: (accept: (() => void) | undefined) => void,
): WsScheduledAdmission {
  let pending = 0;
  let refusedPending = 0;
  // A misuse (no accept and no wss) throws at the call, as without a schedule, not as a rejection.
  const admission = (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accept?: () => void,
  ): Promise<boolean> => {
    needAccept(accept);
    if (pending >= maxPending) {
      refusedPending++;
      refuseWith503(socket, PENDING_FULL_HINT);
      return Promise.resolve(false);
    }
    return awaitDecision(request, socket, head, accept);
  };
  const awaitDecision = async (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accept: (() => void) | undefined,
  ): Promise<boolean> => {
    pending++;
    // Node's HTTP server leaves an upgraded socket without an error listener: a client resetting while its
    // decision is awaited must not crash the process.
    const onError = () => socket.destroy();
    socket.on("error", onError);
    let decision: AdmissionDecision;
    try {
      decision = await schedule.decide(keyOf(request));
    } catch {
      decision = SCHEDULE_FAILED;
    } finally {
      pending--;
      socket.off("error", onError);
    }
    // The client may have given up while it waited: nothing to answer, no upgrade to hand on.
    if (socket.destroyed) return false;
    return answer(decision, request, socket, head, accept);
  };
  return Object.defineProperties(admission, {
    schedule: { value: schedule, enumerable: true },
    pending: { get: () => pending, enumerable: true },
    refusedPending: { get: () => refusedPending, enumerable: true },
  }) as WsScheduledAdmission;
}
