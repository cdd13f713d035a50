/**
 * `resilient-reconnect/websocket` — the WebSocket transport (browser WebSocket, or `ws` on Node), and
 * `ResilientWebSocket`, a WHATWG-compatible WebSocket on the same policy.
 */
export {
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketTransportOptions,
  webSocketTransport,
} from "./transports/websocket.js";
export { type CloseEventFields, CloseEventShim, SocketErrorEvent } from "./websocket/dom-events.js";
export { type EventHandler, WebSocketFace } from "./websocket/face.js";
export {
  GovernedWebSocket,
  type GovernedWebSocketClass,
  type GovernedWebSocketOptions,
  governedWebSocket,
} from "./websocket/governed.js";
export {
  ResilientWebSocket,
  type ResilientWebSocketOptions,
  type RetryInfo,
} from "./websocket/resilient-websocket.js";
