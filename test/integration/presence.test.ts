/**
 * Presence over real sockets: a PresenceHub behind a real `ws` server and a real Socket.IO server on
 * 127.0.0.1, real ResilientSocket clients. Messages are counted at the server, per connection.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { ResilientSocket } from "../../src/index.js";
import { encodePresence } from "../../src/internals.js";
import { type AnySlice, defineSlice, Presence } from "../../src/presence/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { HubServer, type Kind, next, presenceClient, quietFor, until } from "./presence-harness.js";

/** Longer than the hub's batch (10 ms here): time for a second message that must not come. */
const QUIET_MS = 150;

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

async function start(kind: Kind, slices: readonly AnySlice[] = []): Promise<HubServer> {
  const server = new HubServer(kind, { slices, graceMs: 10_000 });
  await server.listen();
  cleanups.push(() => server.stop());
  return server;
}

function client(server: HubServer, member: string, slices: readonly AnySlice[] = []) {
  const c = presenceClient(server, member, slices);
  cleanups.push(() => c.socket.close());
  return c;
}

const tenSlices = Array.from({ length: 10 }, (_, i) =>
  defineSlice(`custom${i}`, {
    validate: (v): v is { n: number; label: string } =>
      typeof v === "object" && v !== null && typeof (v as { n?: unknown }).n === "number",
  }),
);

describe.each(["ws", "socket.io"] as const)("presence over %s", (kind) => {
  for (const [label, slices] of [
    ["3 built-in slices", [] as readonly AnySlice[]],
    ["3 built-in and 10 custom slices", tenSlices],
  ] as const) {
    it(`restores ${label} with exactly 1 message up and 1 down per reconnect, and others see nothing`, async () => {
      const server = await start(kind, slices);
      const watcher = client(server, "watcher", slices);
      const ann = client(server, "ann", slices);
      ann.presence.set("room", "kitchen");
      ann.presence.set("emoji", "☕");
      ann.presence.set("layout", { x: 120, y: -40 });
      slices.forEach((slice, i) => {
        ann.presence.set(slice.name as "room", { n: i, label: `slice ${i}` } as never);
      });
      await Promise.all([next(watcher.presence, "sync"), next(ann.presence, "sync")]);
      await until(
        "the watcher to see ann",
        () => watcher.presence.roster.get("ann")?.state.room === "kitchen",
      );
      const watcherDown = server.connections[0]?.down.length;

      for (let reconnect = 1; reconnect <= 3; reconnect++) {
        const synced = next(ann.presence, "sync");
        server.connections.at(-1)?.drop();
        await synced;
        await quietFor(QUIET_MS);
        const link = server.connections.at(-1);
        expect(link?.up).toHaveLength(1);
        expect(link?.down).toHaveLength(1);
        expect(link?.up[0]).toMatch(/^\{"\$presence":"sync"/);
        expect(link?.down[0]).toMatch(/^\{"\$presence":"catchup"/);
        expect(JSON.parse(link?.up[0] ?? "{}").state).toEqual(ann.presence.state);
      }
      expect(Object.keys(ann.presence.state)).toHaveLength(3 + slices.length);
      expect(server.connections[0]?.down.length).toBe(watcherDown);
      expect(server.hub.stats().away).toBe(0);
    });
  }

  it("restores the whole roster after a restart that lost it: every client re-asserts in its one sync", async () => {
    const server = await start(kind);
    const names = ["ann", "bob", "cy"];
    const clients = names.map((name, i) => {
      const c = client(server, name);
      c.presence.set("room", `room-${i}`);
      c.presence.set("layout", { x: i, y: i * 10 });
      return c;
    });
    await Promise.all(clients.map((c) => next(c.presence, "sync")));
    const before = server.connections.length;

    const resynced = Promise.all(clients.map((c) => next(c.presence, "sync")));
    await server.restart();
    expect(server.hub.roster("office").size).toBe(0);
    await resynced;
    await until("every client to see the two others", () =>
      clients.every((c) => c.presence.roster.size === 2),
    );

    const roster = server.hub.roster("office");
    for (const [i, name] of names.entries())
      expect(roster.get(name)).toEqual({ room: `room-${i}`, layout: { x: i, y: i * 10 } });
    for (const c of clients) {
      for (const other of clients.filter((o) => o !== c)) {
        expect(c.presence.roster.get(other.presence.member)?.state).toEqual(other.presence.state);
      }
    }
    const fresh = server.connections.slice(before);
    expect(fresh).toHaveLength(3);
    for (const link of fresh) {
      expect(link.up).toHaveLength(1);
      expect(link.down[0]).toMatch(/^\{"\$presence":"snapshot"/);
    }
  });

  it("shares the socket with the app's own messages", async () => {
    const server = await start(kind);
    const ann = client(server, "ann");
    const appMessages: unknown[] = [];
    ann.socket.on("message", (data) => {
      if (typeof data !== "string" || !data.startsWith('{"$presence":')) appMessages.push(data);
    });
    await next(ann.presence, "sync");
    expect(ann.socket.send("hello app")).toBe("sent");
    await quietFor(QUIET_MS);
    expect(server.hub.stats().inbound).toMatchObject({ received: 1, accepted: 1 });
    expect(appMessages).toEqual([]);
  });
});

describe("presence sync race over ws", () => {
  it("holds a diff that arrives before the sync answer and applies it after, in order", async () => {
    // A server that, like a hub whose broadcast overtook its answer, sends a diff (revision 8 → 9) before
    // the snapshot at revision 8.
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    wss.on("connection", (ws: WebSocket) => {
      ws.on("error", () => {});
      ws.on("message", (data: RawData) => {
        if (!String(data).startsWith('{"$presence":"sync"')) return;
        const base = { space: "office", epoch: "e1" };
        ws.send(
          encodePresence({
            type: "diff",
            ...base,
            from: 8,
            rev: 9,
            changes: [{ op: "update", id: "bob", state: { emoji: "🎉" } }],
          }),
        );
        ws.send(
          encodePresence({
            type: "snapshot",
            ...base,
            rev: 8,
            members: [{ id: "bob", state: { room: "hall", emoji: "🙂" } }],
          }),
        );
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const ws of wss.clients) ws.terminate();
          http.close(() => resolve());
          http.closeAllConnections();
        }),
    );
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    const socket = new ResilientSocket({
      transport: webSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
      circuitBreaker: false,
    });
    cleanups.push(() => socket.close());
    const presence = new Presence(socket, { space: "office", member: "ann" });
    const seen: string[] = [];
    presence.on("join", (e) => seen.push(`join:${e.member.id}:${JSON.stringify(e.member.state)}`));
    presence.on("update", (e) => seen.push(`update:${e.member.id}:${e.slices.join("+")}`));
    const synced = await next(presence, "sync");
    expect(synced).toEqual({ full: true, epoch: "e1", revision: 9, members: 1 });
    expect(seen).toEqual(['join:bob:{"room":"hall","emoji":"🙂"}', "update:bob:emoji"]);
    expect(presence.roster.get("bob")?.state).toEqual({ room: "hall", emoji: "🎉" });
    expect(presence.stats().held).toBe(1);
  });
});
