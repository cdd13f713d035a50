/**
 * What every WHATWG-compatible socket here shares: the `CONNECTING..CLOSED` constants on the class and the
 * instance, the `on…` handler properties, and the checks `close()` makes. An `EventTarget`, so
 * `addEventListener`, `removeEventListener` and `dispatchEvent` are the platform's own.
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 */

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** `CONNECTING`, `OPEN`, `CLOSING` or `CLOSED`. */
export type ReadyState = 0 | 1 | 2 | 3;

/**
 * An `on…` handler property's value, as on a WHATWG WebSocket (called with the socket as `this`; not in the
 * type, so the class stays assignable to the DOM's `WebSocket`).
 */
export type EventHandler<E extends Event = Event> = ((event: E) => unknown) | null;

type HandledType = "open" | "message" | "close" | "error";

/** The WHATWG parts shared by `ResilientWebSocket` and the instances of a `governedWebSocket()` class. */
export abstract class WebSocketFace extends EventTarget {
  /** An attempt is in flight (0). */
  static readonly CONNECTING = CONNECTING;
  /** Connected (1). */
  static readonly OPEN = OPEN;
  /** Closing the connection (2). */
  static readonly CLOSING = CLOSING;
  /** Not connected (3). */
  static readonly CLOSED = CLOSED;

  private readonly handlers: Partial<Record<HandledType, (this: WebSocketFace, event: Event) => unknown>> =
    {};
  private readonly callHandler = (event: Event) =>
    this.handlers[event.type as HandledType]?.call(this, event);

  /** `CONNECTING`, `OPEN`, `CLOSING` or `CLOSED`. */
  abstract get readyState(): ReadyState;

  /** `CONNECTING` (0). */
  get CONNECTING(): 0 {
    return CONNECTING;
  }
  /** `OPEN` (1). */
  get OPEN(): 1 {
    return OPEN;
  }
  /** `CLOSING` (2). */
  get CLOSING(): 2 {
    return CLOSING;
  }
  /** `CLOSED` (3). */
  get CLOSED(): 3 {
    return CLOSED;
  }

  /** Called on `open`. */
  get onopen(): EventHandler {
    return this.handlers.open ?? null;
  }
  /** Sets the `open` handler (one per socket, kept across reconnects); `null` removes it. */
  set onopen(handler: EventHandler) {
    this.handle("open", handler);
  }
  /** Called for each message (`event.data`). */
  get onmessage(): EventHandler<MessageEvent> {
    return this.handlers.message ?? null;
  }
  /** Sets the `message` handler (one per socket, kept across reconnects); `null` removes it. */
  set onmessage(handler: EventHandler<MessageEvent>) {
    this.handle("message", handler as EventHandler);
  }
  /** Called on `close`. */
  get onclose(): EventHandler<CloseEvent> {
    return this.handlers.close ?? null;
  }
  /** Sets the `close` handler (one per socket, kept across reconnects); `null` removes it. */
  set onclose(handler: EventHandler<CloseEvent>) {
    this.handle("close", handler as EventHandler);
  }
  /** Called for each error (`event.error` is a `ResilientReconnectError`). */
  get onerror(): EventHandler {
    return this.handlers.error ?? null;
  }
  /** Sets the `error` handler (one per socket, kept across reconnects); `null` removes it. */
  set onerror(handler: EventHandler) {
    this.handle("error", handler);
  }

  /** Like an event handler attribute: listens from the first time it is set, stops when set to null. */
  private handle(type: HandledType, handler: EventHandler): void {
    const had = this.handlers[type] !== undefined;
    if (typeof handler === "function") {
      this.handlers[type] = handler;
      if (!had) this.addEventListener(type, this.callHandler);
    } else {
      delete this.handlers[type];
      this.removeEventListener(type, this.callHandler);
    }
  }
}

/** The checks `WebSocket.close()` makes, with its errors. */
export function checkClose(code: number | undefined, reason: string | undefined): void {
  if (code !== undefined && code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
    throw new DOMException(`close code must be 1000 or in 3000-4999; got ${code}`, "InvalidAccessError");
  }
  if (reason !== undefined && new TextEncoder().encode(reason).length > 123) {
    throw new DOMException("close reason must be at most 123 bytes of UTF-8", "SyntaxError");
  }
}
