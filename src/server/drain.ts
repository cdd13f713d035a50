/**
 * Graceful drain for deploys: every connected client is disconnected now and told its own moment to come
 * back inside `windowMs` ({@link drainSchedule}: evenly spaced appointments, each with a spread of one
 * spacing), so the reconnects reach the remaining (or the new) instances at clients / window per second
 * instead of all at once. Appointments are handed out in a shuffled order, not connection order, so the
 * oldest clients are not always the first back (and no client is always last).
 *
 * The usual sequence: take the instance out of the load balancer (stop routing new connections to it),
 * drain, then exit once the sockets have closed. Clients without this library ignore the hint and
 * reconnect on their own backoff.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1 (1012 Service Restart, IANA registry)
 */
import { type Random, systemRandom } from "../env.js";
import { badOption, functionOption, numberOption, objectOption, rejectUnknown } from "../options-check.js";
import { CLOSE_SERVICE_RESTART, DRAIN_EVENT, type HintPayload } from "../protocol/hints.js";
import { drainSchedule } from "./admission.js";
import { hintCloseReason, type ServerWebSocketLike } from "./ws.js";

/** Options of {@link drainWs} and {@link drainSocketIo}: `windowMs` is required. */
export interface DrainOptions {
  /** Window (ms) the clients' returns are spread over; a finite number ≥ 0. */
  windowMs: number;
  /**
   * When the window starts, in ms from now: the moment the replacement accepts connections. Default 0.
   * Measured in the storm lab (deploy-drain, N = 10,000): starting at 0 while the replacement needs time
   * costs 2.5 attempts per client instead of 1.
   */
  startInMs?: number;
  /** Uniform draws in [0, 1) for the shuffle. Default `Math.random` (drawn at call time). */
  random?: Random;
}

/** What a drain did. */
export interface DrainSummary {
  /** Clients disconnected, each with its own appointment. */
  readonly clients: number;
  /** The window the appointments were spread over (after any clamp, see `warning`). */
  readonly windowMs: number;
  /**
   * Set when the window was cut to fit the server's connection-state recovery
   * (`maxDisconnectionDuration`): the message says what was asked and what was used.
   */
  readonly warning?: string;
}

/** The members of a server-side Socket.IO socket a drain uses. */
export interface SocketIoSocketLike {
  /** Sends the drain notice (`resilient:drain` with the client's hint). */
  emit(event: string, payload: HintPayload): unknown;
  /** Disconnects the socket (`close`: the whole engine.io connection too). */
  disconnect(close?: boolean): unknown;
  /** The engine.io connection: closing it is a disconnect socket.io saves for recovery. */
  readonly conn?: {
    /** Closes the engine.io connection (not the namespace socket), so the client may recover its session. */
    close(): unknown;
  };
}

/** Socket.IO's connection-state recovery settings, as the server holds them (`opts`, private in its types). */
interface RecoveryLike {
  readonly opts?: { readonly connectionStateRecovery?: { readonly maxDisconnectionDuration?: number } };
  readonly server?: RecoveryLike;
}

/** A Socket.IO namespace (`io.of("/chat")`): its `sockets` map. */
export interface SocketIoNamespaceLike {
  /** The namespace's connected sockets, by id. */
  readonly sockets: {
    /** Every connected socket of the namespace. */
    values(): Iterable<SocketIoSocketLike>;
  };
}

/** A Socket.IO server: `io.sockets` is its main namespace. */
export interface SocketIoServerLike {
  /** The main namespace (`/`). */
  readonly sockets: SocketIoNamespaceLike;
}

/**
 * Longest drain window (from now) that still lets the last client come back inside socket.io's recovery
 * window: a tenth of it, at least 1 s, is left for the client's own connect time and backoff floor.
 */
function recoveryBound(io: SocketIoServerLike | SocketIoNamespaceLike): number | undefined {
  const opts = (io as RecoveryLike).opts ?? (io as RecoveryLike).server?.opts;
  const max = opts?.connectionStateRecovery?.maxDisconnectionDuration;
  if (typeof max !== "number" || !Number.isFinite(max)) return undefined;
  return Math.max(0, max - Math.max(1_000, max / 10));
}

/** A `ws` `WebSocketServer` with client tracking on (the default): its `clients` set. */
export interface WebSocketServerClientsLike {
  /** The connected clients. */
  readonly clients: Iterable<ServerWebSocketLike>;
}

const OPEN = 1;

