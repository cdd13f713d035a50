/**
 * One connection attempt of a long-lived socket.io-client `Socket`, as a {@link Connection} our planner
 * drives. The same Socket (and so its Manager, its recovery id `_pid` / `_lastOffset` and its send buffer)
 * serves every attempt: socket.io's own reconnection is off and this is the only code that connects it.
 *
 * Shared by `io()` (the governed Socket an app uses directly) and `socketIoTransport` (the message pipe of
 * `ResilientSocket`): one Socket.IO integration, not two.
 */
import type { Socket } from "socket.io-client";
import {
  DRAIN_EVENT,
  type HintReading,
  NO_CEILING,
  readDrainHint,
  readRefusalHint,
} from "../policy/hints.js";
import { BUDGET_EVENT } from "../protocol/budget.js";
import type { CloseInfo, Connection, ConnectionHandlers } from "../transports/types.js";

/** The members of socket.io-client's Socket (4.7+) this module reaches; all are internal there. */
export interface SocketInternals {
  onopen(): void;
  emitEvent(args: unknown[]): void;
  emitBuffered(): void;
  emit(event: string, ...args: unknown[]): Socket;
  sendBuffer: BufferedPacket[];
  acks: Record<string, ((...args: unknown[]) => void) | undefined>;
  _pid?: string;
  _lastOffset?: string;
}

/** A packet waiting in socket.io-client's send buffer. */
export interface BufferedPacket {
  /** `[event, ...args]` (an ack callback already taken out). */
  readonly data: unknown[];
  /** Set when the emit asked for an acknowledgement. */
  readonly id?: number;
}

/** What a governed Socket's attempts share. */
export interface SocketLink {
  /** An attempt wants the Socket to send its CONNECT when the Manager opens. */
  wanted?: boolean;
  /** Receives a drain notice or the server's reconnect budget, by event name (both hidden from the app). */
  notice?: ((name: string, payload: unknown) => void) | undefined;
}

const links = new WeakMap<Socket, SocketLink>();

/** A Socket listener, whatever its arguments. */
type Listener = (...args: never[]) => void;

/** socket.io-client's own methods that this module replaces per instance (call them with `.call`). */
export interface SocketMethods {
  onopen(this: unknown): void;
  emitEvent(this: unknown, args: unknown[]): void;
  emitBuffered(this: unknown): void;
  connect(this: unknown): unknown;
  disconnect(this: unknown): unknown;
  emit(this: unknown, event: string, ...args: unknown[]): unknown;
}

/** socket.io-client's own methods, before this module's per-instance overrides. */
export function proto(socket: Socket): SocketMethods {
  return Object.getPrototypeOf(socket) as SocketMethods;
}

/**
 * Puts a Socket under governance (once): it sends its CONNECT only when one of our attempts asked for it
 * (another namespace opening the shared Manager does not drag it along off-schedule), and the drain notice
 * is read as a hint instead of reaching the app's listeners.
 */
export function linkOf(socket: Socket): SocketLink {
  let link = links.get(socket);
  if (link === undefined) {
    const made: SocketLink = {};
    link = made;
    links.set(socket, made);
    const inner = socket as unknown as SocketInternals;
    const base = proto(socket);
    // Instance properties win over the prototype; socket.io binds `onopen` when it subscribes to the Manager,
    // which it does only in connect(), after this.
    inner.onopen = function (this: SocketInternals) {
      if (made.wanted) base.onopen.call(this);
    };
    inner.emitEvent = function (this: SocketInternals, args: unknown[]) {
      const name = args[0];
      if (name !== DRAIN_EVENT && name !== BUDGET_EVENT) return base.emitEvent.call(this, args);
      // With connection-state recovery the server appends its offset: keep it, or the notice is replayed.
      const last = args[args.length - 1];
      if (this._pid !== undefined && args.length > 2 && typeof last === "string") this._lastOffset = last;
      made.notice?.(name, args[1]);
    };
  }
  return link;
}

