/**
 * SharedPresence on the virtual clock: tabs (SharedSocket + SharedPresence over the lock manager and the
 * asynchronous channel of `test/helpers/tabs.ts`) against a real PresenceHub over the in-process loopback
 * net, with another client (`bob`, a plain Presence) watching what the server shows of this browser.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ResilientSocket, SharedSocket, VirtualClock } from "../../src/index.js";
import { encodePresence } from "../../src/internals.js";
import { Presence, type PresenceOptions, SharedPresence } from "../../src/presence/index.js";
import { LoopbackNet } from "../helpers/presence-loop.js";
import { Channels, currentTerm, Locks } from "../helpers/tabs.js";

interface Tab {
  shared: SharedSocket;
  presence: SharedPresence;
}

let clock: VirtualClock;
let net: LoopbackNet;
let locks: Locks;
let channels: Channels;
let bob: Presence;
const tabs: Tab[] = [];
/** Every presence message posted between tabs (a listening endpoint of the channel). */
let heard: Record<string, unknown>[];

const microtasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};
/** Lets lock grants and channel deliveries run until nothing is left. */
async function settle() {
  await microtasks();
  while (channels.deliverNext()) await microtasks();
}
/** Moves the clock a millisecond at a time, delivering channel messages in between (as a browser would). */
async function run(ms: number) {
  await settle();
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await settle();
  }
}

function setup() {
  clock = new VirtualClock(1_000);
  net = new LoopbackNet(clock, { graceMs: 5_000, batchMs: 10 });
  locks = new Locks();
  channels = new Channels(true);
  heard = [];
  channels.create("resilient-reconnect:app").onmessage = ({ data }) => {
    if (data?.t === "broadcast") heard.push(data.data);
  };
  const socket = net.socket("bob");
  bob = new Presence(socket, { space: "office", member: "bob", clock, initial: { room: "lobby" } });
  socket.connect();
  cleanups.push(
    () => bob.detach(),
    () => socket.close(),
  );
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const t of tabs.splice(0)) {
    t.presence.detach();
    await t.shared.close();
  }
  for (const cleanup of cleanups.splice(0)) await cleanup();
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
  const presence = new SharedPresence(shared, { space: "office", clock, ...options });
  const created = { shared, presence };
  tabs.push(created);
  return created;
}

async function closeTab(t: Tab) {
  tabs.splice(tabs.indexOf(t), 1);
  t.presence.detach();
  await t.shared.close();
}

const parsed = (texts: readonly string[]) => texts.map((text) => JSON.parse(text) as Record<string, unknown>);
/** The presence messages the browser sent on each of its connections. */
const browserUp = () => net.of("browser").map((link) => parsed(link.up));
const syncs = () => browserUp().map((up) => up.filter((m) => m.$presence === "sync").length);
const rosterIds = (p: { roster: ReadonlyMap<string, unknown> }) => [...p.roster.keys()].sort();

