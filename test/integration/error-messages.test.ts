/**
 * Errors that say what happened, against real parts: a port on 127.0.0.1 that was just bound and closed (so
 * nothing listens there) refuses every connection, and the error's message names the system error and the
 * address instead of only "connection failed".
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ResilientSocket, type TransportError } from "../../src/index.js";
import { io, type ResilientIoSocket, socketIoTransport } from "../../src/socket-io.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

/** A port that was bound on 127.0.0.1 and closed again: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

const sockets: { close(): void }[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

/** The first error a socket reports, then the socket is closed. */
function firstError(socket: ResilientSocket): Promise<TransportError> {
  sockets.push(socket);
  return new Promise((resolve) => {
    socket.on("error", (error) => {
      socket.close();
      resolve(error as TransportError);
    });
    socket.connect();
  });
}

const policy = { circuitBreaker: false, connectTimeoutMs: 5_000 } as const;

describe("a refused connection's error names the system error and the address", () => {
  it("says ECONNREFUSED and 127.0.0.1:port over ws", async () => {
    const port = await closedPort();
    const socket = new ResilientSocket({
      ...policy,
      transport: webSocketTransport({
        url: `ws://127.0.0.1:${port}`,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
      }),
    });
    const error = await firstError(socket);
    expect(error.code).toBe("TRANSPORT_ERROR");
    expect(error.message).toBe(`connection failed: ECONNREFUSED 127.0.0.1:${port}`);
    expect((error.cause as { code?: string }).code).toBe("ECONNREFUSED");
  });

  it("says ECONNREFUSED and 127.0.0.1:port over Socket.IO's WebSocket transport, with engine.io's words", async () => {
    const port = await closedPort();
    const socket = new ResilientSocket({
      ...policy,
      transport: socketIoTransport({
        url: `http://127.0.0.1:${port}`,
        options: { transports: ["websocket"] },
      }),
    });
    const error = await firstError(socket);
    expect(error.message).toBe(`connection failed: ECONNREFUSED 127.0.0.1:${port} (websocket error)`);
  });

  it("says ECONNREFUSED and 127.0.0.1:port over Socket.IO's polling transport", async () => {
    const port = await closedPort();
    const socket = new ResilientSocket({
      ...policy,
      transport: socketIoTransport({ url: `http://127.0.0.1:${port}` }),
    });
    const error = await firstError(socket);
    expect(error.message).toBe(`connection failed: ECONNREFUSED 127.0.0.1:${port} (xhr poll error)`);
  });

  it("says the same on a governed io() socket's resilience error event", async () => {
    const port = await closedPort();
    const socket: ResilientIoSocket = io(`http://127.0.0.1:${port}`, {
      ...policy,
      transports: ["websocket"],
      forceNew: true,
    });
    sockets.push(socket.resilience);
    const error = await new Promise<Error>((resolve) => socket.resilience.on("error", resolve));
    socket.resilience.close();
    expect(error.message).toBe(`connection failed: ECONNREFUSED 127.0.0.1:${port} (websocket error)`);
  });
});
