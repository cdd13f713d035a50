/** `resilient-reconnect/websocket` — the WebSocket transport (browser WebSocket, or `ws` on Node). */
export {
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketTransportOptions,
  webSocketTransport,
} from "./transports/websocket.js";
