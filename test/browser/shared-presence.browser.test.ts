/**
 * Presence through one shared connection, in real Chromium against the real presence hub: three same-origin
 * pages (iframes, each with its own Web Lock requests and BroadcastChannel) with a SharedPresence on one
 * SharedSocket are one connection and one member at the server; a follower's change reaches another client;
 * when the leader's page goes away mid-session (removed: the browser releases its lock, nothing is closed),
 * another page takes over and its one sync restores the member's whole state — within the grace period, so
 * the other client never sees the member leave.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ResilientSocket, type SharedSocket } from "../../src/index.js";
import { Presence, type SharedPresence } from "../../src/presence/index.js";
import { webSocketTransport } from "../../src/websocket.js";
import { control, openFrame, ports, waitFor } from "./page-helpers.js";
import type { PresenceLog } from "./servers.js";

interface Tab {
  shared: SharedSocket;
  presence: SharedPresence;
}
type Connection = PresenceLog["connections"][number];

const log = () => control("/presence/log") as Promise<PresenceLog>;
const messages = (connection: Connection) =>
  connection.up.map((text) => JSON.parse(text) as Record<string, unknown>);
const syncs = (connection: Connection) => messages(connection).filter((m) => m.$presence === "sync");
/** The connections whose sync named `member`, oldest first. */
const of = (entries: PresenceLog, member: string) =>
  entries.connections.filter((c) => syncs(c).some((m) => m.member === member));

const frames: HTMLIFrameElement[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const frame of frames.splice(0)) {
    const tab = (frame.contentWindow as unknown as { tab?: Tab } | null)?.tab;
    tab?.presence.detach();
    await tab?.shared.close();
    frame.remove();
  }
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const openTab = (name: string) =>
  openFrame<Tab>(`/test/browser/fixtures/presence-tab.html?port=${ports.presence}&name=${name}`, frames);

describe("presence through one connection per browser", () => {
  it("makes three pages one member on one connection, and restores it with one sync after the leader's page goes", async () => {
    await control("/presence/reset");
    const socket = new ResilientSocket({
      transport: webSocketTransport({ url: `ws://127.0.0.1:${ports.presence}` }),
    });
    const observer = new Presence(socket, { space: "office", member: "observer" });
    cleanups.push(
      () => observer.detach(),
      () => socket.close(),
    );
    const left: string[] = [];
    observer.on("leave", ({ member }) => left.push(member.id));

    const name = `app-${Math.random().toString(36).slice(2)}`;
    const tabs: { frame: HTMLIFrameElement; tab: Tab }[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openTab(name));
    await waitFor("every page synced", () => tabs.every(({ tab }) => tab.presence.phase === "synced"));
    const member = tabs[0]?.tab.presence.member ?? "";
    expect(tabs.map(({ tab }) => tab.presence.member)).toEqual([member, member, member]);
    expect(tabs.filter(({ tab }) => tab.shared.role === "leader")).toHaveLength(1);
    await waitFor("the observer to see the member", () => observer.roster.has(member));
    const first = await log();
    expect(of(first, member).map((c) => [c.open, syncs(c).length])).toEqual([[true, 1]]);
    expect(Object.keys(first.roster).sort()).toEqual([member, "observer"].sort());
    for (const { tab } of tabs) expect([...tab.presence.roster.keys()]).toEqual(["observer"]);

    // A follower's change reaches the server through the leader, the other client, and every page.
    // The last page in the lock's queue: the page that takes over later holds the change only as a mirror.
    const follower = tabs.filter(({ tab }) => tab.shared.role === "follower").at(-1);
    follower?.tab.presence.set("emoji", "☕");
    await waitFor(
      "the observer to see the follower's change",
      () => observer.roster.get(member)?.state.emoji,
    );
    expect(observer.roster.get(member)?.state).toEqual({ room: "lobby", emoji: "☕" });
    await waitFor("every page's own state", () => tabs.every(({ tab }) => tab.presence.state.emoji === "☕"));

    // The leader's page goes away without closing anything: the browser releases its lock.
    const leader = tabs.find(({ tab }) => tab.shared.role === "leader");
    leader?.frame.remove();
    const rest = tabs.filter((t) => t !== leader);
    await waitFor("a new leader", () => rest.some(({ tab }) => tab.shared.role === "leader"), 10_000);
    const connections = await waitFor(
      "the new leader's connection",
      async () => {
        const now = of(await log(), member);
        return now.length === 2 && now[0]?.open === false && now;
      },
      10_000,
    );
    const second = connections[1] as Connection;
    expect(second.open).toBe(true);
    expect(syncs(second)).toHaveLength(1);
    expect(messages(second)[0]).toMatchObject({
      $presence: "sync",
      member,
      state: { room: "lobby", emoji: "☕" },
    });
    await waitFor("every remaining page synced", () =>
      rest.every(({ tab }) => tab.presence.phase === "synced"),
    );
    expect((await log()).roster[member]).toEqual({ room: "lobby", emoji: "☕" });
    expect(left).toEqual([]);

    // The new leader carries the remaining follower's changes as the old one did.
    const still = rest.find(({ tab }) => tab.shared.role === "follower");
    still?.tab.presence.set("emoji", "🍵");
    await waitFor("the observer to see the change", () => observer.roster.get(member)?.state.emoji === "🍵");
    expect(of(await log(), member)).toHaveLength(2);
  });
});