/** Reads how a `disconnect` ended a connection (fields the reading lacks are left undefined). */
function disconnectInfo(reason: string, description: unknown, drain: HintReading | undefined): CloseInfo {
  // Over WebSocket engine.io passes the close event along: its code tells e.g. 1009 (a packet over the
  // server's maxHttpBufferSize) from a plain "transport close".
  const code = (description as { context?: { code?: unknown } } | undefined)?.context?.code;
  return {
    kind: reason === "io server disconnect" ? "deliberate" : "closed",
    reason,
    // A packet the client could not decode (socket.io "parse error", engine.io "transport error"): a protocol
    // violation by the server, reported rather than passed off as an ordinary drop.
    error: reason === "parse error" || reason === "transport error" ? (description ?? reason) : undefined,
    code: Number.isInteger(code) ? (code as number) : undefined,
    hint: drain,
  };
}

/** Reads a `connect_error`: a middleware refusal (with or without `err.data`) or a transport failure. */
function connectErrorInfo(socket: Socket, error: Error & { data?: unknown }): CloseInfo {
  return {
    // socket.io-client marks a socket inactive when the server's middleware refused it (a CONNECT_ERROR
    // packet); transport failures leave it active.
    kind: socket.active ? "error" : "refused",
    // A hostile server may send a megabyte of message: close-outcome.ts quotes a bounded part of it.
    reason: error?.message,
    error,
    // Any data at all is an attempted hint (usable or BAD_HINT, never final); only a refusal without data is
    // an auth refusal: close-outcome.ts decides what each reading means (one without a hint or a problem is
    // none). Read without a ceiling: the planner applies maxDelayMs, once.
    hint: readRefusalHint(error?.data, NO_CEILING),
  };
}

/**
 * Starts one attempt on `socket` and reports it to `handlers` until it ends. `close()` abandons it (or
 * ends the live connection) without reporting. No `send`: io()'s app emits on the Socket itself, and the
 * message pipe (`socketIoTransport`) adds its own.
 */
export function openAttempt(socket: Socket, handlers: ConnectionHandlers): Omit<Connection, "send"> {
  const link = linkOf(socket);
  let done = false;
  let drain: HintReading | undefined;
  const onConnect = () => {
    link.wanted = false;
    handlers.open();
  };
  const listeners: Record<string, Listener> = {
    connect: onConnect,
    connect_error: (error: Error & { data?: unknown }) => finish(connectErrorInfo(socket, error)),
    disconnect: (reason: string, description?: unknown) => finish(disconnectInfo(reason, description, drain)),
  };
  // The listeners by name (socket.io's typings take reserved event names one by one).
  const events = socket as unknown as Record<"on" | "off", (name: string, listener: Listener) => void>;
  /** Detaches this attempt's listeners; true the first time only. */
  const release = (): boolean => {
    if (done) return false;
    done = true;
    link.wanted = false;
    link.notice = undefined;
    for (const name in listeners) events.off(name, listeners[name] as Listener);
    return true;
  };
  const finish = (info: CloseInfo) => {
    if (release()) handlers.close(info);
  };
  link.notice = (name, payload) => {
    if (name === DRAIN_EVENT) drain = readDrainHint(payload, NO_CEILING);
    else handlers.budget?.(payload);
  };
  for (const name in listeners) events.on(name, listeners[name] as Listener);
  link.wanted = true;
  // Connected already (a namespace's CONNECT that an earlier attempt sent and then abandoned came back).
  if (socket.connected) onConnect();
  else proto(socket).connect.call(socket);
  // The Manager's URI and the namespace (both private in socket.io-client's types), read by `debug` only.
  const { io, nsp } = socket as unknown as { io: { uri?: string }; nsp: string };
  return {
    url: `${io.uri}${nsp === "/" ? "" : nsp}`,
    close() {
      // Abandoning an attempt keeps the Socket (its recovery id, its send buffer) for the next one.
      if (release() && socket.active) proto(socket).disconnect.call(socket);
    },
  };
}
