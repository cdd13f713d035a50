import { afterEach, describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/index.js";
import { encodePresence } from "../../src/internals.js";
import { defineSlice, type StateRecord } from "../../src/presence/index.js";
import {
  InMemoryRosterStore,
  type PresenceConnection,
  PresenceHub,
  type PresenceHubOptions,
} from "../../src/server/presence/index.js";

interface FakeConnection extends PresenceConnection {
  readonly got: Record<string, unknown>[];
}

let clock: VirtualClock;
let seq = 0;
const hubs: PresenceHub[] = [];

afterEach(() => {
  for (const hub of hubs.splice(0)) hub.close();
  delete (Object.prototype as Record<string, unknown>).polluted;
});

function hub(options: PresenceHubOptions = {}): PresenceHub {
  clock = new VirtualClock(0);
  const h = new PresenceHub({ clock, random: () => 0.25, graceMs: 5_000, batchMs: 20, ...options });
  hubs.push(h);
  return h;
}

function connection(): FakeConnection {
  const got: Record<string, unknown>[] = [];
  return { id: `c${++seq}`, got, send: (text) => got.push(JSON.parse(text) as Record<string, unknown>) };
}

function sync(
  h: PresenceHub,
  c: PresenceConnection,
  member: string,
  state: StateRecord = {},
  at: { epoch: string | null; rev: number | null } = { epoch: null, rev: null },
  space = "office",
): Record<string, unknown> | undefined {
  const { epoch, rev } = at;
  const got = (c as FakeConnection).got;
  const before = got.length;
  h.receive(c, encodePresence({ type: "sync", v: 1, space, member, epoch, rev, state }));
  // A snapshot answer may wait for the batch (one snapshot encoding per space per batch).
  if (got.length === before) clock.advance(20);
  return got.at(-1);
}

const update = (h: PresenceHub, c: PresenceConnection, state: StateRecord, space = "office") =>
  h.receive(c, encodePresence({ type: "update", space, state }));

describe("PresenceHub answers", () => {
  it("answers a first sync with one snapshot that includes the member", () => {
    const h = hub();
    const c = connection();
    const answer = sync(h, c, "ann", { room: "r1" });
    expect(c.got).toHaveLength(1);
    expect(answer).toEqual({
      $presence: "snapshot",
      space: "office",
      epoch: expect.any(String),
      rev: 1,
      members: [{ id: "ann", state: { room: "r1" } }],
    });
  });

  it("answers a reconnect with a catch-up diff since the revision the client had", () => {
    const h = hub();
    const a = connection();
    const first = sync(h, a, "ann") as { epoch: string; rev: number };
    const b = connection();
    sync(h, b, "bob", { emoji: "x" });
    clock.advance(20);
    update(h, b, { emoji: "y" });
    clock.advance(20);
    h.disconnect(a);
    const a2 = connection();
    const answer = sync(h, a2, "ann", {}, first);
    expect(answer).toEqual({
      $presence: "catchup",
      space: "office",
      epoch: first.epoch,
      from: 1,
      rev: 3,
      changes: [
        { op: "join", id: "bob", state: { emoji: "x" } },
        { op: "update", id: "bob", state: { emoji: "y" } },
      ],
    });
    expect(a2.got).toHaveLength(1);
  });

  it("answers with a snapshot once the client's revision has fallen out of the diff log", () => {
    const h = hub({ store: new InMemoryRosterStore({ maxLogEntries: 4 }) });
    const a = connection();
    const first = sync(h, a, "ann") as { epoch: string; rev: number };
    h.disconnect(a);
    const b = connection();
    sync(h, b, "bob");
    for (let i = 0; i < 6; i++) {
      update(h, b, { emoji: String(i) });
      clock.advance(20);
    }
    expect(sync(h, connection(), "ann", {}, first)).toMatchObject({ $presence: "snapshot", rev: 8 });
  });

  it("answers with a snapshot when the client's epoch is not the roster's (a restarted server)", () => {
    const h = hub();
    sync(h, connection(), "bob");
    const answer = sync(h, connection(), "ann", { room: "r" }, { epoch: "old-epoch", rev: 1 });
    expect(answer).toMatchObject({
      $presence: "snapshot",
      members: [{ id: "bob" }, { id: "ann", state: { room: "r" } }],
    });
  });

  it("encodes at most one snapshot per space per batch: later syncs of the batch share the next one", () => {
    const h = hub();
    const [a, b, c] = [connection(), connection(), connection()];
    for (const [conn, member] of [
      [a, "ann"],
      [b, "bob"],
      [c, "cy"],
    ] as const) {
      h.receive(
        conn,
        encodePresence({ type: "sync", v: 1, space: "office", member, epoch: null, rev: null, state: {} }),
      );
    }
    expect([a.got.length, b.got.length, c.got.length]).toEqual([1, 0, 0]);
    clock.advance(20);
    expect(b.got).toEqual(c.got);
    expect(b.got).toEqual([expect.objectContaining({ $presence: "snapshot", rev: 3 })]);
    expect(a.got.at(-1)).toMatchObject({ $presence: "diff", from: 0, rev: 3 });
    expect(h.stats().answers.snapshot).toBe(3);
  });

  it("answers with a snapshot when a catch-up would be longer than the roster", () => {
    const h = hub();
    const a = connection();
    const first = sync(h, a, "ann") as { epoch: string; rev: number };
    for (let i = 0; i < 5; i++) {
      update(h, a, { emoji: String(i) });
      clock.advance(20);
    }
    expect(sync(h, connection(), "ann", {}, first)).toMatchObject({ $presence: "snapshot" });
  });
});

describe("PresenceHub broadcasts and grace period", () => {
  it("batches changes within a tick into one diff per member, one member's updates merged into one change", () => {
    const h = hub();
    const a = connection();
    sync(h, a, "ann");
    clock.advance(20);
    const b = connection();
    sync(h, b, "bob", { room: "r" });
    update(h, b, { emoji: "1" });
    update(h, b, { emoji: "2" });
    expect(a.got).toHaveLength(1);
    clock.advance(20);
    expect(a.got.slice(1)).toEqual([
      {
        $presence: "diff",
        space: "office",
        epoch: expect.any(String),
        from: 1,
        rev: 3,
        changes: [
          { op: "join", id: "bob", state: { room: "r" } },
          { op: "update", id: "bob", state: { emoji: "2" } },
        ],
      },
    ]);
    // ann's own join went out in the first batch to nobody (her answer covered it); bob gets the second.
    expect(h.stats().broadcasts).toEqual({ batches: 2, messages: 2 });
  });

  it("does not send a member a batch its sync answer already covered", () => {
    const h = hub();
    const a = connection();
    sync(h, a, "ann");
    clock.advance(100);
    expect(a.got).toHaveLength(1);
  });

  it("shows nothing to others when a member reconnects within the grace period", () => {
    const h = hub();
    const a = connection();
    sync(h, a, "ann");
    const b = connection();
    const first = sync(h, b, "bob", { room: "r" }) as { epoch: string; rev: number };
    clock.advance(100);
    const before = a.got.length;
    h.disconnect(b);
    clock.advance(4_000);
    sync(h, connection(), "bob", { room: "r" }, first);
    clock.advance(10_000);
    expect(a.got.length).toBe(before);
    expect(h.stats().away).toBe(0);
  });

  it("announces a member as leaving only after the grace period", () => {
    const h = hub();
    const a = connection();
    sync(h, a, "ann");
    const b = connection();
    sync(h, b, "bob");
    clock.advance(100);
    h.disconnect(b);
    clock.advance(4_999);
    expect(JSON.stringify(a.got)).not.toContain('"leave"');
    expect(h.roster("office").has("bob")).toBe(true);
    clock.advance(1 + 20);
    expect(a.got.at(-1)).toMatchObject({ changes: [{ op: "leave", id: "bob" }] });
    expect(h.roster("office").has("bob")).toBe(false);
  });

  it("turns a reconnect with a changed state inside the grace period into an update, not a leave and join", () => {
    const h = hub();
    const a = connection();
    sync(h, a, "ann");
    const b = connection();
    const first = sync(h, b, "bob", { room: "r", emoji: "x" }) as { epoch: string; rev: number };
    clock.advance(100);
    h.disconnect(b);
    sync(h, connection(), "bob", { room: "s" }, first);
    clock.advance(100);
    expect(a.got.at(-1)).toMatchObject({
      changes: [{ op: "update", id: "bob", state: { room: "s", emoji: null } }],
    });
  });

  it("lets 1,000 members reconnect inside the grace period with zero broadcasts to the others", () => {
    const h = hub({ graceMs: 30_000 });
    const watcher = connection();
    sync(h, watcher, "watcher");
    const heads = new Map<string, { epoch: string; rev: number }>();
    const conns = new Map<string, PresenceConnection>();
    for (let i = 0; i < 1_000; i++) {
      const c = connection();
      heads.set(`m${i}`, sync(h, c, `m${i}`, { room: "r", emoji: "🙂" }) as { epoch: string; rev: number });
      conns.set(`m${i}`, c);
    }
    clock.advance(100);
    const before = h.stats().broadcasts;
    const seen = watcher.got.length;
    for (const c of conns.values()) h.disconnect(c);
    clock.advance(10_000);
    for (const [member, head] of heads) sync(h, connection(), member, { room: "r", emoji: "🙂" }, head);
    clock.advance(60_000);
    expect(watcher.got.length).toBe(seen);
    expect(h.stats().broadcasts).toEqual(before);
    expect(h.roster("office").size).toBe(1_001);
  });

  it("sends a member only the spaces it is in", () => {
    const h = hub();
    const a = connection();
    sync(h, a, "ann", {}, { epoch: null, rev: null }, "lobby");
    const b = connection();
    sync(h, b, "bob", {}, { epoch: null, rev: null }, "office");
    update(h, b, { emoji: "1" }, "office");
    clock.advance(100);
    expect(a.got.map((m) => m.space)).toEqual(["lobby"]);
  });

  it("lets a second connection take over a member; the first is told and no longer receives that space", () => {
    const h = hub();
    const old = connection();
    sync(h, old, "ann");
    const fresh = connection();
    sync(h, fresh, "ann");
    const b = connection();
    sync(h, b, "bob");
    clock.advance(100);
    expect(old.got).toHaveLength(2);
    expect(old.got[1]).toEqual({ $presence: "displaced", space: "office" });
    expect(h.stats().displaced).toBe(1);
    expect(fresh.got.at(-1)).toMatchObject({ $presence: "diff" });
    h.disconnect(old);
    clock.advance(10_000);
    expect(h.roster("office").has("ann")).toBe(true);
  });

  it("removes a member at once on leave, and forgets an emptied space (a new epoch next time)", () => {
    const h = hub();
    const a = connection();
    const first = sync(h, a, "ann") as { epoch: string };
    h.receive(a, encodePresence({ type: "leave", space: "office" }));
    expect(h.stats().spaces).toBe(0);
    const again = sync(h, connection(), "ann") as { epoch: string };
    expect(again.epoch).not.toBe(first.epoch);
  });

  it("holds no timer after close", () => {
    const h = hub();
    const a = connection();
    sync(h, a, "ann");
    h.disconnect(a);
    expect(clock.pendingTimers()).toBeGreaterThan(0);
    h.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe("PresenceHub input", () => {
  it("returns false for the app's own messages and leaves them alone", () => {
    const h = hub();
    expect(h.receive(connection(), '{"type":"chat"}')).toBe(false);
    expect(h.receive(connection(), { $presence: "sync" })).toBe(false);
    expect(h.stats().inbound.received).toBe(0);
  });

  it("counts hostile input and drops it: no crash, no pollution, roster intact", () => {
    const free = defineSlice("free", { validate: (v): v is unknown => true });
    const h = hub({ slices: [free] });
    const a = connection();
    sync(h, a, "ann", { room: "r" });
    const hostile = [
      '{"$presence":"update","space":"office","state":{"__proto__":{"polluted":true}}}',
      '{"$presence":"update","space":"office","state":{"free":{"constructor":{"prototype":{"polluted":true}}}}}',
      '{"$presence":"sync","v":1,"space":"office","member":"__proto__","epoch":null,"rev":null,"state":{}}',
      '{"$presence":"update","space":"office","state":{"room":"r2","bogus":1}}',
      '{"$presence":"update"',
      `{"$presence":"update","space":"office","state":{"free":"${"x".repeat(70_000)}"}}`,
    ];
    for (const text of hostile) expect(() => h.receive(a, text)).not.toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect([...h.roster("office")]).toEqual([["ann", { room: "r2" }]]);
    expect(h.stats().inbound).toMatchObject({
      received: 7,
      accepted: 2,
      dropped: { "forbidden-key": 2, malformed: 2, "too-large": 1 },
      skipped: { "unknown-slice": 1 },
    });
  });

  it("counts updates from a connection that never synced, and changes nothing", () => {
    const h = hub();
    update(h, connection(), { room: "r" });
    expect(h.stats()).toMatchObject({ unbound: 1, spaces: 0 });
  });

  it("refuses a sync that authorize rejects, and one past maxSpacesPerConnection", () => {
    const h = hub({ authorize: (_c, { member }) => member !== "mallory", maxSpacesPerConnection: 1 });
    expect(sync(h, connection(), "mallory")).toEqual({
      $presence: "refused",
      space: "office",
      reason: "unauthorized",
    });
    const a = connection();
    sync(h, a, "ann");
    expect(sync(h, a, "ann", {}, { epoch: null, rev: null }, "lobby")).toMatchObject({
      reason: "too-many-spaces",
    });
    expect(h.stats().refused).toBe(2);
    expect(h.roster("office").has("mallory")).toBe(false);
  });

  it("names the option in errors for bad configuration", () => {
    expect(() => new PresenceHub({ graceMs: -1 })).toThrow(/graceMs/);
    expect(() => new PresenceHub({ batchMs: Number.NaN })).toThrow(/batchMs/);
    expect(() => new PresenceHub({ maxSpacesPerConnection: 0 })).toThrow(/maxSpacesPerConnection/);
    expect(() => new PresenceHub({ store: {} as never })).toThrow(TypeError);
    expect(() => new InMemoryRosterStore({ maxLogEntries: -1 })).toThrow(/maxLogEntries/);
  });
});

describe("InMemoryRosterStore", () => {
  it("raises the revision by one per change and keeps a bounded log", () => {
    const store = new InMemoryRosterStore({ maxLogEntries: 3, random: () => 0.5 });
    const { epoch } = store.head("s");
    for (let i = 0; i < 10; i++) expect(store.apply("s", { op: "join", id: `m${i}`, state: {} })).toBe(i + 1);
    expect(store.head("s")).toEqual({ epoch, rev: 10 });
    expect(store.changesSince("s", 7)?.map((c) => c.id)).toEqual(["m7", "m8", "m9"]);
    expect(store.changesSince("s", 6)).toBeUndefined();
    expect(store.changesSince("s", 10)).toEqual([]);
    expect(store.changesSince("s", 11)).toBeUndefined();
    store.drop("s");
    expect(store.head("s").epoch).not.toBe(epoch);
  });
});
