/**
 * SharedPresence stamps against a same-origin script, on the virtual clock (tabs over the lock manager and
 * asynchronous channel of `test/helpers/tabs.ts`, a real PresenceHub over the in-process loopback net). Stamps
 * are judged against each tab's clock, never against the latest stamp seen: a script cannot walk them
 * forward, a real change made after its posts still wins, and a tab opened later still takes the member's state.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Clock, ResilientSocket, SharedSocket, VirtualClock } from "../../src/index.js";
import { type PresenceOptions, SharedPresence } from "../../src/presence/index.js";
import { LoopbackNet } from "../helpers/presence-loop.js";
import { Channels, Locks } from "../helpers/tabs.js";

interface Tab {
  shared: SharedSocket;
  presence: SharedPresence;
}

let clock: VirtualClock;
let net: LoopbackNet;
let locks: Locks;
let channels: Channels;
/** Every presence message posted between tabs. */
let heard: Record<string, unknown>[];
const tabs: Tab[] = [];
/** A wall clock of today: stamps are epoch milliseconds, never negative however far it is set back. */
const today = Date.UTC(2026, 11, 6);
let skew = 0;
let wall: Clock;

const microtasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};
async function settle() {
  await microtasks();
  while (channels.deliverNext()) await microtasks();
}
async function run(ms: number) {
  await settle();
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await settle();
  }
}

function setup() {
  clock = new VirtualClock(1_000);
  skew = 0;
  wall = {
    now: () => today + clock.now() + skew,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  };
  net = new LoopbackNet(clock, { graceMs: 5_000, batchMs: 10 });
  locks = new Locks();
  channels = new Channels(true);
  heard = [];
  channels.create("resilient-reconnect:app").onmessage = ({ data }) => {
    if (data?.t === "broadcast") heard.push(data.data);
  };
}

afterEach(async () => {
  for (const t of tabs.splice(0)) {
    t.presence.detach();
    await t.shared.close();
  }
});

function tab(options: Partial<PresenceOptions> = {}): Tab {
  const shared = new SharedSocket({
    name: "app",
    takeoverJitterMs: 1_000,
    locks: locks.client(),
    channel: channels.create,
    page: false,
    clock,
    random: () => 0.5,
    create: () =>
      new ResilientSocket({
        transport: net.transport("browser"),
        clock,
        random: () => 0.5,
        circuitBreaker: false,
        stableAfterMs: 100,
        connectTimeoutMs: 1_000,
      }),
  });
  const presence = new SharedPresence(shared, { space: "office", member: "me", clock: wall, ...options });
  const created = { shared, presence };
  tabs.push(created);
  return created;
}

/** The latest stamp time in any `own` message the tabs (not the forger, tab "\uffff") posted. */
const latestStamp = () =>
  Math.max(
    ...heard
      .filter((m) => m.presence === "own")
      .flatMap((m) => Object.values(m.state as Record<string, [unknown, number, string]>))
      .filter((entry) => entry[2] !== "\uffff")
      .map((entry) => entry[1]),
  );

