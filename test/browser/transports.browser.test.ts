/**
 * Both transports from a real page in Chromium against real servers (started in Node by the global setup):
 * connect and exchange, reconnect after a server restart with queued messages flushed in order, and a
 * server hint obeyed — no attempt before the moment the server gave.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ResilientSocket } from "../../src/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { webSocketTransport } from "../../src/websocket.js";
import { control, ports, serverLog, waitFor } from "./page-helpers.js";

const sockets: ResilientSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) await socket.close();
});

function track(socket: ResilientSocket) {
  sockets.push(socket);
  const received: unknown[] = [];
  socket.on("message", (data) => received.push(data));
  return received;
}

const transports = [
  {
    name: "ws",
    create: () => webSocketTransport({ url: `ws://127.0.0.1:${ports.ws}` }),
  },
  {
    name: "socket.io",
    create: () =>
      socketIoTransport({
        url: `http://127.0.0.1:${ports.socketIo}`,
        options: { transports: ["websocket"] },
      }),
  },
] as const;

describe.each(transports)("in Chromium over $name", ({ name, create }) => {
  it("connects to a real server and exchanges a message", async () => {
    expect(typeof window).toBe("object");
    const socket = new ResilientSocket({ transport: create() });
    const received = track(socket);
    await waitFor("open", () => socket.state === "open");
    socket.send("hello");
    await waitFor("the echo", () => received.includes("echo: hello"));
  });

  it("reconnects after the server restarts and flushes what was queued while it was down, in order", async () => {
    const socket = new ResilientSocket({ transport: create() });
    const received = track(socket);
    await waitFor("open", () => socket.state === "open");
    await control(`/${name}/reset`);
    const restarting = control(`/${name}/restart?downMs=300`);
    await waitFor("the drop", () => socket.state !== "open");
    for (const text of ["one", "two", "three"]) socket.send(text);
    await restarting;
    await waitFor("the echoes", () => received.filter((m) => String(m).startsWith("echo: ")).length === 3);
    expect(received).toEqual(["echo: one", "echo: two", "echo: three"]);
    expect((await serverLog(name)).received).toEqual(["one", "two", "three"]);
  });

  it("obeys the server's hint: no attempt before the moment it gave", async () => {
    await control(`/${name}/reset`);
    // Over Socket.IO the hint comes with a refused handshake; over ws with a close 1013 of an open socket.
    // 1,600 ms: past the default backoff's first draw (at most 1.5 s), so the hint is what sets the wait.
    if (name === "socket.io") await control("/socket.io/refuse-next?retryAfterMs=1600&spreadMs=200");
    const socket = new ResilientSocket({ transport: create() });
    track(socket);
    const hinted = new Promise<{ cause: string; delayMs: number }>((resolve) => socket.on("retry", resolve));
    if (name === "ws") {
      await waitFor("open", () => socket.state === "open");
      await control("/ws/hint?retryAfterMs=1600&spreadMs=200");
    }
    const retry = await hinted;
    expect(retry.cause).toBe("hint");
    expect(retry.delayMs).toBeGreaterThanOrEqual(1_600);
    await waitFor("open again", () => socket.state === "open");
    const log = await serverLog(name);
    const closedAt = log.closedAt ?? Number.NaN;
    const next = log.attempts.find((at) => at > closedAt) ?? Number.NaN;
    // Server-side moments only: the refusal or close, then the next attempt it saw.
    expect(next - closedAt).toBeGreaterThanOrEqual(1_600 - 5);
  });
});
