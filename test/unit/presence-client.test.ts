import { afterEach, describe, expect, it } from "vitest";
import { ResilientSocket, VirtualClock } from "../../src/index.js";
import { encodePresence } from "../../src/internals.js";
import {
  defineSlice,
  type MemberEvent,
  Presence,
  type PresenceChange,
  type PresenceOptions,
} from "../../src/presence/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

let clock: VirtualClock;
let transport: FakeTransport;
let socket: ResilientSocket;
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function start(options: Partial<PresenceOptions> = {}): Presence {
  clock = new VirtualClock(10_000);
  transport = new FakeTransport(() => clock.now());
  socket = new ResilientSocket({
    transport,
    clock,
    random: () => 0.5,
    autoConnect: false,
    circuitBreaker: false,
  });
  // Errors are not what these tests look at; unheard, each socket would print its one warning (unheard.ts).
  socket.on("error", () => {});
  const presence = new Presence(socket, { space: "office", member: "me", clock, ...options });
  cleanups.push(
    () => socket.close(),
    () => presence.detach(),
  );
  return presence;
}

function open(): void {
  socket.connect();
  transport.last.open();
}

/** What the client sent on the current connection, parsed. */
function sent(): Record<string, unknown>[] {
  return transport.last.sent.map((text) => JSON.parse(String(text)) as Record<string, unknown>);
}

const snapshot = (rev: number, members: { id: string; state: Record<string, unknown> }[], epoch = "e1") =>
  encodePresence({ type: "snapshot", space: "office", epoch, rev, members });
const diff = (from: number, changes: PresenceChange[], epoch = "e1") =>
  encodePresence({ type: "diff", space: "office", epoch, from, rev: from + changes.length, changes });

function events(presence: Presence): string[] {
  const seen: string[] = [];
  const note = (kind: string) => (e: MemberEvent<unknown>) =>
    seen.push(`${kind}:${e.member.id}:${e.slices.join("+")}`);
  presence.on("join", note("join"));
  presence.on("leave", note("leave"));
  presence.on("update", note("update"));
  presence.on("sync", (e) => seen.push(`sync:${e.full ? "full" : "diff"}@${e.revision}`));
  return seen;
}

