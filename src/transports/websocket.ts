/**
 * WebSocket transport: the WHATWG `WebSocket` of browsers (and of Node ≥ 22), or the `ws` package's
 * constructor passed in on Node. On Node with `ws`, a refused handshake's status and `Retry-After` header
 * are read (`unexpected-response`); a browser cannot see them, which is why servers also send hints in band
 * (close 1012/1013 with a JSON reason).
 */

import { badOption, objectOption, rejectUnknown } from "../options-check.js";
import {
  carriesHint,
  type HintReading,
  NO_CEILING,
  readCloseHint,
  readRetryAfterHint,
} from "../policy/hints.js";
import type { CloseInfo, Connection, ConnectionHandlers, Transport, TransportContext } from "./types.js";
import { webSocketUrlProblem } from "./url.js";

/**
 * The subset of the WHATWG WebSocket this transport uses (browser `WebSocket` and `ws` both fit). Listeners
 * receive events with a `type` (as every WHATWG event has): one listener serves all four.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Set by the transport from its `binaryType` option (default `"arraybuffer"`) before the socket opens. */
  binaryType: string;
  /** Sends one message (text or binary). */
  send(data: never): void;
  /** Closes with an optional code and reason. */
  close(code?: number, reason?: string): void;
  /** Subscribes to `open`, `message`, `error` or `close`. */
  // biome-ignore lint/suspicious/noExplicitAny: matches both the DOM's and ws's overloaded listener types.
  addEventListener(type: "open" | "message" | "error" | "close", listener: (event: any) => void): void;
  /** Unsubscribes a listener added with `addEventListener`. */
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  removeEventListener(type: "open" | "message" | "error" | "close", listener: (event: any) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketTransportOptions {
  /**
   * `ws:`/`wss:` URL (`http:`/`https:` too; relative only in a page, resolved against its address), or a
   * function called before every attempt (e.g. to put a fresh token in it). A string or URL is checked at
   * creation (TypeError); a function's result at each attempt (a failed attempt whose error says why).
   */
  url: string | URL | (() => string | URL);
  /** Subprotocols passed to the constructor. */
  protocols?: string | string[];
  /** The WebSocket constructor. Default `globalThis.WebSocket`; on Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /** `binaryType` for received binary data. Default `"arraybuffer"`. */
  binaryType?: "arraybuffer" | "blob";
}

const OPEN = 1;
/** Normal Closure: the server meant it (not retried unless `reconnectOnServerClose`). */
const CLOSE_NORMAL = 1000;

interface NodeResponse {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  resume?: () => void;
}
/** The `ws` package's socket: an EventEmitter with `terminate`. */
interface NodeEmitterLike {
  on(event: string, listener: (...args: never[]) => void): void;
  off(event: string, listener: (...args: never[]) => void): void;
  terminate(): void;
}

function isBinary(data: unknown): boolean {
  return (
    data instanceof ArrayBuffer ||
    ArrayBuffer.isView(data) ||
    (typeof Blob !== "undefined" && data instanceof Blob)
  );
}

/** Strings and binary data go as they are; anything else as JSON (throws when it has no JSON form). */
function encode(data: unknown): unknown {
  if (typeof data === "string" || isBinary(data)) return data;
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`a ${typeof data} has no JSON form`);
  return json;
}

/**
 * Creates a WebSocket transport. Strings and binary data are sent as they are; any other value is sent as
 * JSON. Received messages are delivered as the socket delivers them (string, ArrayBuffer or Blob).
 */
