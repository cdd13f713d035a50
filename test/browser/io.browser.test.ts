/**
 * The governed io() from a real page in Chromium against the real Socket.IO server of the global setup:
 * socket.io's API as an app uses it, a restart lived through with the emits made meanwhile flushed in
 * order, a refusal's hint obeyed, and the page's offline signal pausing the policy.
 */
import { afterEach, describe, expect, it } from "vitest";
import { io, type ResilientIoSocket } from "../../src/socket-io.js";
import { control, ports, serverLog, waitFor } from "./page-helpers.js";

const sockets: ResilientIoSocket[] = [];
function setOnline(online: boolean) {
  Object.defineProperty(navigator, "onLine", { value: online, configurable: true });
  window.dispatchEvent(new Event(online ? "online" : "offline"));
}
afterEach(async () => {
  if (!navigator.onLine) setOnline(true);
  for (const socket of sockets.splice(0)) await socket.resilience.close();
});

function open(): { socket: ResilientIoSocket; received: unknown[] } {
  const socket = io(`http://127.0.0.1:${ports.socketIo}`, {
    transports: ["websocket"],
    forceNew: true,
    signals: { resumeJitterMs: 100 },
  });
  sockets.push(socket);
  const received: unknown[] = [];
  socket.on("message", (data: unknown) => received.push(data));
  return { socket, received };
}

describe("io() in Chromium", () => {
  it("connects and exchanges named events", async () => {
    const { socket, received } = open();
    await waitFor("connected", () => socket.connected);
    socket.send("hello");
    await waitFor("the echo", () => received.includes("echo: hello"));
    expect(socket.resilience.state).toBe("open");
  });

  it("lives through a restart, flushing the emits made while it was down in order", async () => {
    const { socket, received } = open();
    await waitFor("connected", () => socket.connected);
    await control("/socket.io/reset");
    const restarting = control("/socket.io/restart?downMs=300");
    await waitFor("the drop", () => !socket.connected);
    for (const text of ["one", "two", "three"]) socket.send(text);
    expect(socket.resilience.stats().queue.messages).toBe(3);
    await restarting;
    await waitFor("the echoes", () => received.filter((m) => String(m).startsWith("echo: ")).length === 3);
    expect(received).toEqual(["echo: one", "echo: two", "echo: three"]);
    expect((await serverLog("socket.io")).received).toEqual(["one", "two", "three"]);
  });

  it("obeys a refusal's hint: retry cause hint, no sooner than it said", async () => {
    await control("/socket.io/reset");
    // Above the first backoff's whole range (waveJitter draws at most 1.5 s), so the hint decides the wait.
    await control("/socket.io/refuse-next?retryAfterMs=1600&spreadMs=200");
    const { socket } = open();
    const closes: string[] = [];
    socket.on("connect_error", (e) => closes.push(`connect_error: ${e.message}`));
    socket.on("disconnect", (reason) => closes.push(`disconnect: ${reason}`));
    const retry = await new Promise<{ cause: string; delayMs: number }>((resolve) =>
      socket.resilience.on("retry", resolve),
    );
    expect([retry.cause, closes]).toEqual(["hint", ["connect_error: overloaded"]]);
    expect(retry.delayMs).toBeGreaterThanOrEqual(1600);
    await waitFor("connected", () => socket.connected);
  });

  it("pauses while the page is offline and connects soon after it is online again", async () => {
    setOnline(false);
    const { socket } = open();
    await waitFor("paused", () => socket.resilience.state === "paused");
    expect(socket.resilience.stats().attempts).toBe(0);
    setOnline(true);
    await waitFor("connected", () => socket.connected);
  });
});
