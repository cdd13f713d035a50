/**
 * Thin adapters that feed a {@link PresenceHub} from a `ws` WebSocketServer or a Socket.IO server. Neither
 * library is imported: the servers are passed in and used through the few members listed here. App
 * messages on the same sockets are left alone (the hub only takes text that starts with `{"$presence":`).
 */

import { systemClock } from "../../env.js";
import { badOption } from "../../options-check.js";
import type { PresenceHub } from "./hub.js";
import type { PresenceConnection } from "./hub-options.js";
import { type PresenceLivenessOptions, resolveLiveness, watchLiveness } from "./liveness.js";

/** How long a cut `ws` connection gets to take its close frame before it is terminated. */
const CLOSE_GRACE_MS = 1_000;

/** The members of a server-side `ws` WebSocket the adapter uses. */
export interface PresenceWsSocketLike {
  /** Sends one presence message (JSON text). */
  send(data: string): void;
  /** Bytes queued and not yet written (backpressure). */
  readonly bufferedAmount?: number;
  /** `3` (CLOSED) once the socket is closed; a cut socket not closed within 1 s is terminated. */
  readonly readyState?: number;
  /** Starts the close handshake; the hub calls it (through the adapter) for a connection it cuts. */
  close?(code: number, reason: string): void;
  /** Stops reading from the socket, so a cut connection's flood already buffered is not parsed. */
  pause?(): void;
  /** Destroys the socket at once, for a cut peer that does not take its close frame. */
  terminate?(): void;
  /** Sends a ping frame, for the liveness check (see {@link PresenceLivenessOptions}); without it, none. */
  ping?(): void;
  /** Subscribes to inbound messages (`ws` passes a Buffer, or an array of them, and whether it was binary). */
  on(event: "message", listener: (data: unknown, isBinary: boolean) => void): unknown;
  /** Subscribes to the socket closing (the member's grace period starts), or to a pong/ping (it is alive). */
  on(event: "close" | "pong" | "ping", listener: () => void): unknown;
  /** Unsubscribes a `message` listener (on detach). */
  off(event: "message", listener: (data: unknown, isBinary: boolean) => void): unknown;
  /** Unsubscribes a `close`, `pong` or `ping` listener (on detach). */
  off(event: "close" | "pong" | "ping", listener: () => void): unknown;
}

/** The members of a `ws` WebSocketServer the adapter uses. */
export interface PresenceWsServerLike {
  /** Subscribes to new connections (`request`: the upgrade request, passed to `authorize`). */
  on(event: "connection", listener: (ws: PresenceWsSocketLike, request?: unknown) => void): unknown;
  /** Unsubscribes (the function `attachPresenceToWs` returns calls it). */
  off(event: "connection", listener: (ws: PresenceWsSocketLike, request?: unknown) => void): unknown;
}

/** The members of a server-side Socket.IO socket the adapter uses. */
export interface PresenceSocketIoSocketLike {
  /** Socket.IO's id of this connection. */
  readonly id: string;
  /** The handshake (headers, auth, address), passed to `authorize` as the connection's `request`. */
  readonly handshake?: unknown;
  /**
   * The engine.io connection. Read at run time (engine.io declares these fields private): `writeBuffer`
   * (packets not yet handed to the transport; they pile up while it is not writable), `transport.socket`
   * (its `ws` WebSocket, for `bufferedAmount`) and `close()`.
   */
  readonly conn?: unknown;
  /** Sends one presence message (JSON text) as the presence event. */
  emit(event: string, data: string): unknown;
  /** Subscribes to the presence event and to `disconnect`. */
  on(event: string, listener: (data: unknown) => void): unknown;
  /** Unsubscribes (on detach). */
  off(event: string, listener: (data: unknown) => void): unknown;
}