export function webSocketTransport(options: WebSocketTransportOptions): Transport {
  const where = "webSocketTransport";
  rejectUnknown(where, objectOption(where, "options", options), [
    "url",
    "protocols",
    "binaryType",
    "WebSocket",
  ]);
  const { url, protocols, binaryType = "arraybuffer" } = options;
  if (typeof url !== "string" && !(url instanceof URL) && typeof url !== "function")
    badOption(where, "url", "a string, URL or function", url);
  const problem = typeof url === "function" ? undefined : webSocketUrlProblem("webSocketTransport", url);
  if (problem !== undefined) throw new TypeError(problem);
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof Ctor !== "function")
    badOption(
      where,
      "WebSocket",
      "a WebSocket constructor (none is global here: on Node 20 pass `WebSocket` from the `ws` package)",
      Ctor,
    );
  if (binaryType !== "arraybuffer" && binaryType !== "blob")
    badOption(where, "binaryType", '"arraybuffer" or "blob"', binaryType, true);
  return new WebSocketTransport(url, protocols, binaryType, Ctor);
}

/** One instance per `webSocketTransport()` call; methods on the prototype, not closures per client. */
class WebSocketTransport implements Transport {
  readonly name = "websocket";
  /**
   * The `ws` package's class (or a subclass): an EventEmitter with ws's own methods on its prototype. Its
   * sockets emit their events on themselves, which the shared listeners rely on; anything else (a wrapper,
   * a Proxy) is listened to the WHATWG way.
   */
  private readonly isWs: boolean;
  constructor(
    private readonly url: WebSocketTransportOptions["url"],
    private readonly protocols: string | string[] | undefined,
    private readonly binaryType: "arraybuffer" | "blob",
    private readonly Ctor: WebSocketConstructor,
  ) {
    const proto = (Ctor as { prototype?: Partial<Record<string, unknown>> }).prototype;
    this.isWs = ["on", "off", "terminate", "ping", "pong"].every(
      (name) => typeof proto?.[name] === "function",
    );
  }

  encode(data: unknown): unknown {
    return encode(data);
  }

  connect(handlers: ConnectionHandlers, context: TransportContext): Connection {
    const url = this.url;
    const target = typeof url === "function" ? url() : url;
    if (typeof url === "function") {
      const problem =
        typeof target === "string" || target instanceof URL
          ? webSocketUrlProblem("webSocketTransport", target, "url()'s result")
          : `webSocketTransport: url() must return a string or URL; got ${typeof target}`;
      if (problem !== undefined) throw new TypeError(problem);
    }
    const socket = new this.Ctor(String(target), this.protocols);
    socket.binaryType = this.binaryType;
    return new WebSocketConnection(socket, handlers, context, this.isWs);
  }
}

/**
 * The `ws` package's sockets get these shared listeners through `on` (found by `this`), instead of
 * `addEventListener`, which makes a wrapper closure and an event object per listener and message: a process
 * holding thousands of connections pays for every byte per connection. They hand over what `ws`'s own
 * `addEventListener` would: text as a string, binary data as `binaryType` made it, the close reason as text.
 */
const wsConnections = /* @__PURE__ */ new WeakMap<object, WebSocketConnection>();
function wsOpen(this: object): void {
  wsConnections.get(this)?.opened();
}
function wsMessage(this: object, data: { toString(): string }, binary?: boolean): void {
  // ws 8 passes text as a Buffer with `binary` false; ws 7 and older pass no flag and text as a string.
  wsConnections.get(this)?.handlers.message(binary === false ? data.toString() : data);
}
function wsError(this: object, error: unknown): void {
  wsConnections.get(this)?.failed(error);
}
function wsClose(this: object, code: number, reason: { toString(): string }): void {
  wsConnections.get(this)?.ended({ code, reason: String(reason) });
}
function wsRefused(this: object, _request: unknown, response: NodeResponse): void {
  wsConnections.get(this)?.refused(response);
}
const WS_LISTENERS = [
  ["open", wsOpen],
  ["message", wsMessage],
  ["error", wsError],
  ["close", wsClose],
  ["unexpected-response", wsRefused],
] as const;
const EVENTS = ["open", "message", "error", "close"] as const;

/** What the four events of a WHATWG socket carry that we read. */
interface SocketEvent {
  readonly type: string;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly error?: unknown;
  readonly message?: string;
}

