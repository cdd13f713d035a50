/** `resilient-reconnect/socket.io` — the Socket.IO transport (socket.io-client is an optional peer dependency). */
export {
  type SocketIoClientOptions,
  type SocketIoTransportOptions,
  socketIoTransport,
} from "./transports/socket-io.js";
