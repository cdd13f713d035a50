import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/index.js";
import { encodePresence, hasUnsafeText, SliceRegistry } from "../../src/internals.js";
import { emojiSlice, type StateRecord } from "../../src/presence/index.js";
import {
  HUB_DEFAULTS,
  PRESENCE_CLOSE,
  type PresenceConnection,
  PresenceHub,
  type PresenceHubOptions,
} from "../../src/server/presence/index.js";

interface Conn extends PresenceConnection {
  readonly got: Record<string, unknown>[];
  closedWith: number | undefined;
  bytes: number;
}

let seq = 0;
function connection(request?: unknown): Conn {
  const got: Record<string, unknown>[] = [];
  const c: Conn = {
    id: `c${++seq}`,
    request,
    got,
    closedWith: undefined,
    bytes: 0,
    send: (text) => got.push(JSON.parse(text) as Record<string, unknown>),
    buffered: () => c.bytes,
    close: (code) => {
      c.closedWith = code;
    },
  };
  return c;
}

function setup(options: PresenceHubOptions = {}) {
  const clock = new VirtualClock(0);
  const hub = new PresenceHub({ clock, batchMs: 20, graceMs: 5_000, ...options });
  const sync = (c: PresenceConnection, member: string, space = "office", state: StateRecord = {}) =>
    hub.receive(c, encodePresence({ type: "sync", v: 1, space, member, epoch: null, rev: null, state }));
  const update = (c: PresenceConnection, state: StateRecord, space = "office") =>
    hub.receive(c, encodePresence({ type: "update", space, state }));
  return { hub, clock, sync, update };
}

