/**
 * A Node client on the Socket.IO transport against a local Socket.IO server with admission control by hint.
 *
 *   npm run example:socket.io
 *
 * The server's middleware refuses the first handshake with hint data ("come back in 400–600 ms"), the way
 * an overloaded server would; the client obeys, gets in, exchanges a message, then the server drains it
 * (drain notice + disconnect) and the client comes back after the drain window. Stops by itself.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DRAIN_EVENT, ResilientSocket } from "resilient-reconnect";
import { socketIoTransport } from "resilient-reconnect/socket.io";
import { Server } from "socket.io";

const http = createServer();
// maxHttpBufferSize: refuse messages over 64 KiB before they are buffered (Socket.IO's default is 1 MB).
const io = new Server(http, { maxHttpBufferSize: 64 * 1_024 });
let handshakes = 0;
io.use((_socket, next) => {
  handshakes++;
  if (handshakes > 1) return next();
  const refusal = new Error("overloaded") as Error & { data?: unknown };
  refusal.data = { retryAfterMs: 400, spreadMs: 200 };
  next(refusal);
});
let connections = 0;
io.on("connection", (socket) => {
  connections++;
  socket.on("message", (data) => socket.send(`echo: ${String(data)}`));
  if (connections === 1) {
    setTimeout(() => {
      socket.emit(DRAIN_EVENT, { retryAfterMs: 200, spreadMs: 200 });
      socket.disconnect(true);
    }, 100);
  }
});
await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
const { port } = http.address() as AddressInfo;

const client = new ResilientSocket({
  transport: socketIoTransport({ url: `http://127.0.0.1:${port}`, options: { transports: ["websocket"] } }),
});
const started = Date.now();
const log = (...args: unknown[]) => console.log(`[${String(Date.now() - started).padStart(4)} ms]`, ...args);
client.on("state", (state, previous) => log(`state ${previous} -> ${state}`));
client.on("error", (error) => log(`error ${error.code}: ${error.message}`));
client.on("retry", ({ attempt, delayMs, cause, hint }) =>
  log(
    `retry #${attempt} in ${Math.round(delayMs)} ms (cause: ${cause}${hint ? `, ${hint.source} hint ${hint.delayMs} ms` : ""})`,
  ),
);
client.on("open", () => log("open; sending:", client.send("hello")));
client.on("message", async (data) => {
  log(`message: ${String(data)}`);
  if (connections === 2) {
    await client.close();
    io.close();
    log("done:", JSON.stringify({ handshakes, connections, attempts: client.stats().attempts }));
  }
});
