/**
 * The small interface a concrete socket is adapted to. A transport opens one connection per call; the
 * {@link ResilientSocket} owns every decision about when to call it.
 */
import type { HintReading } from "../policy/hints.js";

/** How a connection ended, as seen by the transport. */
export type CloseKind =
  /** A failure: refused handshake, network error, abnormal close — retried through the policy. */
  | "error"
  /** An ordinary close or drop (e.g. 1001 Going Away, a drained server) — retried through the policy. */
  | "closed"
  /** The server closed on purpose and meant it (WebSocket 1000, Socket.IO "io server disconnect"). */
  | "deliberate"
  /** The server refused this client (HTTP 401/403, Socket.IO middleware error without hint data). */
  | "refused";

/** How a connection or attempt ended, as a transport reports it to `ConnectionHandlers.close`. */
export interface CloseInfo {
  /** The kind of ending; decides whether the socket retries. See {@link CloseKind}. */
  readonly kind: CloseKind;
  /** WebSocket close code, or the HTTP status of a refused handshake. */
  readonly code?: number;
  /** The close reason text, or a description of the failure (e.g. "connection failed: ECONNREFUSED …"). */
  readonly reason?: string;
  /** A server hint read from the close (close code, Retry-After, connect_error data, drain notice). */
  readonly hint?: HintReading;
  /** The transport's own error object, if there was one. */
  readonly error?: unknown;
}

/** Callbacks a transport calls for one connection. `close` is called exactly once, unless the client
 * closed the connection itself, after which nothing is called. */
export interface ConnectionHandlers {
  /** The connection is open: messages may be sent. */
  open(): void;
  /** A message arrived, as the underlying socket delivered it (text, binary, or a Socket.IO event's argument). */
  message(data: unknown): void;
  /** The attempt failed or the connection ended; see {@link CloseInfo}. */
  close(info: CloseInfo): void;
  /**
   * The server announced its reconnect budget, as it sent it (`src/protocol/budget.ts`): transports whose
   * protocol carries it apart from messages (the Socket.IO event) hand the payload over unread. Over a plain
   * WebSocket the budget is a text frame the socket recognises among messages, so that transport never
   * calls this.
   */
  budget?(payload: unknown): void;
}

/** What a transport needs from the client to read hints. */
export interface TransportContext {
  /** Current time in ms (for `Retry-After` dates). */
  now(): number;
  /**
   * @deprecated No longer set: transports hand hints over as the server sent them (read, not bounded) and
   * the planner applies the ceiling, once. Kept optional so transports written against it still compile.
   */
  readonly maxHintMs?: number;
}

/** One connection attempt / live connection. */
export interface Connection {
  /** Where this attempt connects (the resolved URL), for the `debug` log. Optional. */
  readonly url?: string;
  /** Sends now; may throw if the underlying socket refuses (the client then queues the message). */
  send(data: unknown): void;
  /** Closes (or aborts an attempt in progress). After this the transport calls no handler. Idempotent. */
  close(): void;
}

/** A way to open connections. `connect` may throw synchronously: that counts as a failed attempt. */
export interface Transport {
  /** A short name for messages and logs (`"websocket"`, `"socket.io"`). */
  readonly name: string;
  /**
   * Turns a message into what `Connection.send` takes, once, when the app sends it (so the queue counts and
   * keeps the wire form, and a message that cannot be encoded is dropped at once instead of blocking the
   * queue). Throwing means "unsendable". Optional: without it messages are passed as they are.
   */
  encode?(data: unknown): unknown;
  /**
   * Starts one connection attempt and returns it at once; reports its outcome through `handlers` (calls made
   * from inside `connect` itself run once it returned). Throwing counts as a failed attempt.
   */
  connect(handlers: ConnectionHandlers, context: TransportContext): Connection;
}
