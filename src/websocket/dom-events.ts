/**
 * The event objects {@link ResilientWebSocket} dispatches: the platform's own `Event` and `MessageEvent`,
 * and `CloseEvent` where there is one (browsers, Node ≥ 23) — else a small compatible class, since Node 20
 * has `Event`, `EventTarget` and `MessageEvent` as globals but no `CloseEvent`.
 */

/** What a `CloseEvent` carries (the WHATWG `CloseEventInit`). */
export interface CloseEventFields {
  /** The close code (1006 when the connection ended without one). */
  readonly code: number;
  /** The close reason (empty when there was none). */
  readonly reason: string;
  /** The closing handshake completed. */
  readonly wasClean: boolean;
}

/** A `CloseEvent` for runtimes without one: same fields, same `type`. */
export class CloseEventShim extends Event implements CloseEventFields {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: Partial<CloseEventFields> = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** A `close` event: the platform's `CloseEvent` where it exists. */
export function closeEvent(fields: CloseEventFields): Event & CloseEventFields {
  const Native = (globalThis as { CloseEvent?: new (type: string, init: CloseEventFields) => CloseEvent })
    .CloseEvent;
  return new (Native ?? CloseEventShim)("close", fields);
}

/** An `error` event; `error` holds what went wrong (a `ResilientReconnectError`), as in an `ErrorEvent`. */
export class SocketErrorEvent extends Event {
  /** What went wrong. */
  readonly error: unknown;
  /** The error's message. */
  readonly message: string;
  constructor(error: unknown) {
    super("error");
    this.error = error;
    this.message = error instanceof Error ? error.message : String(error);
  }
}
