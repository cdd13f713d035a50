/**
 * WebSocket transport: the WHATWG `WebSocket` of browsers (and of Node ≥ 22), or the `ws` package's
 * constructor passed in on Node. On Node with `ws`, a refused handshake's status and `Retry-After` header
 * are read (`unexpected-response`); a browser cannot see them, which is why servers also send hints in band
 * (close 1012/1013 with a JSON reason).
 */
import { type HintReading, readCloseHint, readRetryAfterHint } from "../policy/hints.js";
import type { CloseInfo, Connection, ConnectionHandlers, Transport, TransportContext } from "./types.js";

/** The subset of the WHATWG WebSocket this transport uses (browser `WebSocket` and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: never): void;
  close(code?: number, reason?: string): void;
  // biome-ignore lint/suspicious/noExplicitAny: matches both the DOM's and ws's overloaded listener types.
  addEventListener(type: "open" | "message" | "error" | "close", listener: (event: any) => void): void;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  removeEventListener(type: "open" | "message" | "error" | "close", listener: (event: any) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketTransportOptions {
  /** `ws:`/`wss:` URL, or a function called before every attempt (e.g. to put a fresh token in it). */
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
interface NodeEmitterLike {
  on(event: "unexpected-response", listener: (request: unknown, response: NodeResponse) => void): void;
  terminate?: () => void;
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
  if (options === null || typeof options !== "object") {
    throw new TypeError(`webSocketTransport options must be an object; got ${String(options)}`);
  }
  const { url, protocols, binaryType = "arraybuffer" } = options;
  if (typeof url !== "string" && !(url instanceof URL) && typeof url !== "function") {
    throw new TypeError(`webSocketTransport: url must be a string, URL or function; got ${typeof url}`);
  }
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof Ctor !== "function") {
    throw new TypeError(
      "webSocketTransport: WebSocket must be a WebSocket constructor; none is global here (on Node 20 pass `WebSocket` from the `ws` package)",
    );
  }
  if (binaryType !== "arraybuffer" && binaryType !== "blob") {
    throw new RangeError(
      `webSocketTransport: binaryType must be "arraybuffer" or "blob"; got ${String(binaryType)}`,
    );
  }
  return {
    name: "websocket",
    encode,
    connect(handlers: ConnectionHandlers, context: TransportContext): Connection {
      const target = String(typeof url === "function" ? url() : url);
      const socket = new Ctor(target, protocols);
      socket.binaryType = binaryType;
      let opened = false;
      let done = false;
      let refusal: { status: number; hint?: HintReading } | undefined;
      let lastError: unknown;

      const onOpen = () => {
        opened = true;
        handlers.open();
      };
      const onMessage = (event: { data: unknown }) => handlers.message(event.data);
      const onError = (event: { error?: unknown; message?: string }) => {
        lastError = event.error ?? event.message ?? event;
      };
      const onClose = (event: { code: number; reason: string }) => {
        detach();
        if (done) return;
        done = true;
        handlers.close(describeClose(event, opened, refusal, lastError, context));
      };
      const detach = () => {
        socket.removeEventListener("open", onOpen);
        socket.removeEventListener("message", onMessage);
        socket.removeEventListener("close", onClose);
        socket.removeEventListener("error", onError);
      };
      socket.addEventListener("open", onOpen);
      socket.addEventListener("message", onMessage);
      socket.addEventListener("error", onError);
      socket.addEventListener("close", onClose);

      const node = socket as unknown as Partial<NodeEmitterLike>;
      if (typeof node.on === "function") {
        node.on("unexpected-response", (_request, response) => {
          const status = response.statusCode ?? 0;
          const header = response.headers?.["retry-after"];
          const value = Array.isArray(header) ? header[0] : header;
          const hint = readRetryAfterHint(value, context.now(), status, context.maxHintMs);
          refusal = { status, hint };
          response.resume?.();
          node.terminate?.();
        });
      }

      return {
        send(data: unknown) {
          if (socket.readyState !== OPEN)
            throw new Error(`WebSocket is not open (readyState ${socket.readyState})`);
          socket.send(data as never);
        },
        close() {
          if (done) return;
          done = true;
          // The error and close listeners stay until the socket reports "close": `ws` throws on an error
          // event nobody listens to, and aborting a handshake emits one.
          socket.removeEventListener("open", onOpen);
          socket.removeEventListener("message", onMessage);
          try {
            socket.close(CLOSE_NORMAL);
          } catch {
            // Closing a socket that is already gone has nothing to release.
          }
        },
      };
    },
  };
}

function describeClose(
  event: { code: number; reason: string },
  opened: boolean,
  refusal: { status: number; hint?: HintReading } | undefined,
  error: unknown,
  context: TransportContext,
): CloseInfo {
  if (refusal !== undefined) {
    const { status, hint } = refusal;
    const kind = (status === 401 || status === 403) && hint?.hint === undefined ? "refused" : "error";
    const info: CloseInfo = { kind, code: status, reason: `handshake refused with HTTP ${status}`, error };
    return hint === undefined ? info : { ...info, hint };
  }
  const code = event.code;
  const reason = typeof event.reason === "string" ? event.reason : "";
  const hint = readCloseHint(code, reason, context.maxHintMs);
  const hinted = hint.hint !== undefined || hint.problem !== undefined;
  const kind = code === CLOSE_NORMAL ? "deliberate" : opened ? "closed" : "error";
  const info: CloseInfo = { kind, code, reason };
  // An error on an open connection is a protocol violation by the server (malformed frame, invalid UTF-8,
  // an oversized control frame): reported, not swallowed as an ordinary drop.
  const withError = error === undefined || kind === "deliberate" ? info : { ...info, error };
  return hinted ? { ...withError, hint } : withError;
}
