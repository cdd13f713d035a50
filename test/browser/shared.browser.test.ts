/**
 * One connection per browser, in real Chromium: five same-origin pages (iframes, each its own document with
 * its own Web Lock requests and BroadcastChannel) share one connection to a real `ws` server; messages
 * flow both ways through the leader; when the leader's page goes away mid-session (removed, so its lock is
 * released by the browser — no close() called), another page takes over and the server again sees one, and
 * no remaining page ever reports the shared connection `closed`.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SharedSocket } from "../../src/index.js";
import { control, openFrame, ports, serverLog, waitFor } from "./page-helpers.js";

interface Tab {
  shared: SharedSocket;
  received: unknown[];
  states: string[];
}
const log = () => serverLog("ws");

const frames: HTMLIFrameElement[] = [];
afterEach(async () => {
  for (const frame of frames.splice(0)) {
    await (frame.contentWindow as unknown as { tab?: Tab } | null)?.tab?.shared.close();
    frame.remove();
  }
});

const openTab = (name: string) =>
  openFrame<Tab>(`/test/browser/fixtures/tab.html?port=${ports.ws}&name=${name}`, frames);

describe("one connection per browser", () => {
  it("gives five pages one server connection, and another page takes over when the leader's page goes away", async () => {
    await control("/ws/reset");
    const before = (await log()).open;
    const name = `app-${Math.random().toString(36).slice(2)}`;
    const tabs: { frame: HTMLIFrameElement; tab: Tab }[] = [];
    for (let i = 0; i < 5; i++) tabs.push(await openTab(name));
    await waitFor("every page to see the shared connection open", () =>
      tabs.every(({ tab }) => tab.shared.state === "open"),
    );
    await waitFor("the server's count", async () => (await log()).open === before + 1);
    expect(tabs.filter(({ tab }) => tab.shared.role === "leader")).toHaveLength(1);

    // A follower's message reaches the server through the leader, and the echo reaches every page.
    const follower = tabs.find(({ tab }) => tab.shared.role === "follower");
    expect(follower?.tab.shared.send("from a follower")).toBe("forwarded");
    await waitFor("the echo in every page", () =>
      tabs.every(({ tab }) => tab.received.includes("echo: from a follower")),
    );

    // The leader's page goes away without closing anything: the browser releases its lock.
    const leader = tabs.find(({ tab }) => tab.shared.role === "leader");
    leader?.frame.remove();
    const rest = tabs.filter((t) => t !== leader);
    await waitFor("a new leader", () => rest.some(({ tab }) => tab.shared.role === "leader"), 10_000);
    await waitFor("the new leader's connection", async () => (await log()).attempts.length >= 2);
    await waitFor("one connection again", async () => (await log()).open === before + 1, 10_000);
    expect(rest.filter(({ tab }) => tab.shared.role === "leader")).toHaveLength(1);
    await waitFor("every remaining page open", () => rest.every(({ tab }) => tab.shared.state === "open"));
    expect((await log()).attempts).toHaveLength(2);
    // The old leader's socket closing is not the shared connection closing.
    expect(rest.filter(({ tab }) => tab.states.includes("closed"))).toEqual([]);
  });
});
