/**
 * The presence hub under attack (issue 10), on real `ws` and Socket.IO servers on 127.0.0.1: a connection
 * that stops reading and repeats `sync`, a member flooding updates, and grace-period churn. Each test
 * measures what the attack costs the server and asserts a bound on it.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type AttackServer,
  type Kind,
  RawPresenceClient,
  type Revision,
  startAttackServer,
  stateOf,
  until,
  userOf,
} from "../../bench/attack/servers.js";
import { defineSlice, type StateRecord } from "../../src/presence/index.js";
import {
  PRESENCE_CLOSE,
  type PresenceConnection,
  type PresenceHub,
} from "../../src/server/presence/index.js";

const note = defineSlice("note", { validate: (v): v is string => typeof v === "string", maxBytes: 256 });
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

async function start(
  kind: Kind,
  options: Parameters<typeof startAttackServer>[1] = {},
): Promise<AttackServer> {
  const server = await startAttackServer(kind, { slices: [note], batchMs: 10, ...options });
  cleanups.push(() => server.stop());
  return server;
}

async function connect(server: AttackServer, user?: string): Promise<RawPresenceClient> {
  const client = await RawPresenceClient.connect(server, user);
  cleanups.push(() => client.close());
  return client;
}

/** `members` members in `space` held by in-process connections, then `changes` updates among them. */
function fill(hub: PresenceHub, members: number, changes: number, space = "office"): void {
  const sinks: PresenceConnection[] = [];
  for (let i = 0; i < members; i++) {
    const sink: PresenceConnection = { id: `sink-${i}`, send: () => {} };
    sinks.push(sink);
    const state: StateRecord = stateOf(i);
    hub.receive(
      sink,
      JSON.stringify({ $presence: "sync", v: 1, space, member: `m${i}`, epoch: null, rev: null, state }),
    );
  }
  for (let k = 0; k < changes; k++) {
    const sink = sinks[k % members] as PresenceConnection;
    hub.receive(sink, JSON.stringify({ $presence: "update", space, state: { layout: { x: k, y: k } } }));
    // A new batch per round of updates, so each is its own change (merging would fold them together).
    if ((k + 1) % members === 0) hub.receive(sink, "{}");
  }
}

