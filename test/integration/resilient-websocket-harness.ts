/**
 * Shared pieces of the ResilientWebSocket tests: a client on the `ws` package with small delays and counted
 * timers, closed after each test, and waits for its DOM events that fail loudly.
 */
import { WebSocket } from "ws";
import {
  ResilientWebSocket,
  type ResilientWebSocketOptions,
  type ResilientWebSocket as RWS,
  type WebSocketConstructor,
} from "../../src/websocket.js";
import { CountingClock, FAST } from "./ws-harness.js";

export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

const open: RWS[] = [];

/** A ResilientWebSocket on `ws` with the harness's fast delays; `clock` counts its timers. */
export function connect(
  url: string | (() => string),
  options: ResilientWebSocketOptions = {},
  protocols?: string | string[],
): { socket: RWS; clock: CountingClock } {
  const clock = new CountingClock();
  const socket = new ResilientWebSocket(url, protocols, {
    ...FAST,
    WebSocket: NodeWebSocket,
    clock,
    ...options,
  });
  open.push(socket);
  return { socket, clock };
}

/** Closes every socket {@link connect} made (call it in `afterEach`). */
export function closeSockets(): void {
  for (const socket of open.splice(0)) socket.close();
}

/** The next `type` event of `socket`, or a loud rejection after `timeoutMs`. */
export function next<E extends Event = Event>(
  socket: EventTarget,
  type: string,
  timeoutMs = 3_000,
): Promise<E> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.removeEventListener(type, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a "${type}" event`));
    }, timeoutMs);
    const listener = (event: Event) => {
      clearTimeout(timer);
      resolve(event as E);
    };
    socket.addEventListener(type, listener, { once: true });
  });
}

/** Records the type (and close code) of every open, message, error and close event, in order. */
export function record(socket: EventTarget): string[] {
  const seen: string[] = [];
  for (const type of ["open", "message", "error", "close"]) {
    socket.addEventListener(type, (event) => {
      const detail =
        type === "close"
          ? `:${(event as CloseEvent).code}`
          : type === "message"
            ? `:${String((event as MessageEvent).data)}`
            : "";
      seen.push(`${type}${detail}`);
    });
  }
  return seen;
}
