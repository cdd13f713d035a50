/**
 * Socket.IO transport: one fresh socket.io-client Manager per attempt with its own reconnection turned OFF,
 * so exactly one policy (ours) decides when to reconnect. Hints come from middleware refusals
 * (`next(err)` with `err.data` → `connect_error`) and from the drain notice ({@link DRAIN_EVENT}) a server
 * emits before disconnecting. Liveness is Socket.IO's own ping/pong (a dead link ends as "ping timeout").
 */
import { io as defaultIo, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { DRAIN_EVENT, type HintReading, NO_CEILING, readHintPayload } from "../policy/hints.js";
import { BUDGET_EVENT } from "../protocol/budget.js";
import type { CloseInfo, Connection, ConnectionHandlers, Transport, TransportContext } from "./types.js";

export type SocketIoClientOptions = Partial<ManagerOptions & SocketOptions>;

export interface SocketIoTransportOptions {
  /** Server URL (with namespace path if any), or a function called before every attempt. */
  url: string | (() => string);
  /** socket.io-client options. `reconnection`, `autoConnect` and `forceNew` are overridden (see above). */
  options?: SocketIoClientOptions;
  /** The `io` function to use. Default: `io` from the `socket.io-client` peer dependency. */
  io?: (url: string, options?: SocketIoClientOptions) => Socket;
  /** The event `send()` emits and `message` listens to. Default `"message"` (`socket.send` / `"message"`). */
  event?: string;
}

/** Longest part of a refusal's message kept as the close reason. */
const MAX_REASON = 256;

/** Creates a Socket.IO transport. */
export function socketIoTransport(options: SocketIoTransportOptions): Transport {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`socketIoTransport options must be an object; got ${String(options)}`);
  }
  const { url, event = "message" } = options;
  const io = options.io ?? defaultIo;
  if (typeof url !== "string" && typeof url !== "function") {
    throw new TypeError(`socketIoTransport: url must be a string or function; got ${typeof url}`);
  }
  if (typeof io !== "function")
    throw new TypeError(`socketIoTransport: io must be a function; got ${typeof io}`);
  if (typeof event !== "string" || event.length === 0 || event === DRAIN_EVENT || event === BUDGET_EVENT) {
    throw new RangeError(`socketIoTransport: event must be a non-empty event name; got ${String(event)}`);
  }
  return {
    name: "socket.io",
    connect(handlers: ConnectionHandlers, _context: TransportContext): Connection {
      const socket = io(typeof url === "function" ? url() : url, {
        ...options.options,
        reconnection: false,
        autoConnect: false,
        forceNew: true,
      });
      let done = false;
      let drain: HintReading | undefined;
      /** Detaches every listener and disconnects; true the first time only. */
      const release = () => {
        if (done) return false;
        done = true;
        socket.off();
        socket.io.off();
        socket.disconnect();
        return true;
      };
      const finish = (info: CloseInfo) => {
        if (release()) handlers.close(info);
      };
      socket.on("connect", () => handlers.open());
      socket.on(event, (data: unknown) => handlers.message(data));
      socket.on(BUDGET_EVENT, (payload: unknown) => handlers.budget?.(payload));
      socket.on(DRAIN_EVENT, (payload: unknown) => {
        drain = readHintPayload(payload, "drain", NO_CEILING);
      });
      socket.on("connect_error", (error: Error & { data?: unknown }) => {
        const hint = readHintPayload(error?.data, "connect-error", NO_CEILING);
        // socket.io-client marks a socket inactive when the server's middleware refused it (a CONNECT_ERROR
        // packet); transport failures leave it active.
        const refused = !socket.active;
        // A hostile server may send a megabyte of message; the reason (quoted in errors) keeps a bounded part.
        const reason = String(error?.message ?? "").slice(0, MAX_REASON);
        const info: CloseInfo = { kind: refused ? "refused" : "error", reason, error };
        finish(hint.hint !== undefined || hint.problem !== undefined ? { ...info, hint } : info);
      });
      socket.on("disconnect", (reason: string, description?: unknown) => {
        const kind = reason === "io server disconnect" ? "deliberate" : "closed";
        // A packet the client could not decode (socket.io "parse error", engine.io "transport error"): a
        // protocol violation by the server, reported rather than passed off as an ordinary drop.
        const broken = reason === "parse error" || reason === "transport error";
        const plain: CloseInfo = broken ? { kind, reason, error: description ?? reason } : { kind, reason };
        // Over WebSocket, engine.io passes the close event along: its code tells e.g. 1009 (a packet over the
        // server's maxHttpBufferSize) from a plain "transport close".
        const code = (description as { context?: { code?: unknown } } | undefined)?.context?.code;
        const info = Number.isInteger(code) ? { ...plain, code: code as number } : plain;
        finish(drain === undefined ? info : { ...info, hint: drain });
      });
      socket.connect();
      return {
        send(data: unknown) {
          if (!socket.connected) throw new Error("Socket.IO socket is not connected");
          socket.emit(event, data);
        },
        close() {
          release();
        },
      };
    },
  };
}