class WebSocketConnection implements Connection {
  private isOpen = false;
  private done = false;
  private refusal: { status: number; hint?: HintReading } | undefined;
  private lastError: unknown;
  /** A WHATWG socket's one listener for all four events. */
  private readonly listener: ((event: SocketEvent) => void) | undefined;
  private readonly node: NodeEmitterLike | undefined;

  constructor(
    private readonly socket: WebSocketLike,
    readonly handlers: ConnectionHandlers,
    private readonly context: TransportContext,
    isWs: boolean,
  ) {
    if (isWs) {
      this.node = socket as unknown as NodeEmitterLike;
      wsConnections.set(socket, this);
      for (const [event, listener] of WS_LISTENERS) this.node.on(event, listener as never);
    } else {
      const listener = (event: SocketEvent) => {
        if (event.type === "open") this.opened();
        else if (event.type === "message") this.handlers.message(event.data);
        else if (event.type === "error") this.failed(event.error ?? event.message ?? event);
        else if (event.type === "close") this.ended(event as { code: number; reason: string });
      };
      this.listener = listener;
      for (const type of EVENTS) socket.addEventListener(type, listener);
    }
  }

  get url(): string | undefined {
    return (this.socket as { url?: string }).url;
  }

  opened(): void {
    this.isOpen = true;
    this.handlers.open();
  }

  failed(error: unknown): void {
    this.lastError = error;
  }

  refused(response: NodeResponse): void {
    const status = response.statusCode ?? 0;
    const header = response.headers?.["retry-after"];
    const value = Array.isArray(header) ? header[0] : header;
    const hint = readRetryAfterHint(value, this.context.now(), status, NO_CEILING);
    this.refusal = { status, hint };
    response.resume?.();
    this.node?.terminate();
  }

  ended(event: { code: number; reason: string }): void {
    this.detach(true);
    if (this.done) return;
    this.done = true;
    this.handlers.close(describeClose(event, this.isOpen, this.refusal, this.lastError));
  }

  send(data: unknown): void {
    const socket = this.socket;
    if (socket.readyState !== OPEN)
      throw new Error(`WebSocket is not open (readyState ${socket.readyState})`);
    socket.send(data as never);
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    // The error and close listeners stay until the socket reports "close": `ws` throws on an error
    // event nobody listens to, and aborting a handshake emits one.
    this.detach(false);
    try {
      this.socket.close(CLOSE_NORMAL);
    } catch {
      // Closing a socket that is already gone has nothing to release.
    }
  }

  /** Removes the open and message listeners; with `all`, every listener. */
  private detach(all: boolean): void {
    const node = this.node;
    if (node !== undefined) {
      for (const [event, listener] of WS_LISTENERS) {
        if (all || event === "open" || event === "message") node.off(event, listener as never);
      }
      if (all) wsConnections.delete(this.socket);
      return;
    }
    const listener = this.listener;
    if (listener !== undefined)
      for (const type of all ? EVENTS : EVENTS.slice(0, 2)) this.socket.removeEventListener(type, listener);
  }
}

function describeClose(
  event: { code: number; reason: string },
  opened: boolean,
  refusal: { status: number; hint?: HintReading } | undefined,
  error: unknown,
): CloseInfo {
  if (refusal !== undefined) {
    const { status, hint } = refusal;
    const kind = (status === 401 || status === 403) && hint?.hint === undefined ? "refused" : "error";
    const info: CloseInfo = { kind, code: status, reason: `handshake refused with HTTP ${status}`, error };
    return hint === undefined ? info : { ...info, hint };
  }
  const code = event.code;
  const reason = typeof event.reason === "string" ? event.reason : "";
  const hint = readCloseHint(code, reason, NO_CEILING);
  const kind = code === CLOSE_NORMAL ? "deliberate" : opened ? "closed" : "error";
  const info: CloseInfo = { kind, code, reason };
  // An error on an open connection is a protocol violation by the server (malformed frame, invalid UTF-8,
  // an oversized control frame): reported, not swallowed as an ordinary drop.
  const withError = error === undefined || kind === "deliberate" ? info : { ...info, error };
  return carriesHint(hint) ? { ...withError, hint } : withError;
}
