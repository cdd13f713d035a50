/**
 * `resilient-reconnect/socket.io` — `io()`, socket.io-client's own Socket governed by our policy, and the
 * Socket.IO transport of `ResilientSocket` (socket.io-client is an optional peer dependency).
 */
export { type IoOptions, io, type ResilienceOptions, type ResilientIoSocket } from "./socket-io/io.js";
export type { ResilienceEvents, SocketResilience } from "./socket-io/resilience.js";
export { EmitDiscardedError, type EmitDropped } from "./socket-io/send-buffer.js";
export {
  type SocketIoClientOptions,
  type SocketIoTransportOptions,
  socketIoTransport,
} from "./transports/socket-io.js";