describe("SharedPresence", () => {
  it("makes the browser one member: only the leader syncs, once, and every tab mirrors the roster", async () => {
    setup();
    const [a, b, c] = [tab({ member: "me" }), tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    expect([a, b, c].map((t) => t.shared.role)).toEqual(["leader", "follower", "follower"]);
    expect(net.of("browser")).toHaveLength(1);
    expect(syncs()).toEqual([1]);
    expect([...net.hub.roster("office").keys()].sort()).toEqual(["bob", "me"]);
    expect(rosterIds(bob)).toEqual(["me"]);
    for (const t of [a, b, c]) {
      expect(t.presence.phase).toBe("synced");
      expect(rosterIds(t.presence)).toEqual(["bob"]);
    }
    // bob changes: every tab hears it from the one connection.
    bob.set("emoji", "🎉");
    await run(50);
    for (const t of [a, b, c])
      expect(t.presence.roster.get("bob")?.state).toEqual({ room: "lobby", emoji: "🎉" });
  });

  it("carries a follower's set to the server through the leader, and into every tab's own state", async () => {
    setup();
    const [a, b, c] = [tab({ member: "me" }), tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    const seen: unknown[] = [];
    c.presence.on("own", (event) => seen.push(event));
    b.presence.set("emoji", "☕");
    expect(b.presence.state).toEqual({ emoji: "☕" });
    await run(50);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "☕" });
    expect(bob.roster.get("me")?.state).toEqual({ emoji: "☕" });
    expect([a, b, c].map((t) => t.presence.state)).toEqual([
      { emoji: "☕" },
      { emoji: "☕" },
      { emoji: "☕" },
    ]);
    expect(seen).toEqual([{ slices: ["emoji"] }]);
    b.presence.clear("emoji");
    await run(150); // updates are coalesced to 10 a second
    expect(net.hub.roster("office").get("me")).toEqual({});
    expect(a.presence.state).toEqual({});
    expect(browserUp()[0]?.map((m) => m.$presence)).toEqual(["sync", "update", "update"]);
  });

  it("keeps the tabs together when the machine's clock is set back 5 minutes", async () => {
    setup();
    // The presence layer's clock (stamps) jumps; the sockets keep the steady virtual clock.
    let skew = 0;
    // A wall clock of today (stamps are never negative: set back from the virtual clock's 1 s they would be).
    const today = Date.UTC(2026, 11, 6);
    const wall = {
      now: () => today + clock.now() + skew,
      setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms),
      clearTimeout: (handle: ReturnType<VirtualClock["setTimeout"]>) => clock.clearTimeout(handle),
    };
    const [a, b] = [tab({ member: "me", clock: wall }), tab({ member: "me", clock: wall })];
    await run(100);
    a.presence.set("room", "kitchen");
    await run(150);
    skew = -5 * 60_000;
    // A follower's set after the jump reaches the leader, the server and every tab.
    b.presence.set("room", "cellar");
    await run(150);
    expect(net.hub.roster("office").get("me")).toEqual({ room: "cellar" });
    expect([a, b].map((t) => t.presence.state)).toEqual([{ room: "cellar" }, { room: "cellar" }]);
    // A tab opened after the jump takes the member's state, stamped before it.
    const late = tab({ member: "me", clock: wall, initial: { room: "attic" } });
    await run(100);
    expect(late.presence.state).toEqual({ room: "cellar" });
    late.presence.set("room", "garden");
    await run(150);
    expect(net.hub.roster("office").get("me")).toEqual({ room: "garden" });
    expect([a, b, late].map((t) => t.presence.state.room)).toEqual(["garden", "garden", "garden"]);
  });

  it("ends with the same value in every tab and at the server when two tabs set a slice at once", async () => {
    setup();
    const [a, b, c] = [tab({ member: "me" }), tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    b.presence.set("room", "kitchen");
    c.presence.set("room", "garden");
    a.presence.set("room", "lobby");
    await run(50);
    const rooms = [a, b, c].map((t) => t.presence.state.room);
    expect(new Set(rooms).size).toBe(1);
    expect(net.hub.roster("office").get("me")?.room).toBe(rooms[0]);
    // Later wins, wherever it was set.
    await run(5);
    b.presence.set("room", "attic");
    await run(50);
    expect([a, b, c].map((t) => t.presence.state.room)).toEqual(["attic", "attic", "attic"]);
    expect(net.hub.roster("office").get("me")?.room).toBe("attic");
  });

  it("gives a tab opened late the member's id, state and roster from the leader", async () => {
    setup();
    const a = tab({ initial: { room: "kitchen" } });
    tab();
    await run(100);
    a.presence.set("emoji", "🙂");
    await run(50);
    const late = tab({ initial: { room: "cellar", layout: { x: 1, y: 2 } } });
    expect(late.presence.state).toEqual({ room: "cellar", layout: { x: 1, y: 2 } });
    await run(50);
    expect(late.shared.role).toBe("follower");
    expect(late.presence.member).toBe(a.presence.member);
    // Its `initial` gave way to the member's state.
    expect(late.presence.state).toEqual({ room: "kitchen", emoji: "🙂" });
    expect(late.presence.phase).toBe("synced");
    expect(rosterIds(late.presence)).toEqual(["bob"]);
    expect(late.presence.roster.get("bob")?.state).toEqual({ room: "lobby" });
    expect(syncs()).toEqual([1]);
    expect([...net.hub.roster("office").keys()]).toHaveLength(2);
  });

  it("a synced tab does not read the roster the leader posts for a tab opened late", async () => {
    setup();
    const [, b] = [tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    const read = b.presence.stats().inbound.received;
    tab({ member: "me" });
    await run(50);
    expect(heard.filter((m) => m.presence === "roster")).toHaveLength(2);
    expect(b.presence.stats().inbound.received).toBe(read);
  });

  it("tabs whose presence started before the leader's take the member's state from it, and give it theirs", async () => {
    setup();
    // The leader tab shares the connection but starts its presence later (the app loads it lazily).
    const leader = new SharedSocket({
      name: "app",
      locks: locks.client(),
      channel: channels.create,
      page: false,
      clock,
      random: () => 0.5,
      create: () => net.socket("browser"),
    });
    cleanups.push(() => leader.close());
    await settle();
    expect(leader.role).toBe("leader");
    leader.connect();
    const b = tab({ initial: { room: "cellar" } });
    await run(50);
    b.presence.set("emoji", "🌱");
    await run(50);
    expect(net.of("browser")).toHaveLength(1);
    expect(syncs()).toEqual([0]);
    const presence = new SharedPresence(leader, {
      space: "office",
      member: "me",
      clock,
      initial: { room: "lobby" },
    });
    cleanups.push(() => presence.detach());
    await run(200);
    expect(b.presence.member).toBe("me");
    expect(presence.state).toEqual({ room: "lobby", emoji: "🌱" });
    expect(b.presence.state).toEqual({ room: "lobby", emoji: "🌱" });
    expect(net.hub.roster("office").get("me")).toEqual({ room: "lobby", emoji: "🌱" });
    expect(syncs()).toEqual([1]);
    expect(b.presence.phase).toBe("synced");
    expect(rosterIds(b.presence)).toEqual(["bob"]);
  });

  it("syncs the whole own state in one message when the leader tab closes and another takes over", async () => {
    setup();
    const [a, b, c] = [tab({ member: "me" }), tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    a.presence.set("layout", { x: 3, y: 4 });
    b.presence.set("emoji", "☕");
    c.presence.set("room", "kitchen");
    await run(50);
    const left: string[] = [];
    bob.on("leave", ({ member }) => left.push(member.id));
    await closeTab(a);
    await run(1_200);
    expect(b.shared.role).toBe("leader");
    expect(net.of("browser")).toHaveLength(2);
    const [sync, ...rest] = browserUp()[1] ?? [];
    expect(sync).toMatchObject({
      $presence: "sync",
      member: "me",
      state: { layout: { x: 3, y: 4 }, emoji: "☕", room: "kitchen" },
    });
    expect(rest).toEqual([]);
    expect(syncs()).toEqual([1, 1]);
    // Back within the grace period: nobody saw the member go.
    expect(left).toEqual([]);
    expect(net.hub.roster("office").get("me")).toEqual({
      layout: { x: 3, y: 4 },
      emoji: "☕",
      room: "kitchen",
    });
    for (const t of [b, c]) expect(t.presence.phase).toBe("synced");
    // The new leader takes followers' changes as the old one did.
    c.presence.set("emoji", "🍵");
    await run(50);
    expect(net.hub.roster("office").get("me")?.emoji).toBe("🍵");
  });

  it("keeps a change made between leaders and sends it with the next leader's sync", async () => {
    setup();
    const [a, b, c] = [tab({ member: "me" }), tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    await closeTab(a);
    await run(5);
    expect(b.shared.state).toBe("waiting");
    c.presence.set("emoji", "⏳");
    await run(1_200);
    expect(b.shared.role).toBe("leader");
    expect(browserUp()[1]?.[0]).toMatchObject({ $presence: "sync", state: { emoji: "⏳" } });
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "⏳" });
  });

  it("brings followers in step with the relayed sync answer after a reconnect, without a roster from the leader", async () => {
    setup();
    const [, b, c] = [tab({ member: "me" }), tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    const rostersBefore = heard.filter((m) => m.presence === "roster").length;
    net.of("browser")[0]?.drop();
    bob.set("emoji", "👋");
    // The default backoff's first retry is drawn in [0.5, 1.5] s.
    await run(1_500);
    expect(net.of("browser")).toHaveLength(2);
    expect(syncs()).toEqual([1, 1]);
    for (const t of [b, c]) {
      expect(t.presence.phase).toBe("synced");
      expect(t.presence.roster.get("bob")?.state).toEqual({ room: "lobby", emoji: "👋" });
    }
    expect(heard.filter((m) => m.presence === "roster").length).toBe(rostersBefore);
  });

  it("a follower that falls out of step asks the leader for its roster instead of the server", async () => {
    setup();
    const [a, b] = [tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    const { epoch, rev = 0 } = b.presence.revision;
    // A diff that skips revisions reaches only b (as if it had missed some).
    const hostile = channels.create("resilient-reconnect:app");
    const gap = encodePresence({
      type: "diff",
      space: "office",
      epoch: epoch ?? "",
      from: rev + 5,
      rev: rev + 6,
      changes: [{ op: "join", id: "ghost", state: {} }],
    });
    // Tagged with the leader's term, which any same-origin script can read from the lock names.
    hostile.postMessage({ t: "message", data: gap, epoch: currentTerm(locks) });
    await run(20);
    expect(b.presence.stats().resyncs).toBe(1);
    expect(b.presence.phase).toBe("synced");
    expect(rosterIds(b.presence)).toEqual(["bob"]);
    expect(rosterIds(a.presence)).toEqual(["bob"]);
    expect(syncs()).toEqual([1]);
  });

  it("ignores malformed and hostile messages between tabs", async () => {
    setup();
    const [a, b] = [tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    a.presence.set("emoji", "🙂");
    await run(50);
    const upBefore = browserUp()[0]?.length;
    const hostile = channels.create("resilient-reconnect:app");
    // Newer than every real stamp so far, and within the clock's reach: only the value is wrong.
    const soon = clock.now() + 1_000;
    const { epoch, rev = 0 } = b.presence.revision;
    const ghost = encodePresence({
      type: "snapshot",
      space: "office",
      epoch: epoch ?? "",
      rev: rev + 1,
      members: [{ id: "ghost", state: {} }],
    });
    const junk: unknown[] = [
      null,
      "own",
      [],
      { presence: "own" },
      { presence: "own", space: "elsewhere", state: { emoji: ["🦊", 1e15, "x"] } },
      { presence: "nonsense", space: "office" },
      { presence: "own", space: "office", state: "emoji" },
      { presence: "own", space: "office", state: { emoji: "🦊" } },
      { presence: "own", space: "office", state: { emoji: ["🦊", "late", "x"] } },
      { presence: "own", space: "office", state: { emoji: ["🦊", -1, "x"] } },
      { presence: "own", space: "office", state: { emoji: ["🦊", 1e15, ""] } },
      { presence: "own", space: "office", state: { emoji: ["🦊", Number.MAX_SAFE_INTEGER, "x"] } },
      { presence: "own", space: "office", state: { emoji: ["\u0000", soon, "x"] } },
      { presence: "own", space: "office", state: { emoji: ["🦊".repeat(40), soon, "x"] } },
      { presence: "own", space: "office", state: { emoji: [{ toString: "🦊" }, soon, "x"] } },
      { presence: "own", space: "office", state: { nonsense: [1, soon, "x"] } },
      { presence: "own", space: "office", state: { layout: [{ x: 1, y: 2, z: 3 }, soon, "x"] } },
      { presence: "own", space: "office", state: JSON.parse(`{"__proto__":["🦊",${soon},"x"]}`) },
      { presence: "own", space: "office", state: { room: [JSON.parse('{"__proto__":1}'), soon, "x"] } },
      {
        presence: "own",
        space: "office",
        state: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`s${i}`, 1])),
      },
      { presence: "own", space: "office", whole: true, member: "../../x y", state: {} },
      { presence: "own", space: "office", whole: "yes", member: "me", state: {} },
      // Well-formed, but another member's: with `member` given, no leader of this browser sent it.
      {
        presence: "own",
        space: "office",
        whole: true,
        member: "intruder",
        state: { emoji: ["🦊", soon, "x"] },
      },
      { presence: "roster", space: "office", text: 42 },
      { presence: "roster", space: "office", text: '{"$presence":"diff"}' },
      { presence: "roster", space: "office", text: '{"$presence":"snapshot",' },
      // Well-formed, but nobody asked: a synced tab does not take a roster.
      { presence: "roster", space: "office", text: ghost },
    ];
    for (const data of junk) expect(() => hostile.postMessage({ t: "broadcast", data })).not.toThrow();
    await run(50);
    for (const t of [a, b]) {
      expect(t.presence.state).toEqual({ emoji: "🙂" });
      expect(t.presence.phase).toBe("synced");
      expect(rosterIds(t.presence)).toEqual(["bob"]);
      expect(t.presence.member).toBe("me");
    }
    expect(browserUp()[0]).toHaveLength(upBefore ?? 0);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "🙂" });
    // A real change later still wins: no hostile stamp got in the way.
    b.presence.set("emoji", "🐢");
    await run(50);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "🐢" });
    // A refused entry stamped at the edge of the clock's reach does not move the tabs' time: two changes
    // in one millisecond afterwards are not pushed past it, and the last one wins everywhere.
    hostile.postMessage({
      t: "broadcast",
      data: { presence: "own", space: "office", state: { nonsense: [1, clock.now() + 60_000, "x"] } },
    });
    await settle();
    b.presence.set("emoji", "🐇");
    b.presence.set("emoji", "🦔");
    await run(150);
    expect([a, b].map((t) => t.presence.state)).toEqual([{ emoji: "🦔" }, { emoji: "🦔" }]);
    expect(net.hub.roster("office").get("me")).toEqual({ emoji: "🦔" });
  });

  it("does not make the member leave when one tab detaches", async () => {
    setup();
    const [a, b] = [tab({ member: "me" }), tab({ member: "me" })];
    await run(100);
    a.presence.detach();
    b.presence.detach();
    await run(50);
    expect([...net.hub.roster("office").keys()].sort()).toEqual(["bob", "me"]);
    expect(browserUp()[0]?.map((m) => m.$presence)).toEqual(["sync"]);
  });

  it("refuses a SharedSocket in Presence and anything else in SharedPresence", () => {
    setup();
    const { shared } = tab();
    expect(() => new Presence(shared as never, { space: "office" })).toThrow(/SharedPresence/);
    expect(() => new SharedPresence(net.socket("x") as never, { space: "office" })).toThrow(TypeError);
  });
});