describe.each(["ws", "socket.io"] as const)("presence hub under attack over %s", (kind) => {
  it("holds at most highWaterBytes plus one answer for a connection that stops reading and repeats sync, then cuts it", async () => {
    const highWaterBytes = 64 * 1_024;
    const maxBehindMs = 400;
    const server = await start(kind, {
      maxMessagesPerSecond: 1e6,
      messageBurst: 1e6,
      highWaterBytes,
      maxBehindMs,
    });
    fill(server.hub, 1_000, 0);
    const attacker = await connect(server);
    attacker.sync("office", "mallory");
    const first = await attacker.next((m) => m.$presence === "snapshot");
    const answerBytes = JSON.stringify(first).length;
    const old: Revision = { epoch: first.epoch as string, rev: first.rev as number };
    attacker.pause();
    const side = server.sockets[0];
    if (side === undefined) throw new Error("no server-side socket");
    let held = 0;
    let syncs = 0;
    // Syncs of ~100 bytes, each asking for the whole roster again (~150 KB per answer), until the kernel's
    // buffers are full, the hub stops writing, and at last cuts the connection.
    const deadline = Date.now() + 20_000;
    while (server.hub.stats().cut.slow === 0 && Date.now() < deadline) {
      for (let i = 0; i < 20; i++) attacker.sync("office", "mallory", {}, old);
      syncs += 20;
      await new Promise((resolve) => setTimeout(resolve, 5));
      held = Math.max(held, side.buffered());
    }
    expect(server.hub.stats().cut.slow).toBe(1);
    expect(syncs).toBeGreaterThan(100);
    expect(held).toBeLessThanOrEqual(highWaterBytes + 2 * answerBytes);
    expect(server.hub.stats().coalesced).toBeGreaterThan(0);
    await until("the server to let go of the attacker's socket", () => side.closed(), 5_000);
  }, 40_000);

  it("answers repeated syncs of one connection at most once per batch", async () => {
    const server = await start(kind, {
      maxMessagesPerSecond: 1_000_000,
      messageBurst: 1_000_000,
      batchMs: 200,
    });
    fill(server.hub, 50, 0);
    const client = await connect(server);
    client.sync("office", "mallory");
    await client.next((m) => m.$presence === "snapshot");
    const before = client.received.length;
    for (let i = 0; i < 200; i++) client.sync("office", "mallory", {}, { epoch: "x", rev: 1 });
    await client.next((m) => m.$presence === "snapshot" && client.received.length > before + 0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    // The 200 syncs landed within one or two batches: at most one answer each.
    expect(client.received.length - before).toBeLessThanOrEqual(3);
  });

  it("drops an update flood unread past the rate and cuts the flooder with close 4008; a watcher gets one diff per batch", async () => {
    const server = await start(kind);
    const watcher = await connect(server);
    watcher.sync("office", "watcher");
    await watcher.next((m) => m.$presence === "snapshot");
    const flooder = await connect(server);
    flooder.sync("office", "flood");
    await watcher.next((m) => m.$presence === "diff");
    const startedAt = Date.now();
    const diffsBefore = watcher.received.length;
    for (let i = 0; i < 20_000 && !flooder.isClosed(); i++) {
      flooder.update("office", { layout: { x: i, y: i } });
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const code = await flooder.closed(5_000);
    const elapsed = Date.now() - startedAt;
    if (kind === "ws") expect(code).toBe(PRESENCE_CLOSE.flood);
    const stats = server.hub.stats();
    expect(stats.cut.flood).toBe(1);
    expect(stats.limited).toBeGreaterThanOrEqual(500);
    // At most the burst was accepted, merged into at most one change per 10 ms batch.
    expect(stats.inbound.accepted).toBeLessThanOrEqual(2 + 100 + elapsed * 0.05 + 2);
    expect(watcher.received.length - diffsBefore).toBeLessThanOrEqual(elapsed / 10 + 3);
  });

  it("merges one member's updates within a batch into one change", async () => {
    const server = await start(kind, {
      maxMessagesPerSecond: 1_000_000,
      messageBurst: 1_000_000,
      batchMs: 100,
    });
    const watcher = await connect(server);
    watcher.sync("office", "watcher");
    await watcher.next((m) => m.$presence === "snapshot");
    const busy = await connect(server);
    busy.sync("office", "busy");
    await watcher.next((m) => m.$presence === "diff");
    for (let i = 1; i <= 500; i++) busy.update("office", { layout: { x: i, y: 0 } });
    const last = await watcher.next((m) => m.$presence === "diff" && JSON.stringify(m).includes('"x":500'));
    const diffs = watcher.received.filter((t) => t.includes('"busy"')).length;
    expect(diffs).toBeLessThanOrEqual(4);
    expect((last.changes as unknown[]).length).toBe(1);
  });

  it("keeps seats bounded under grace-period churn: one identity holds at most maxSeatsPerIdentity, and others still join", async () => {
    const server = await start(kind, {
      authorize: (connection) => {
        const user = userOf(connection.request);
        return user === undefined ? false : { member: user };
      },
    });
    for (let round = 0; round < 10; round++) {
      const churner = await RawPresenceClient.connect(server, "mallory");
      for (let s = 0; s < 16; s++) churner.sync(`space-${round}-${s}`, "mallory");
      await churner.next((m) => m.$presence === "snapshot" && m.space === `space-${round}-15`);
      churner.close();
      await until("the hub to see the churner go", () => server.hub.stats().connections === 0);
    }
    const stats = server.hub.stats();
    expect(stats.seats).toBeLessThanOrEqual(64);
    expect(stats.spaces).toBeLessThanOrEqual(64);
    expect(stats.evicted).toBe(160 - 64);
    const alice = await connect(server, "alice");
    alice.sync("office", "alice");
    await alice.next((m) => m.$presence === "snapshot");
  });

  it("keeps the whole hub at maxSeats under churn without authorize, evicting the longest-away seats", async () => {
    const server = await start(kind, { maxSeats: 100 });
    for (let round = 0; round < 10; round++) {
      const churner = await RawPresenceClient.connect(server);
      for (let s = 0; s < 16; s++) churner.sync(`space-${s}`, `m-${round}`);
      await churner.next((m) => m.$presence === "snapshot" && m.space === "space-15");
      churner.close();
      await until("the hub to see the churner go", () => server.hub.stats().connections === 0);
    }
    expect(server.hub.stats().seats).toBeLessThanOrEqual(100);
    expect(server.hub.stats().away).toBeLessThanOrEqual(100);
    const honest = await connect(server);
    honest.sync("office", "alice");
    await honest.next((m) => m.$presence === "snapshot");
  });
});
