/**
 * The Deduplicator under attack: one owner's traffic cannot push out another owner's sessions (which would
 * make a resend take effect twice), and one connection cannot hold unbounded work pending.
 */
import { describe, expect, it } from "vitest";
import { type DedupeReceiver, Deduplicator, memoryDedupeStore } from "../../src/server/index.js";

const envelope = (seq: number, data: unknown = seq, sid = "s1") => ({ $rr: "msg", sid, seq, data });

/** A 64 KiB text envelope of session `sid`, built on the spot (the test keeps no reference to it). */
const bigText = (sid: string) => JSON.stringify({ $rr: "msg", sid, seq: 1, data: "x".repeat(64 * 1024) });

describe("Deduplicator sessions per owner", () => {
  it("never lets 100,000 one-message sessions of one owner push out another's: the victim's resend is a duplicate", async () => {
    const store = memoryDedupeStore();
    const dedupe = new Deduplicator({ store });
    const applied: unknown[] = [];
    await dedupe.connection("alice").receive(envelope(1, "pay $10", "cart"), (data) => applied.push(data));
    const mallory = dedupe.connection("mallory");
    for (let i = 0; i < 100_000; i++) await mallory.receive(envelope(1, i, `s${i}`), () => {});
    // Measured bound: the attacker holds its own quota (1,000), the victim keeps its one session.
    expect(store.size).toBe(1_001);
    const resend = await dedupe.connection("alice").receive(envelope(1, "pay $10", "cart"), (data) => {
      applied.push(data);
    });
    expect(resend.status).toBe("duplicate");
    expect(applied).toEqual(["pay $10"]);
  });

  it("forgets an owner's own least recently used session once it passes its quota", () => {
    const store = memoryDedupeStore(100, { maxSessionsPerOwner: 2 });
    store.set("a", 1, "mallory");
    store.set("b", 1, "mallory");
    store.get("a", "mallory");
    store.set("c", 1, "mallory");
    expect([store.get("a", "mallory"), store.get("b", "mallory"), store.get("c", "mallory")]).toEqual([
      1,
      undefined,
      1,
    ]);
  });

  it("takes room in a full store from the owner holding the most, never from one holding fewer", () => {
    const store = memoryDedupeStore(10, { maxSessionsPerOwner: 8 });
    store.set("a1", 1, "alice");
    store.set("a2", 1, "alice");
    for (let i = 0; i < 8; i++) store.set(`b${i}`, 1, "bob");
    for (let i = 0; i < 5; i++) store.set(`c${i}`, 1, "carol");
    expect(store.size).toBe(10);
    expect([store.get("a1", "alice"), store.get("a2", "alice")]).toEqual([1, 1]);
    // Bob, the largest, gave up his oldest five; then the owners were level and carol paid for herself.
    expect(store.get("b0", "bob")).toBeUndefined();
    expect(store.get("b7", "bob")).toBe(1);
  });

  it("keeps sessions of connections without an owner under the total only, as before owners existed", () => {
    const store = memoryDedupeStore(3_000);
    for (let i = 0; i < 2_500; i++) store.set(`s${i}`, 1);
    expect(store.size).toBe(2_500);
    expect(store.get("s0")).toBe(1);
  });

  it("refuses a bad per-owner quota naming it", () => {
    expect(() => memoryDedupeStore(10, { maxSessionsPerOwner: 0 })).toThrow(
      /maxSessionsPerOwner must be an integer >= 1; got 0/,
    );
    expect(() => new Deduplicator({ maxSessionsPerOwner: 1.5 })).toThrow(/maxSessionsPerOwner/);
  });
});

