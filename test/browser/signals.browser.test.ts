/**
 * Network and page signals in real Chromium against a real `ws` server: offline makes no attempts, online
 * makes one after a small random delay, a hidden tab can pause, and pagehide/pageshow let go of the
 * connection and take it back.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ResilientSocket } from "../../src/index.js";
import { webSocketTransport } from "../../src/websocket.js";
import { control, observe, ports, serverLog, waitFor } from "./page-helpers.js";

const log = () => serverLog("ws");
const sockets: ResilientSocket[] = [];

/**
 * The network as the page sees it: `navigator.onLine` and the `offline`/`online` events. Dispatched, not
 * emulated: the driver's offline emulation also cuts the test runner's own channel to the page.
 */
function setOnline(online: boolean) {
  Object.defineProperty(navigator, "onLine", { value: online, configurable: true });
  window.dispatchEvent(new Event(online ? "online" : "offline"));
}

afterEach(async () => {
  if (!navigator.onLine) setOnline(true);
  for (const socket of sockets.splice(0)) await socket.close();
});
function open(signals: NonNullable<ConstructorParameters<typeof ResilientSocket>[0]["signals"]> = {}) {
  const socket = new ResilientSocket({
    transport: webSocketTransport({ url: `ws://127.0.0.1:${ports.ws}` }),
    signals: { resumeJitterMs: 300, ...signals },
  });
  sockets.push(socket);
  return socket;
}

describe("signals in Chromium", () => {
  it("makes no attempt while the browser is offline and one soon after it is online again", async () => {
    const socket = open();
    await waitFor("open", () => socket.state === "open");
    setOnline(false);
    await control("/ws/reset");
    await control("/ws/restart?downMs=0");
    await waitFor("paused", () => socket.state === "paused");
    await observe(1_500);
    expect((await log()).attempts).toHaveLength(0);
    setOnline(true);
    await waitFor("open again", () => socket.state === "open");
    expect((await log()).attempts).toHaveLength(1);
  });

  it('pauses a hidden tab under whenHidden: "pause" and resumes when it is visible', async () => {
    const socket = open({ whenHidden: "pause" });
    await waitFor("open", () => socket.state === "open");
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
    await control("/ws/reset");
    await control("/ws/restart?downMs=0");
    await waitFor("paused", () => socket.state === "paused");
    await observe(1_000);
    expect((await log()).attempts).toHaveLength(0);
    Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
    await waitFor("open again", () => socket.state === "open");
    expect((await log()).attempts).toHaveLength(1);
  });

  it("closes on pagehide (so the page can enter the back/forward cache) and reconnects on pageshow", async () => {
    const socket = open();
    await waitFor("open", () => socket.state === "open");
    await waitFor("the server's count", async () => (await log()).open === 1);
    window.dispatchEvent(new PageTransitionEvent("pagehide", { persisted: true }));
    expect(socket.state).toBe("paused");
    await waitFor("the server to see the close", async () => (await log()).open === 0);
    window.dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }));
    await waitFor("open again", () => socket.state === "open");
  });
});