/** The members of a Socket.IO `Server` or `Namespace` the adapter uses. */
export interface PresenceSocketIoServerLike {
  /** Subscribes to new connections. */
  on(event: "connection", listener: (socket: PresenceSocketIoSocketLike) => void): unknown;
  /** Unsubscribes (the function `attachPresenceToSocketIo` returns calls it). */
  off(event: "connection", listener: (socket: PresenceSocketIoSocketLike) => void): unknown;
}

/** Text of a `ws` message when it is text; binary frames are never presence. */
function wsText(data: unknown, isBinary: boolean): string | undefined {
  if (isBinary) return undefined;
  if (typeof data === "string") return data;
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data) && data.every((part) => Buffer.isBuffer(part)))
    return Buffer.concat(data).toString("utf8");
  return undefined;
}

const PREFIX = Buffer.from('{"$presence":');

/** Cheap pre-check on raw bytes, so app messages are not decoded to text for nothing. */
function mayBePresence(data: unknown): boolean {
  if (!Buffer.isBuffer(data)) return true;
  return data.length >= PREFIX.length && data.subarray(0, PREFIX.length).equals(PREFIX);
}

let wsIds = 0;

/**
 * Wires one `ws` socket to the hub (for apps that handle `connection` themselves). `request` is the HTTP
 * upgrade request (the second argument of `connection`), handed to `authorize`. `liveness`: when a silent
 * connection is pinged and ended (default on: see {@link PresenceLivenessOptions}). Returns the function
 * that unwires it (and starts the member's grace period, as a close does).
 * @throws RangeError naming `pingIntervalMs` or `pingTimeoutMs` when `liveness` is out of range.
 */
export function presenceWsConnection(
  hub: PresenceHub,
  ws: PresenceWsSocketLike,
  id = `ws-${++wsIds}`,
  request?: unknown,
  liveness?: PresenceLivenessOptions,
): () => void {
  const watch = watchLiveness(ws, resolveLiveness(liveness));
  const connection: PresenceConnection = {
    id,
    request,
    send: (text) => ws.send(text),
    buffered: () => ws.bufferedAmount ?? 0,
    close: (code, reason) => {
      ws.close?.(code, reason);
      // Read nothing more: a flood already in the kernel's buffers must not cost the parsing of every frame.
      ws.pause?.();
      // A peer that does not read never takes the close frame: it must not hold the socket for ws's 30 s.
      const timer = systemClock.setTimeout(() => {
        if (ws.readyState !== 3) ws.terminate?.();
      }, CLOSE_GRACE_MS);
      (timer as { unref?: () => void }).unref?.();
    },
  };
  const onMessage = (data: unknown, isBinary: boolean) => {
    if (!mayBePresence(data)) return;
    const text = wsText(data, isBinary);
    if (text !== undefined) hub.receive(connection, text);
  };
  const onClose = () => {
    watch.stop();
    ws.off("message", onMessage);
    ws.off("close", onClose);
    hub.disconnect(connection);
  };
  ws.on("message", onMessage);
  ws.on("close", onClose);
  return onClose;
}

/**
 * Runs presence on every connection of a `ws` WebSocketServer, and pings connections that fall silent
 * (`options`: {@link PresenceLivenessOptions}; docs/presence.md "Liveness").
 * @example
 * const hub = new PresenceHub();
 * attachPresenceToWs(hub, new WebSocketServer({ server }), { pingIntervalMs: 25_000 });
 * @returns the function that detaches (existing connections are released as if closed).
 * @throws RangeError naming `pingIntervalMs` or `pingTimeoutMs`.
 */
export function attachPresenceToWs(
  hub: PresenceHub,
  wss: PresenceWsServerLike,
  options?: PresenceLivenessOptions,
): () => void {
  if (typeof wss?.on !== "function") badOption("attachPresenceToWs", "wss", "a ws WebSocketServer", wss);
  const liveness = resolveLiveness(options);
  const releases = new Set<() => void>();
  const onConnection = (ws: PresenceWsSocketLike, request?: unknown) => {
    const release = presenceWsConnection(hub, ws, undefined, request, liveness);
    const once = () => {
      releases.delete(once);
      release();
    };
    releases.add(once);
    ws.on("close", once);
  };
  wss.on("connection", onConnection);
  return () => {
    wss.off("connection", onConnection);
    for (const release of [...releases]) release();
  };
}

