/**
 * A Node client on the WebSocket transport against a local `ws` server that restarts once.
 *
 *   npm run example:websocket
 *
 * The server answers every message with an echo; after the first echo it says it is restarting (close
 * 1012 with a hint: come back in 300–500 ms), goes away, and comes back on the same port. The client obeys
 * the hint, reconnects, and flushes what was sent while it was down. Stops by itself.
 */
import type { AddressInfo } from "node:net";
import { ResilientSocket } from "resilient-reconnect";
import { webSocketTransport } from "resilient-reconnect/websocket";
import { WebSocket, WebSocketServer } from "ws";

function startServer(port = 0): Promise<WebSocketServer> {
  return new Promise((resolve) => {
    const server: WebSocketServer = new WebSocketServer(
      // maxPayload: ws's default is 100 MiB per message; refuse big frames before they are buffered.
      { host: "127.0.0.1", port, maxPayload: 64 * 1_024 },
      () => resolve(server),
    );
    server.on("connection", (ws) => ws.on("message", (data) => ws.send(`echo: ${String(data)}`)));
  });
}

let server = await startServer();
const { port } = server.address() as AddressInfo;

const socket = new ResilientSocket({
  transport: webSocketTransport({ url: `ws://127.0.0.1:${port}`, WebSocket }),
});
const started = Date.now();
const log = (...args: unknown[]) => console.log(`[${String(Date.now() - started).padStart(4)} ms]`, ...args);

socket.on("state", (state, previous) => log(`state ${previous} -> ${state}`));
socket.on("error", (error) => log(`error ${error.code}: ${error.message}`));
socket.on("retry", ({ attempt, delayMs, cause, hint }) =>
  log(
    `retry #${attempt} in ${Math.round(delayMs)} ms (cause: ${cause}${hint ? `, server asked ${hint.delayMs} ms` : ""})`,
  ),
);

let echoes = 0;
socket.on("message", async (data) => {
  log(`message: ${String(data)}`);
  echoes++;
  if (echoes === 1) {
    // The server restarts: every client is told to come back in 300 ms, spread over the next 200 ms.
    for (const client of server.clients)
      client.close(1012, JSON.stringify({ retryAfterMs: 300, spreadMs: 200 }));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    log("server down; sending while disconnected:", socket.send("queued while down"));
    server = await startServer(port);
    log("server back up");
  }
  if (echoes === 2) {
    await socket.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    log(
      "done:",
      JSON.stringify({ attempts: socket.stats().attempts, connections: socket.stats().connections }),
    );
  }
});
socket.on("open", () => log("open; sending:", socket.send("hello")));