/** Validates the options before any client is touched; returns the random source. */
function checkOptions(where: string, options: DrainOptions): Random {
  rejectUnknown(where, objectOption(where, "options", options), ["windowMs", "startInMs", "random"]);
  if (options.windowMs === undefined) badOption(where, "windowMs", "given (a number >= 0)", undefined);
  numberOption(where, "windowMs", options.windowMs, 0);
  numberOption(where, "startInMs", options.startInMs, 0);
  return functionOption(where, "random", options.random, systemRandom);
}

/** Fisher–Yates, in place. A draw outside [0, 1) (a broken `random`) is clamped, never an invalid index. */
function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const draw = random();
    const j = Number.isFinite(draw) ? Math.min(i, Math.max(0, Math.floor(draw * (i + 1)))) : i;
    const item = items[i] as T;
    items[i] = items[j] as T;
    items[j] = item;
  }
  return items;
}

/**
 * Drains a Socket.IO server (its main namespace) or one namespace: each socket is sent the drain notice
 * ({@link DRAIN_EVENT} with its own hint), then its engine.io connection is closed once the notice is
 * written (so the client's other namespaces go with it). That is a close socket.io saves for
 * connection-state recovery ("forced close"; `disconnect(true)` is not: it first disconnects every
 * namespace), so a client back within `maxDisconnectionDuration` is `recovered`. When the server has
 * recovery on and `startInMs + windowMs` would not fit that duration, the window is cut to fit and the
 * summary's `warning` says so.
 *
 * @example
 * const { clients } = drainSocketIo(io, { windowMs: 30_000 });
 * @throws RangeError naming `windowMs` when it is not a finite number ≥ 0; TypeError for a wrong `io`,
 * `options` or `random`.
 */
export function drainSocketIo(
  io: SocketIoServerLike | SocketIoNamespaceLike,
  options: DrainOptions,
): DrainSummary {
  const random = checkOptions("drainSocketIo", options);
  const sockets = (io as { sockets?: unknown } | null)?.sockets as
    | { values?: unknown; sockets?: { values?: unknown } }
    | undefined;
  const map = typeof sockets?.values === "function" ? sockets : sockets?.sockets;
  if (map === undefined || typeof map.values !== "function")
    badOption("drainSocketIo", "io", "a Socket.IO Server or Namespace (with a sockets map)", io);
  const clients = shuffle([...(map as SocketIoNamespaceLike["sockets"]).values()], random);
  const startInMs = options.startInMs ?? 0;
  const bound = recoveryBound(io);
  let windowMs = options.windowMs;
  let warning: string | undefined;
  if (bound !== undefined && startInMs + windowMs > bound) {
    windowMs = Math.max(0, bound - startInMs);
    warning =
      `drainSocketIo: windowMs ${options.windowMs} (from ${startInMs} ms) does not fit connectionStateRecovery.` +
      `maxDisconnectionDuration; cut to ${windowMs} ms so the clients can still be recovered`;
  }
  const schedule = drainSchedule(clients.length, windowMs, options.startInMs);
  clients.forEach((socket, i) => {
    socket.emit(DRAIN_EVENT, schedule[i] as HintPayload);
    if (typeof socket.conn?.close === "function") socket.conn.close();
    else socket.disconnect(true);
  });
  return warning === undefined
    ? { clients: clients.length, windowMs }
    : { clients: clients.length, windowMs, warning };
}

/**
 * Drains a `ws` server: each open client is closed with 1012 (Service Restart) and its own hint as the
 * JSON close reason. Needs `clientTracking` (on by default); clients still in their closing handshake
 * (for example ones just refused with 1013) are left alone.
 *
 * @example
 * const { clients } = drainWs(wss, { windowMs: 30_000 });
 * @throws RangeError naming `windowMs` when it is not a finite number ≥ 0; TypeError for a wrong `wss`
 * (or one without client tracking), `options` or `random`.
 */
export function drainWs(wss: WebSocketServerClientsLike, options: DrainOptions): DrainSummary {
  const random = checkOptions("drainWs", options);
  const tracked = (wss as { clients?: unknown } | null)?.clients as Iterable<unknown> | undefined;
  if (typeof tracked?.[Symbol.iterator] !== "function")
    badOption("drainWs", "wss", "a ws WebSocketServer with clientTracking on (its clients set)", wss);
  const clients = shuffle(
    [...(tracked as Iterable<ServerWebSocketLike>)].filter((ws) => ws.readyState === OPEN),
    random,
  );
  const schedule = drainSchedule(clients.length, options.windowMs, options.startInMs);
  clients.forEach((ws, i) => {
    ws.close(CLOSE_SERVICE_RESTART, hintCloseReason(schedule[i] as HintPayload));
  });
  return { clients: clients.length, windowMs: options.windowMs };
}
