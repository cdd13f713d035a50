/**
 * Errors carry a stable `name` and `code`, and their messages say what was expected and what was seen.
 * They are emitted on the socket's `error` event; nothing in the library throws them at a caller except
 * option validation (which throws `TypeError` / `RangeError` naming the option).
 */

/** Stable codes of {@link ResilientReconnectError}. */
export type ErrorCode =
  | "TRANSPORT_ERROR"
  | "CONNECT_TIMEOUT"
  | "HEARTBEAT_TIMEOUT"
  | "REFUSED"
  | "BAD_HINT"
  | "MAX_ATTEMPTS"
  | "CREATE_FAILED"
  | "LISTENER_THREW";

/** Base class of every error this library emits. */
export class ResilientReconnectError extends Error {
  /** The class's name (each subclass has its own), stable across versions: safer than `instanceof` across bundles. */
  override readonly name: string = "ResilientReconnectError";
  /** What happened, as a stable {@link ErrorCode}: branch on it rather than on the message. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The transport failed to connect or the connection broke (the cause is the transport's own error). */
export class TransportError extends ResilientReconnectError {
  override readonly name = "TransportError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("TRANSPORT_ERROR", message, options);
  }
}

/** No open within `connectTimeoutMs`, or no inbound traffic within the heartbeat bound. */
export class TimeoutError extends ResilientReconnectError {
  override readonly name = "TimeoutError";
  constructor(code: "CONNECT_TIMEOUT" | "HEARTBEAT_TIMEOUT", message: string) {
    super(code, message);
  }
}

/** The server refused the connection without a retry hint (e.g. auth); not retried unless configured. */
export class ConnectionRefusedError extends ResilientReconnectError {
  override readonly name = "ConnectionRefusedError";
  /** HTTP status of a refused handshake, where the runtime could see it. */
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("REFUSED", message, options);
    this.status = options?.status;
  }
}

/** A server hint was malformed, hostile or cut to the ceiling; the bounded outcome is what was used. */
export class HintError extends ResilientReconnectError {
  override readonly name = "HintError";
  constructor(message: string) {
    super("BAD_HINT", message);
  }
}

/** `maxAttempts` consecutive attempts failed; the socket stopped (call `connect()` to start again). */
export class RetriesExhaustedError extends ResilientReconnectError {
  override readonly name = "RetriesExhaustedError";
  constructor(attempts: number) {
    super("MAX_ATTEMPTS", `gave up after ${attempts} consecutive failed attempts (maxAttempts)`);
  }
}

/** `SharedSocket`'s `create` threw: the tab stepped down and asks for the leadership again later. */
export class SocketCreateError extends ResilientReconnectError {
  override readonly name = "SocketCreateError";
  constructor(options: { cause: unknown }) {
    super("CREATE_FAILED", "SharedSocket: create() threw instead of returning a ResilientSocket", options);
  }
}

/** A listener of this event source threw; the source carried on (the listener's error is the `cause`). */
export class ListenerError extends ResilientReconnectError {
  /** Always `"ListenerError"`. */
  override readonly name = "ListenerError";
  /** The event whose listener threw. */
  readonly event: string;
  constructor(event: string, cause: unknown) {
    super("LISTENER_THREW", `a "${event}" listener threw; the other listeners and the socket carried on`, {
      cause,
    });
    this.event = event;
  }
}
