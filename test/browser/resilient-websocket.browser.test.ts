/**
 * ResilientWebSocket in real Chromium on the browser's own WebSocket (no constructor passed), against the
 * `ws` echo server of the global setup: the platform's event objects (a native CloseEvent), a server restart
 * seen as close then open again with what was queued meanwhile, and close() as final.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ResilientWebSocket } from "../../src/websocket.js";
import { control, observe, ports, serverLog, waitFor } from "./page-helpers.js";

const sockets: ResilientWebSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

function open(): { socket: ResilientWebSocket; seen: string[] } {
  const socket = new ResilientWebSocket(`ws://127.0.0.1:${ports.ws}`);
  sockets.push(socket);
  const seen: string[] = [];
  socket.onopen = () => seen.push("open");
  socket.onmessage = (event) => seen.push(String(event.data));
  socket.onclose = (event) => seen.push(`close${event instanceof CloseEvent ? "" : " (not a CloseEvent)"}`);
  return { socket, seen };
}

describe("ResilientWebSocket in Chromium", () => {
  it("uses the browser's WebSocket and delivers MessageEvents", async () => {
    const { socket, seen } = open();
    await waitFor("open", () => socket.readyState === WebSocket.OPEN);
    socket.send("hello");
    await waitFor("the echo", () => seen.includes("echo: hello"));
    expect(socket.binaryType).toBe("blob");
  });

  it("sees a server restart as close then open, and sends what was queued meanwhile, in order", async () => {
    const { socket, seen } = open();
    await waitFor("open", () => socket.readyState === socket.OPEN);
    await control("/ws/reset");
    const restarting = control("/ws/restart?downMs=300");
    await waitFor("the drop", () => seen.includes("close"));
    for (const text of ["one", "two"]) expect(socket.send(text)).toBe("queued");
    await restarting;
    await waitFor("the echoes", () => seen.includes("echo: two"));
    // Each attempt that fails while the server is down adds a close of its own (a slow machine may make one).
    const collapsed = seen.filter((entry, i) => !(entry === "close" && seen[i - 1] === "close"));
    expect(collapsed).toEqual(["open", "close", "open", "echo: one", "echo: two"]);
    expect((await serverLog("ws")).received).toEqual(["one", "two"]);
  });

  it("closes for good: one close event before close() returns, no attempt after", async () => {
    const { socket, seen } = open();
    await waitFor("open", () => socket.readyState === socket.OPEN);
    await control("/ws/reset");
    socket.close(1000, "bye");
    expect(seen).toEqual(["open", "close"]);
    expect(socket.readyState).toBe(WebSocket.CLOSED);
    await observe(500);
    expect((await serverLog("ws")).attempts).toHaveLength(0);
  });
});