const field = (value: unknown, key: string): unknown =>
  value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;

/** Bytes a Socket.IO connection holds unsent: the engine's write buffer plus its WebSocket's queue. */
function engineBuffered(engine: unknown): number {
  const queued = field(field(field(engine, "transport"), "socket"), "bufferedAmount");
  let bytes = typeof queued === "number" ? queued : 0;
  const buffer = field(engine, "writeBuffer");
  if (!Array.isArray(buffer)) return bytes;
  for (const packet of buffer) {
    const data = field(packet, "data");
    if (typeof data === "string" || Buffer.isBuffer(data)) bytes += data.length;
  }
  return bytes;
}

/**
 * Closes the engine connection, discarding what it holds unsent (engine.io would otherwise wait for a
 * drain that a peer that does not read never gives), and terminates its WebSocket if the close handshake
 * has not ended it soon after.
 */
function closeEngine(engine: unknown): void {
  const close = field(engine, "close");
  if (typeof close === "function") close.call(engine, true);
  const socket = field(field(engine, "transport"), "socket");
  const terminate = field(socket, "terminate");
  if (typeof terminate !== "function") return;
  const timer = systemClock.setTimeout(() => {
    if (field(socket, "readyState") !== 3) terminate.call(socket);
  }, CLOSE_GRACE_MS);
  (timer as { unref?: () => void }).unref?.();
}

/**
 * Wires one Socket.IO socket to the hub. Presence travels on `event` (default `"message"`, which is what
 * `socketIoTransport` sends and listens to). Returns the function that unwires it.
 */
export function presenceSocketIoConnection(
  hub: PresenceHub,
  socket: PresenceSocketIoSocketLike,
  event = "message",
): () => void {
  const connection: PresenceConnection = {
    id: socket.id,
    request: socket.handshake,
    send: (text) => socket.emit(event, text),
    buffered: () => engineBuffered(socket.conn),
    // Socket.IO has no close code: the engine connection is closed (the client sees a transport close and
    // reconnects), not the namespace socket (a server `disconnect` would read as final to the client).
    close: () => closeEngine(socket.conn),
  };
  const onMessage = (data: unknown) => {
    hub.receive(connection, data);
  };
  const onDisconnect = () => {
    socket.off(event, onMessage);
    socket.off("disconnect", onDisconnect);
    hub.disconnect(connection);
  };
  socket.on(event, onMessage);
  socket.on("disconnect", onDisconnect);
  return onDisconnect;
}

/**
 * Runs presence on every connection of a Socket.IO server or namespace.
 * @example
 * const hub = new PresenceHub();
 * attachPresenceToSocketIo(hub, io);
 * @returns the function that detaches (existing connections are released as if disconnected).
 */
export function attachPresenceToSocketIo(
  hub: PresenceHub,
  io: PresenceSocketIoServerLike,
  event = "message",
): () => void {
  const where = "attachPresenceToSocketIo";
  if (typeof io?.on !== "function") badOption(where, "io", "a Socket.IO Server or Namespace", io);
  if (typeof event !== "string" || event.length === 0)
    badOption(where, "event", "a non-empty event name", event, true);
  const releases = new Set<() => void>();
  const onConnection = (socket: PresenceSocketIoSocketLike) => {
    const release = presenceSocketIoConnection(hub, socket, event);
    const once = () => {
      releases.delete(once);
      release();
    };
    releases.add(once);
    socket.on("disconnect", once);
  };
  io.on("connection", onConnection);
  return () => {
    io.off("connection", onConnection);
    for (const release of [...releases]) release();
  };
}
