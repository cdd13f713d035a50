/**
 * Socket.IO transport (the message pipe of `ResilientSocket`, `SharedSocket` and `Presence`): one
 * socket.io-client Socket for the transport's life (per URL), its own reconnection OFF, each attempt run
 * by the same code as the governed `io()` (`../socket-io/attempt.ts`). Keeping the Socket keeps
 * connection-state recovery: a dropped transport comes back with `recovered === true` when the server
 * enables it. Hints come from middleware refusals (`next(err)` with `err.data` → `connect_error`) and from
 * the drain notice ({@link DRAIN_EVENT}). Liveness is Socket.IO's own ping/pong.
 */
import { io as defaultIo, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { badOption, objectOption, rejectUnknown } from "../options-check.js";
import { DRAIN_EVENT } from "../policy/hints.js";
import { BUDGET_EVENT } from "../protocol/budget.js";
import { openAttempt } from "../socket-io/attempt.js";
import type { Connection, ConnectionHandlers, Transport } from "./types.js";
import { checkSocketIoUrl } from "./url.js";

/** socket.io-client's own options (Manager and Socket), as `io(url, options)` takes them. */
export type SocketIoClientOptions = Partial<ManagerOptions & SocketOptions>;

/** Options of {@link socketIoTransport}. */
export interface SocketIoTransportOptions {
  /** Server URL (with namespace path if any), or a function called before every attempt (a new URL gets
   * a new Socket; the same URL keeps the Socket and its recovery state). A string is checked at creation
   * (TypeError): absolute `http(s):`/`ws(s):`, a scheme-less `host:port/path`, or in a page a path; a
   * function's result at each attempt (a failed attempt whose error says why). */
  url: string | (() => string);
  /** socket.io-client options. `reconnection`, `autoConnect`, `forceNew` and `timeout` are overridden
   * (our policy reconnects and times each attempt, see above). */
  options?: SocketIoClientOptions;
  /** The `io` function to use. Default: `io` from the `socket.io-client` peer dependency. */
  io?: (url: string, options?: SocketIoClientOptions) => Socket;
  /** The event `send()` emits and `message` listens to. Default `"message"` (`socket.send` / `"message"`). */
  event?: string;
}

/** Creates a Socket.IO transport. */
export function socketIoTransport(options: SocketIoTransportOptions): Transport {
  const where = "socketIoTransport";
  rejectUnknown(where, objectOption(where, "options", options), ["url", "options", "io", "event"]);
  const { url, event = "message" } = options;
  const io = options.io ?? defaultIo;
  if (typeof url !== "string" && typeof url !== "function")
    badOption(where, "url", "a string or function", url);
  if (typeof url === "string") checkSocketIoUrl(where, url);
  if (typeof io !== "function") badOption(where, "io", "a function", io);
  if (typeof event !== "string" || event.length === 0 || event === DRAIN_EVENT || event === BUDGET_EVENT)
    badOption(where, "event", "a non-empty event name (not a reserved one)", event, true);
  let socket: Socket | undefined;
  let socketUrl: string | undefined;
  /** The latest attempt's handlers: the Socket's `event`s are its messages (an ended attempt's Socket is
   * disconnected, so none reach an older one). */
  let current: ConnectionHandlers | undefined;
  const relay = (data: unknown) => current?.message(data);
  return {
    name: "socket.io",
    connect(handlers: ConnectionHandlers): Connection {
      const target = typeof url === "function" ? url() : url;
      if (typeof url === "function") {
        if (typeof target !== "string")
          throw new TypeError(`${where}: url() must return a string; got ${typeof target}`);
        checkSocketIoUrl(where, target, "url()'s result");
      }
      if (socket === undefined || target !== socketUrl) {
        // One relay per Socket, also when a custom `io` hands the same Socket back for a new URL.
        socket?.off(event, relay).disconnect();
        // Our own timer bounds the attempt (connectTimeoutMs): the Manager's would be a second one.
        socket = io(target, {
          ...options.options,
          reconnection: false,
          autoConnect: false,
          forceNew: true,
          timeout: false as unknown as number,
        });
        socketUrl = target;
        socket.on(event, relay);
      }
      current = handlers;
      const live = socket;
      const connection = openAttempt(live, handlers) as Connection;
      connection.send = (data: unknown) => {
        if (!live.connected) throw new Error("Socket.IO socket is not connected");
        live.emit(event, data);
      };
      return connection;
    },
  };
}