describe("Deduplicator work pending per connection", () => {
  function gate() {
    let open = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    return { open, effect: () => opened };
  }

  /**
   * Sends `count` messages on `inbox`, a few per event-loop turn as a socket delivers them, to an effect
   * that waits behind a closed gate; returns how many messages (and bytes of their data) the connection
   * held waiting at the peak, and every status once the gate opened.
   */
  async function flood(inbox: DedupeReceiver, count: number, message: (i: number) => string | object) {
    let open = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    let held = 0;
    let heldBytes = 0;
    const effect = (data: unknown) => {
      held++;
      heldBytes += typeof data === "string" ? data.length : 0;
      return opened;
    };
    const results: Array<Promise<{ status: string }>> = [];
    for (let i = 0; i < count; i++) {
      results.push(inbox.receive(message(i), effect));
      if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    open();
    const statuses = (await Promise.all(results)).map((r) => r.status);
    return { held, heldBytes, statuses };
  }

  it("holds at most 8 MiB of one connection's messages while effects wait: 5,000 sessions × 64 KiB", async () => {
    const { held, heldBytes, statuses } = await flood(new Deduplicator().connection("mallory"), 5_000, (i) =>
      bigText(`s${i}`),
    );
    // Measured bound: at most 127 messages of 64 KiB waited (8 MiB; those accepted in the same turn as the
    // first refused one fail before their effect); all others were answered at once.
    expect(held).toBeLessThanOrEqual(Math.floor((8 * 1024 * 1024) / bigText("s0").length));
    expect(held).toBeGreaterThan(100);
    expect(heldBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    // Past the bound the connection is failed (cumulative acks: nothing after it is acknowledged; close it).
    expect(statuses.filter((status) => status === "processed")).toHaveLength(held);
    expect(statuses.filter((status) => status === "failed")).toHaveLength(5_000 - held);
  });

  it("holds at most maxPendingPerConnection messages of one connection across its sessions", async () => {
    const dedupe = new Deduplicator({ maxPendingPerConnection: 50 });
    const { held, statuses } = await flood(dedupe.connection(), 1_000, (i) => envelope(1, i, `s${i}`));
    expect(held).toBeLessThanOrEqual(50);
    expect(held).toBeGreaterThan(40);
    expect(statuses.filter((status) => status === "failed")).toHaveLength(1_000 - held);
  });

  it("answers the first message past the bound as failed, naming the option", async () => {
    const dedupe = new Deduplicator({ maxPendingPerConnection: 1 });
    const inbox = dedupe.connection();
    const { open, effect } = gate();
    const first = inbox.receive(envelope(1, 1, "a"), effect);
    const second = await inbox.receive(envelope(1, 1, "b"), effect);
    expect(second).toMatchObject({ status: "failed" });
    expect((second as { error: Error }).error.message).toMatch(/maxPendingPerConnection/);
    open();
    await first;
  });

  it("lets another connection work while one is at its bound", async () => {
    const dedupe = new Deduplicator({ maxPendingPerConnection: 10 });
    const hostile = dedupe.connection("mallory");
    const { open, effect } = gate();
    const held = Array.from({ length: 100 }, (_, i) => hostile.receive(envelope(1, i, `s${i}`), effect));
    const applied: unknown[] = [];
    const honest = await dedupe
      .connection("alice")
      .receive(envelope(1, "hello"), (data) => applied.push(data));
    expect(honest.status).toBe("processed");
    expect(applied).toEqual(["hello"]);
    open();
    await Promise.all(held);
  });

  it("frees a connection's budget as its messages finish", async () => {
    const dedupe = new Deduplicator({ maxPendingPerConnection: 2 });
    const inbox = dedupe.connection();
    for (let seq = 1; seq <= 20; seq++) {
      expect((await inbox.receive(envelope(seq), () => {})).status).toBe("processed");
    }
  });

  it("refuses bad per-connection bounds naming them", () => {
    expect(() => new Deduplicator({ maxPendingPerConnection: 0 })).toThrow(/maxPendingPerConnection/);
    expect(() => new Deduplicator({ maxPendingBytesPerConnection: -1 })).toThrow(
      /maxPendingBytesPerConnection must be an integer >= 1; got -1/,
    );
  });
});