describe("PresenceHub limits", () => {
  it("drops messages over maxMessagesPerSecond unread, refills with time, and cuts after cutAfterExcess in a row", () => {
    const { hub, clock, sync, update } = setup({
      maxMessagesPerSecond: 10,
      messageBurst: 5,
      cutAfterExcess: 20,
    });
    const c = connection();
    sync(c, "ann");
    for (let i = 0; i < 10; i++) update(c, { emoji: String(i) });
    expect(hub.stats().limited).toBe(6);
    expect(hub.stats().inbound.received).toBe(5);
    clock.advance(1_000);
    update(c, { emoji: "ok" });
    clock.advance(20);
    expect(hub.roster("office").get("ann")).toEqual({ emoji: "ok" });
    for (let i = 0; i < 30; i++) update(c, { emoji: "x" });
    expect(c.closedWith).toBe(PRESENCE_CLOSE.flood);
    expect(hub.stats().cut.flood).toBe(1);
    expect(hub.stats().away).toBe(1);
  });

  it("sends nothing to a connection over highWaterBytes, then one snapshot once it drains", () => {
    const { hub, clock, sync, update } = setup();
    expect(hub.stats().coalesced).toBe(0);
    const slow = connection();
    const other = connection();
    sync(slow, "slow");
    sync(other, "bob");
    clock.advance(20);
    const before = slow.got.length;
    slow.bytes = HUB_DEFAULTS.highWaterBytes + 1;
    for (let i = 0; i < 20; i++) {
      update(other, { emoji: String(i) });
      clock.advance(20);
    }
    expect(slow.got.length).toBe(before);
    expect(hub.stats().coalesced).toBeGreaterThan(0);
    slow.bytes = 0;
    clock.advance(20);
    expect(slow.got.slice(before)).toEqual([
      expect.objectContaining({
        $presence: "snapshot",
        members: expect.arrayContaining([{ id: "bob", state: { emoji: "19" } }]),
      }),
    ]);
  });

  it("cuts a connection behind for maxBehindMs with close 4009; its member gets the grace period", () => {
    const { hub, clock, sync } = setup({ maxBehindMs: 1_000 });
    const slow = connection();
    sync(slow, "slow");
    clock.advance(20);
    slow.bytes = 10_000_000;
    sync(connection(), "bob");
    clock.advance(1_100);
    expect(slow.closedWith).toBe(PRESENCE_CLOSE.slow);
    expect(hub.stats().cut.slow).toBe(1);
    expect(hub.roster("office").has("slow")).toBe(true);
    clock.advance(5_000);
    expect(hub.roster("office").has("slow")).toBe(false);
  });

  it("counts grace seats against maxSeatsPerIdentity: the identity's longest-away seat leaves first", () => {
    const { hub, clock, sync } = setup({ maxSeatsPerIdentity: 3, authorize: () => ({ member: "eve" }) });
    for (let i = 0; i < 5; i++) {
      const c = connection();
      sync(c, "eve", `s${i}`);
      hub.disconnect(c);
      clock.advance(20);
    }
    expect(hub.stats()).toMatchObject({ seats: 3, away: 3, evicted: 2, spaces: 3 });
    const live = connection();
    for (let i = 0; i < 3; i++) sync(live, "eve", `t${i}`);
    const c = connection();
    sync(c, "eve", "t3");
    expect(c.got.at(-1)).toEqual({ $presence: "refused", space: "t3", reason: "too-many-seats" });
  });

  it("refuses a new space past maxSpaces and a new seat past maxSeats when no seat is away", () => {
    const { sync } = setup({ maxSpaces: 2, maxSeats: 3 });
    const c = connection();
    sync(c, "a", "s1");
    sync(c, "a", "s2");
    sync(c, "a", "s3");
    expect(c.got.at(-1)).toEqual({ $presence: "refused", space: "s3", reason: "hub-full" });
    sync(connection(), "b", "s1");
    const d = connection();
    sync(d, "d", "s1");
    expect(d.got.at(-1)).toEqual({ $presence: "refused", space: "s1", reason: "hub-full" });
  });

  it("refuses when authorize throws, returns a grant for another member, or a space it does not list", () => {
    const { hub, sync } = setup({
      authorize: (connection) => {
        if (connection.request === "boom") throw new Error("session store down");
        return { member: String(connection.request), spaces: ["office"] };
      },
    });
    const reasons = (c: Conn) => c.got.map((m) => m.reason);
    const boom = connection("boom");
    sync(boom, "boom");
    const mallory = connection("mallory");
    sync(mallory, "alice");
    sync(mallory, "mallory", "secret");
    expect(reasons(boom)).toEqual(["unauthorized"]);
    expect(reasons(mallory)).toEqual(["member-not-owned", "unauthorized"]);
    expect(hub.stats().refused).toBe(3);
  });

  it("names the option in every RangeError", () => {
    for (const name of [
      "highWaterBytes",
      "maxBehindMs",
      "maxMessagesPerSecond",
      "messageBurst",
      "cutAfterExcess",
      "maxSeats",
      "maxSpaces",
      "maxSeatsPerIdentity",
    ]) {
      expect(() => new PresenceHub({ [name]: -1 })).toThrow(new RegExp(name));
    }
  });
});

describe("text slices", () => {
  const bad = ["\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069"];
  bad.push("\u200E", "\u200F", "\u061C", "\u2028", "\u2029", "\uD83D", "\uDE00", "a\uDE00\uD83D");

  it("refuses every bidi control, separator and lone surrogate in emoji, and in any slice's strings and keys", () => {
    const registry = new SliceRegistry();
    for (const text of bad) {
      expect(emojiSlice.validate(`x${text}`)).toBe(false);
      expect(hasUnsafeText({ deep: [`ok ${text}`] })).toBe(true);
      expect(hasUnsafeText({ [`k${text}`]: 1 })).toBe(true);
      expect(registry.check("emoji", text)).toBe("invalid-slice");
    }
  });

  it("keeps emoji with ZWJ sequences, skin tones and flags, and right-to-left text", () => {
    for (const text of ["👩‍💻", "👍🏽", "🇫🇷", "😀", "שלום", "مرحبا"]) {
      expect(emojiSlice.validate(text)).toBe(true);
      expect(hasUnsafeText(text)).toBe(false);
    }
  });
});
