/**
 * A hostile presence server against the real `Presence` client (issue 10): a real `ws` server on 127.0.0.1
 * answers the client's sync with whatever it likes. The roster stays within its documented bounds, and no
 * text slice takes bidi controls, line/paragraph separators or lone surrogates.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { until } from "../../bench/attack/servers.js";
import { decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { encodePresence } from "../../src/internals.js";
import { defineSlice, Presence, type PresenceOptions, type StateRecord } from "../../src/presence/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

/** A server that runs `script` with a `send` for every connection once the client's sync arrives. */
async function hostileServer(
  script: (send: (text: string) => void) => void | Promise<void>,
): Promise<string> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, maxPayload: 64 * 1_024 });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    ws.once("message", () => void script((text) => ws.send(text)));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;
}

const note = defineSlice("note", { validate: (v): v is string => typeof v === "string", maxBytes: 512 });

function client(url: string, options: Partial<PresenceOptions<readonly [typeof note]>> = {}) {
  const socket = new ResilientSocket({
    transport: webSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
    circuitBreaker: false,
  });
  cleanups.push(() => socket.close());
  return new Presence(socket, { space: "office", member: "me", slices: [note] as const, ...options });
}

const joins = (from: number, count: number, state: StateRecord) =>
  Array.from({ length: count }, (_, i) => ({ op: "join" as const, id: `m${from + i}`, state }));

describe("Presence against a hostile server", () => {
  it("keeps at most maxMembers (default 10,000) however many joins the server sends: 500,000 sent", async () => {
    const per = 20_000;
    const url = await hostileServer(async (send) => {
      send(encodePresence({ type: "snapshot", space: "office", epoch: "e", rev: 0, members: [] }));
      for (let k = 0; k < 25; k++) {
        const from = k * per;
        send(
          encodePresence({
            type: "diff",
            space: "office",
            epoch: "e",
            from,
            rev: from + per,
            changes: joins(from, per, {}),
          }),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const presence = client(url);
    await until("the client to read all 25 diffs", () => presence.revision.rev === 500_000, 15_000);
    expect(presence.roster.size).toBe(10_000);
    expect(presence.stats().overflow).toBe(490_000);
  }, 30_000);

  it("keeps the roster's state within maxRosterBytes", async () => {
    const big = { note: "x".repeat(400) };
    const url = await hostileServer((send) => {
      send(encodePresence({ type: "snapshot", space: "office", epoch: "e", rev: 0, members: [] }));
      send(
        encodePresence({
          type: "diff",
          space: "office",
          epoch: "e",
          from: 0,
          rev: 1_000,
          changes: joins(0, 1_000, big),
        }),
      );
    });
    const presence = client(url, { maxRosterBytes: 50_000 });
    await until("the diff to be applied", () => presence.revision.rev === 1_000);
    let bytes = 0;
    for (const [id, member] of presence.roster) bytes += id.length + JSON.stringify(member.state).length;
    expect(bytes).toBeLessThanOrEqual(50_000);
    expect(presence.roster.size).toBeGreaterThan(100);
    expect(presence.stats().overflow).toBe(1_000 - presence.roster.size);
  });

  it("drops emoji and text slices with bidi controls, U+2028/2029 or lone surrogates, keeping the rest", async () => {
    const hostile = [
      "\u202Eevil",
      "a\u2066b",
      "\u200F",
      "\u061C",
      "line\u2028break",
      "\u2029",
      "\uD800",
      "x\uDC00",
    ];
    const url = await hostileServer((send) => {
      const members = hostile.flatMap((text, i) => [
        { id: `e${i}`, state: { emoji: text, room: "r" } },
        { id: `n${i}`, state: { note: text, room: "r" } },
      ]);
      members.push({ id: "ok", state: { emoji: "👩‍💻", room: "r", note: "שלום and مرحبا" } } as never);
      send(encodePresence({ type: "snapshot", space: "office", epoch: "e", rev: 1, members }));
    });
    const presence = client(url);
    await until("the snapshot to be applied", () => presence.roster.size === hostile.length * 2 + 1);
    for (const [id, member] of presence.roster) {
      if (id === "ok") expect(member.state).toEqual({ emoji: "👩‍💻", room: "r", note: "שלום and مرحبا" });
      else expect(member.state).toEqual({ room: "r" });
    }
    expect(presence.stats().inbound.skipped["invalid-slice"]).toBe(hostile.length * 2);
  });
});