describe("SharedPresence stamps under a same-origin script", () => {
  it("cannot be walked forward a minute at a time: a real change and a tab opened later still win", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await run(100);
    const evil = channels.create("resilient-reconnect:app");
    // 1,500 steps of 59 s: 24.6 hours ahead if each step were measured from the last.
    let stamp = wall.now();
    for (let step = 0; step < 1_500; step++) {
      stamp += 59_000;
      evil.postMessage({
        t: "broadcast",
        data: { presence: "own", space: "office", state: { emoji: ["🦊", stamp, "\uffff"] } },
      });
    }
    await run(10);
    // Only the first step was within the clock's reach.
    expect([a, b].map((t) => t.presence.state)).toEqual([{ emoji: "🦊" }, { emoji: "🦊" }]);
    b.presence.set("emoji", "🐢");
    await run(150);
    expect([a, b].map((t) => t.presence.state)).toEqual([{ emoji: "🐢" }, { emoji: "🐢" }]);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "🐢" });
    expect(latestStamp()).toBeLessThanOrEqual(wall.now() + 60_000);
    const late = tab({ initial: { room: "attic" } });
    await run(50);
    expect(late.presence.state).toEqual({ emoji: "🐢" });
  });

  it("gives a tab opened after the clock was set back 10 minutes the slices stamped before", async () => {
    setup();
    const a = tab();
    tab();
    await run(100);
    a.presence.set("emoji", "🙂");
    a.presence.set("room", "kitchen");
    await run(50);
    skew = -10 * 60_000;
    const late = tab({ initial: { room: "attic" } });
    await run(50);
    expect(late.presence.state).toEqual({ emoji: "🙂", room: "kitchen" });
    // And a change made after the jump, in the late tab, beats the stamps from before it everywhere.
    late.presence.set("room", "garden");
    await run(150);
    expect(tabs.map((t) => t.presence.state.room)).toEqual(["garden", "garden", "garden"]);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "🙂", room: "garden" });
  });

  it("lets a real change made in the same millisecond as a forged stamp at the clock's reach win in every tab", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await run(100);
    const evil = channels.create("resilient-reconnect:app");
    evil.postMessage({
      t: "broadcast",
      data: { presence: "own", space: "office", state: { emoji: ["🦊", wall.now() + 60_000, "\uffff"] } },
    });
    await settle(); // the same millisecond: the forged stamp ties anything a tab can stamp now
    expect([a, b].map((t) => t.presence.state)).toEqual([{ emoji: "🦊" }, { emoji: "🦊" }]);
    b.presence.set("emoji", "🐢");
    await run(150);
    expect([a, b].map((t) => t.presence.state)).toEqual([{ emoji: "🐢" }, { emoji: "🐢" }]);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "🐢" });
  });

  it("after the clock was set back, keeps the tabs together when one tab changes a slice twice in a millisecond", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await run(100);
    b.presence.set("emoji", "🙂");
    await run(50);
    skew = -10 * 60_000; // every stamp so far is now beyond the clock's reach: the next are capped to it
    b.presence.set("emoji", "🐢");
    b.presence.set("emoji", "🦆");
    await run(150);
    expect([a, b].map((t) => t.presence.state)).toEqual([{ emoji: "🦆" }, { emoji: "🦆" }]);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "🦆" });
  });

  it("leaves no timer behind when it detaches while a tied change waits to be stamped again", async () => {
    setup();
    const [, b] = [tab(), tab()];
    await run(100);
    b.presence.set("emoji", "🙂");
    await run(50);
    skew = -10 * 60_000;
    b.presence.set("emoji", "🐢");
    const before = clock.pendingTimers();
    b.presence.set("emoji", "🦆"); // tied: one timer to stamp it again
    expect(clock.pendingTimers()).toBe(before + 1);
    b.presence.detach();
    expect(clock.pendingTimers()).toBe(before);
  });

  it("answers a flood of hellos with a burst of 8 whole states and rosters, then 10 a second, and a new tab still gets them at once", async () => {
    setup();
    const [a] = [tab(), tab()];
    await run(200);
    expect(a.shared.role).toBe("leader");
    const evil = channels.create("resilient-reconnect:app");
    const answers = () => heard.filter((m) => m.presence === "roster").length;
    const before = answers();
    for (let ms = 0; ms < 1_000; ms++) {
      evil.postMessage({ t: "broadcast", data: { presence: "hello", space: "office" } });
      await run(1);
    }
    // 1,000 hellos of ~50 bytes: the leader's answers (its state and the roster) are bounded by time, not by hellos.
    expect(answers() - before).toBeLessThanOrEqual(8 + 10);
    await run(200);
    const late = tab();
    const lateBefore = answers();
    await run(10);
    expect(answers()).toBe(lateBefore + 1);
    expect(late.presence.phase).toBe("synced");
  });
});