describe("Presence sync", () => {
  it("sends exactly one sync with the full own state and no revision on the first open", () => {
    const presence = start({ initial: { room: "kitchen", emoji: "☕" } });
    presence.set("layout", { x: 3, y: 4 });
    open();
    expect(sent()).toEqual([
      {
        $presence: "sync",
        v: 1,
        space: "office",
        member: "me",
        epoch: null,
        rev: null,
        state: { room: "kitchen", emoji: "☕", layout: { x: 3, y: 4 } },
      },
    ]);
  });

  it("applies a snapshot answer: a join per other member, then sync; its own entry is not in the roster", () => {
    const presence = start();
    const seen = events(presence);
    open();
    transport.last.message(
      snapshot(4, [
        { id: "me", state: {} },
        { id: "ann", state: { room: "r1" } },
      ]),
    );
    expect(seen).toEqual(["join:ann:room", "sync:full@4"]);
    expect([...presence.roster.keys()]).toEqual(["ann"]);
    expect(presence.roster.get("ann")?.state).toEqual({ room: "r1" });
    expect(presence.phase).toBe("synced");
  });

  it("sends the epoch and revision it last saw in the sync after a reconnect", () => {
    const presence = start();
    open();
    transport.last.message(snapshot(4, [{ id: "ann", state: {} }]));
    transport.last.message(diff(4, [{ op: "update", id: "ann", state: { emoji: "🙂" } }]));
    transport.last.close({ kind: "closed" });
    presence.set("room", "hall");
    clock.runNext();
    transport.last.open();
    expect(sent()).toEqual([
      expect.objectContaining({ $presence: "sync", epoch: "e1", rev: 5, state: { room: "hall" } }),
    ]);
  });

  it("holds diffs that arrive before the sync answer and applies them in order after it", () => {
    const presence = start();
    const seen = events(presence);
    open();
    transport.last.message(diff(5, [{ op: "join", id: "bob", state: { room: "a" } }]));
    transport.last.message(diff(6, [{ op: "update", id: "bob", state: { room: "b" } }]));
    expect(seen).toEqual([]);
    expect(presence.roster.size).toBe(0);
    transport.last.message(snapshot(5, [{ id: "ann", state: {} }]));
    expect(seen).toEqual(["join:ann:", "join:bob:room", "update:bob:room", "sync:full@7"]);
    expect(presence.roster.get("bob")?.state).toEqual({ room: "b" });
    expect(presence.stats()).toMatchObject({ held: 2, resyncs: 0, syncs: 1 });
  });

  it("never applies a held diff to a stale base: changes the answer already covers are skipped", () => {
    const presence = start();
    open();
    transport.last.message(
      diff(3, [
        { op: "join", id: "bob", state: { room: "a" } },
        { op: "leave", id: "bob" },
        { op: "join", id: "cy", state: {} },
      ]),
    );
    // The answer is at revision 5: it already has bob's join and leave; only cy's join (revision 6) is new.
    transport.last.message(snapshot(5, [{ id: "ann", state: {} }]));
    expect([...presence.roster.keys()].sort()).toEqual(["ann", "cy"]);
    expect(presence.revision).toEqual({ epoch: "e1", rev: 6 });
  });

  it("answers a catch-up from its own revision without a full roster, emitting only what changed", () => {
    const presence = start();
    const seen = events(presence);
    open();
    transport.last.message(snapshot(2, [{ id: "ann", state: { room: "a" } }]));
    transport.last.close({ kind: "closed" });
    clock.runNext();
    transport.last.open();
    const changes: PresenceChange[] = [{ op: "update", id: "ann", state: { room: "b", emoji: "🎉" } }];
    transport.last.message(
      encodePresence({ type: "catchup", space: "office", epoch: "e1", from: 2, rev: 3, changes }),
    );
    expect(seen.slice(2)).toEqual(["update:ann:room+emoji", "sync:diff@3"]);
    expect(presence.roster.get("ann")?.state).toEqual({ room: "b", emoji: "🎉" });
  });

  it("syncs again when a diff leaves a gap or comes from another epoch", () => {
    const presence = start();
    open();
    transport.last.message(snapshot(2, []));
    transport.last.message(diff(4, [{ op: "leave", id: "x" }]));
    transport.last.message(snapshot(5, []));
    transport.last.message(diff(5, [{ op: "leave", id: "x" }], "e2"));
    const syncs = sent().filter((m) => m.$presence === "sync");
    expect(syncs.map((m) => m.rev)).toEqual([null, 2, 5]);
    expect(presence.stats().resyncs).toBe(2);
  });

  it("emits update with only the changed slices, and leave", () => {
    const presence = start();
    const seen = events(presence);
    open();
    transport.last.message(snapshot(1, [{ id: "ann", state: { room: "a", emoji: "x" } }]));
    transport.last.message(diff(1, [{ op: "update", id: "ann", state: { emoji: "y", room: "a" } }]));
    transport.last.message(diff(2, [{ op: "update", id: "ann", state: { emoji: null } }]));
    transport.last.message(diff(3, [{ op: "leave", id: "ann" }]));
    expect(seen.slice(2)).toEqual(["update:ann:emoji", "update:ann:emoji", "leave:ann:"]);
    expect(presence.roster.size).toBe(0);
  });

  it("keeps the roster read-only", () => {
    const presence = start();
    open();
    transport.last.message(snapshot(1, [{ id: "ann", state: { room: "a" } }]));
    const ann = presence.roster.get("ann");
    expect(Object.isFrozen(ann) && Object.isFrozen(ann?.state)).toBe(true);
    expect(Object.isFrozen(presence.state)).toBe(true);
  });
});

describe("Presence local changes", () => {
  it("coalesces an emoji mashed ten times in a second into a bounded number of updates, last value wins", () => {
    const presence = start({ maxUpdatesPerSecond: 4 });
    open();
    transport.last.message(snapshot(0, []));
    for (let i = 0; i < 10; i++) {
      presence.set("emoji", String(i));
      clock.advance(100);
    }
    clock.advance(1_000);
    const updates = sent().filter((m) => m.$presence === "update");
    expect(updates.length).toBeLessThanOrEqual(5);
    expect(updates.at(-1)).toEqual({ $presence: "update", space: "office", state: { emoji: "9" } });
  });

  it("sends slices set in the same instant as one update", () => {
    const presence = start();
    open();
    presence.set("room", "r");
    presence.set("emoji", "e");
    presence.clear("room");
    clock.advance(0);
    expect(sent().slice(1)).toEqual([
      { $presence: "update", space: "office", state: { room: null, emoji: "e" } },
    ]);
  });

  it("sends nothing while disconnected; the next sync carries what changed offline", () => {
    const presence = start();
    presence.set("room", "a");
    presence.set("room", "b");
    clock.advance(5_000);
    expect(transport.attempts).toHaveLength(0);
    open();
    expect(sent()).toEqual([expect.objectContaining({ $presence: "sync", state: { room: "b" } })]);
  });

  it("never leaves a change in the socket's queue when the link died unnoticed; the next sync carries it", () => {
    const presence = start();
    open();
    transport.last.message(snapshot(0, []));
    transport.refuseSends = true;
    presence.set("room", "lost");
    clock.advance(0);
    expect(socket.stats().queue.messages).toBe(0);
    transport.refuseSends = false;
    transport.last.close({ kind: "closed" });
    clock.runNext();
    transport.last.open();
    expect(sent()).toEqual([expect.objectContaining({ $presence: "sync", state: { room: "lost" } })]);
    expect(presence.stats()).toMatchObject({ syncs: 2, updates: 0 });
  });

  it("merges values set locally with the custom slice's merge", () => {
    const tags = defineSlice("tags", {
      validate: (v): v is string[] => Array.isArray(v) && v.every((t) => typeof t === "string"),
      merge: (previous, next) => [...new Set([...(previous ?? []), ...next])],
    });
    start();
    const presence = new Presence(socket, { space: "office", member: "me", clock, slices: [tags] });
    cleanups.push(() => presence.detach());
    presence.set("tags", ["a"]);
    presence.set("tags", ["b", "a"]);
    expect(presence.state.tags).toEqual(["a", "b"]);
  });

  it("rejects an invalid or unknown slice with a TypeError and an oversized state with a RangeError", () => {
    const presence = start({ maxStateBytes: 64 });
    expect(() => presence.set("layout", { x: Number.NaN, y: 0 })).toThrow(TypeError);
    expect(() => presence.set("mood" as "room", "x")).toThrow(/unknown slice "mood"/);
    presence.set("room", "a".repeat(40));
    expect(() => presence.set("emoji", "b".repeat(30))).toThrow(/maxStateBytes/);
    expect(presence.state).toEqual({ room: "a".repeat(40) });
  });
});

