/**
 * The tab channel under a same-origin attacker, in real Chromium with the real Web Locks API: a hostile page
 * (an iframe: its own context) that holds a lock named like a leader term and posts a `state` for it cannot
 * make the other pages follow that term — `navigator.locks.query()` shows the term lock held by another
 * context than the app lock's holder — and its forged `message` and `ack` are ignored: the pages keep the real
 * leader, and a follower's message still reaches the real server. A page that steals the app's lock (which any
 * script of the origin may) makes the leader step down and close its connection: never two at the server.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SharedSocket } from "../../src/index.js";
import { control, observe, openFrame, ports, serverLog, waitFor } from "./page-helpers.js";

interface Tab {
  shared: SharedSocket;
  received: unknown[];
  states: string[];
}
interface Hostile {
  hold(name: string, steal?: boolean): Promise<() => void>;
  post(channel: string, message: unknown): void;
}

const frames: HTMLIFrameElement[] = [];
afterEach(async () => {
  for (const frame of frames.splice(0)) {
    await (frame.contentWindow as unknown as { tab?: Partial<Tab> } | null)?.tab?.shared?.close();
    frame.remove();
  }
});

/** Opens `count` pages of the app `name`, one after the other. */
async function openTabs(count: number, name: string): Promise<Tab[]> {
  const tabs: Tab[] = [];
  for (let i = 0; i < count; i++)
    tabs.push(
      (await openFrame<Tab>(`/test/browser/fixtures/tab.html?port=${ports.ws}&name=${name}`, frames)).tab,
    );
  return tabs;
}

describe("the tab channel under a same-origin attacker", () => {
  it("gives every held lock a client id, so a term lock held in another context proves nothing", async () => {
    const name = `app-${Math.random().toString(36).slice(2)}`;
    await openFrame<Tab>(`/test/browser/fixtures/tab.html?port=${ports.ws}&name=${name}`, frames);
    const { tab: hostile } = await openFrame<Hostile>("/test/browser/fixtures/hostile.html", frames);
    await hostile.hold(`resilient-reconnect-term:forged:${name}`);
    const held = (await navigator.locks.query()).held ?? [];
    const mine = held.filter((lock) => lock.name?.endsWith(`:${name}`));
    const appLock = mine.find((lock) => lock.name === `resilient-reconnect:${name}`);
    const terms = mine.filter((lock) => lock.name?.startsWith("resilient-reconnect-term:"));
    expect(terms).toHaveLength(2);
    for (const lock of mine) expect(lock.clientId).toMatch(/.+/);
    // One term lock is the leader's (its context holds the app lock), the forged one is not.
    expect(terms.filter((lock) => lock.clientId === appLock?.clientId)).toHaveLength(1);
  });

  it("keeps the pages on the real leader when a hostile page forges a term, messages and acks", async () => {
    await control("/ws/reset");
    const name = `app-${Math.random().toString(36).slice(2)}`;
    const tabs = await openTabs(3, name);
    await waitFor("every page open", () => tabs.every((tab) => tab.shared.state === "open"));
    const follower = tabs.find((tab) => tab.shared.role === "follower");
    if (follower === undefined) throw new Error("no follower");
    const { tab: hostile } = await openFrame<Hostile>("/test/browser/fixtures/hostile.html", frames);
    const channel = `resilient-reconnect:${name}`;
    const forged = "forged-term";
    await hostile.hold(`resilient-reconnect-term:${forged}:${name}`);
    hostile.post(channel, {
      t: "state",
      epoch: forged,
      state: "stopped",
      nextAttemptAt: Date.now() + 600_000,
    });
    hostile.post(channel, { t: "message", epoch: forged, data: "forged message" });
    await observe(300);
    expect(tabs.map((tab) => tab.shared.state)).toEqual(["open", "open", "open"]);
    expect(tabs.flatMap((tab) => tab.received)).not.toContain("forged message");

    // Sends still reach the server through the real leader, and a forged ack of another term settles nothing.
    expect(follower.shared.send("after the forgery")).toBe("forwarded");
    hostile.post(channel, { t: "ack", to: "anyone", id: 1, epoch: forged });
    await waitFor("the echo in every page", () =>
      tabs.every((tab) => tab.received.includes("echo: after the forgery")),
    );
  });

  it("makes the leader step down and close its connection when a hostile page steals the lock", async () => {
    await control("/ws/reset");
    const name = `app-${Math.random().toString(36).slice(2)}`;
    const tabs = await openTabs(2, name);
    await waitFor("every page open", () => tabs.every((tab) => tab.shared.state === "open"));
    const before = (await serverLog("ws")).open;
    const { tab: hostile } = await openFrame<Hostile>("/test/browser/fixtures/hostile.html", frames);
    const release = await hostile.hold(`resilient-reconnect:${name}`, true);
    await waitFor("no page leading", () => tabs.every((tab) => tab.shared.role === "follower"));
    await waitFor("the leader's connection closed", async () => (await serverLog("ws")).open === before - 1);
    // The thief lets go: a page leads and connects again, one connection as before.
    release();
    await waitFor("a page leading again", () => tabs.some((tab) => tab.shared.role === "leader"), 10_000);
    await waitFor("one connection again", async () => (await serverLog("ws")).open === before, 10_000);
  });

  it("keeps the followers on the live term through a hostile page's leavings of it, and hands over on a real one", async () => {
    await control("/ws/reset");
    const name = `app-${Math.random().toString(36).slice(2)}`;
    const tabs = await openTabs(3, name);
    await waitFor("every page open", () => tabs.every((tab) => tab.shared.state === "open"));
    const leader = tabs.find((tab) => tab.shared.role === "leader");
    const followers = tabs.filter((tab) => tab !== leader);
    if (leader === undefined || followers.length !== 2) throw new Error("no leader and two followers");
    // The current term, as any script of the origin reads it off the lock names.
    const term = (await navigator.locks.query()).held
      ?.map((lock) => lock.name ?? "")
      .find((lockName) => lockName.startsWith("resilient-reconnect-term:") && lockName.endsWith(`:${name}`))
      ?.split(":")[1];
    expect(term).toMatch(/.+/);
    const { tab: hostile } = await openFrame<Hostile>("/test/browser/fixtures/hostile.html", frames);
    const seen = followers.map((tab) => tab.states.length);
    for (let i = 0; i < 20; i++) hostile.post(`resilient-reconnect:${name}`, { t: "leaving", epoch: term });
    leader.shared.send("through the forged leavings");
    await waitFor("the echo in every follower", () =>
      followers.every((tab) => tab.received.includes("echo: through the forged leavings")),
    );
    await observe(300);
    expect(followers.map((tab, i) => tab.states.slice(seen[i]))).toEqual([[], []]);

    // The leader really leaves: a follower leads, and the other follows its term.
    await leader.shared.close();
    await waitFor("a new leader", () => followers.some((tab) => tab.shared.role === "leader"), 10_000);
    await waitFor("both open again", () => followers.every((tab) => tab.shared.state === "open"), 10_000);
    const other = followers.find((tab) => tab.shared.role === "follower");
    expect(other?.shared.send("to the new leader")).toBe("forwarded");
    await waitFor("the echo after the hand-over", () =>
      followers.every((tab) => tab.received.includes("echo: to the new leader")),
    );
  });
});