describe("Presence lifecycle", () => {
  it("holds no timer after detach, and none after the socket closes", () => {
    const presence = start();
    open();
    transport.last.message(snapshot(0, []));
    presence.set("emoji", "1");
    clock.advance(0);
    presence.set("emoji", "2");
    const before = clock.pendingTimers();
    presence.detach();
    expect(clock.pendingTimers()).toBe(before - 1);
    expect(sent().at(-1)).toEqual({ $presence: "leave", space: "office" });
    expect(socket.listenerCount("message")).toBe(0);
  });

  it("cancels a pending update when the connection drops", () => {
    const presence = start();
    open();
    presence.set("emoji", "1");
    clock.advance(0);
    presence.set("emoji", "2");
    const withUpdate = clock.pendingTimers();
    transport.last.close({ kind: "closed" });
    expect(presence.phase).toBe("offline");
    // The retry timer replaced the connection's timers; the presence flush timer is gone.
    expect(clock.pendingTimers()).toBeLessThan(withUpdate);
    clock.advance(100);
    expect(sent().filter((m) => m.$presence === "update")).toHaveLength(1);
  });

  it("drops malformed, oversized and hostile messages without throwing, and counts them", () => {
    const presence = start({ limits: { maxMessageBytes: 512 } });
    open();
    const hostile = [
      '{"$presence":"snapshot",',
      `{"$presence":"snapshot","space":"office","epoch":"e","rev":1,"members":[{"id":"a","state":{"__proto__":{"polluted":1}}}]}`,
      `{"$presence":"diff","space":"office","pad":"${"x".repeat(600)}"}`,
      '{"$presence":"snapshot","space":"office","epoch":"e","rev":1,"members":[{"id":"a","state":{"room":"r","zzz":1}}]}',
    ];
    for (const text of hostile) expect(() => transport.last.message(text)).not.toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(presence.stats().inbound).toMatchObject({
      received: 4,
      accepted: 1,
      dropped: { malformed: 1, "forbidden-key": 1, "too-large": 1 },
      skipped: { "unknown-slice": 1 },
    });
    expect(presence.roster.get("a")?.state).toEqual({ room: "r" });
  });

  it("ignores the app's own messages and presence of other spaces", () => {
    const presence = start();
    open();
    transport.last.message("hello");
    transport.last.message({ $presence: "snapshot" });
    transport.last.message(
      encodePresence({ type: "snapshot", space: "other", epoch: "e", rev: 1, members: [] }),
    );
    expect(presence.phase).toBe("syncing");
    expect(presence.stats().inbound.received).toBe(1);
  });

  it("starts syncing at once when attached to a socket that is already open", () => {
    start();
    open();
    const late = new Presence(socket, { space: "lobby", member: "me", clock });
    cleanups.push(() => late.detach());
    expect(late.phase).toBe("syncing");
    expect(sent().filter((m) => m.space === "lobby")).toHaveLength(1);
  });

  it("names the option in errors for bad configuration", () => {
    start();
    expect(() => new Presence(socket, { space: "a b" })).toThrow(/space/);
    expect(() => new Presence(socket, { space: "s", member: "" })).toThrow(/member/);
    expect(() => new Presence(socket, { space: "s", maxUpdatesPerSecond: 0 })).toThrow(RangeError);
    expect(() => new Presence(socket, { space: "s", maxHeldDiffs: 1.5 })).toThrow(/maxHeldDiffs/);
    expect(() => new Presence(socket, { space: "s", limits: { maxMessageBytes: -1 } })).toThrow(
      /limits.maxMessageBytes/,
    );
    expect(() => new Presence(socket, { space: "s", initial: { emoji: "" } })).toThrow(/emoji/);
  });
});
