/**
 * Presence clients and a hub on the virtual clock, under any interleaving of local changes, dropped
 * connections, server restarts that lose the roster, and time passing: once things settle, every client's
 * roster equals the hub's (less itself), the hub holds every client's own state, and every connection
 * carried exactly one sync up, answered by exactly one snapshot or catch-up as its first message down.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/index.js";
import { Presence } from "../../src/presence/index.js";
import { LoopbackNet } from "../helpers/presence-loop.js";

const CLIENTS = 4;

const op = fc.oneof(
  fc.record({
    kind: fc.constant("set" as const),
    who: fc.nat({ max: CLIENTS - 1 }),
    slice: fc.constantFrom("room", "emoji", "layout"),
    value: fc.nat({ max: 5 }),
  }),
  fc.record({ kind: fc.constant("clear" as const), who: fc.nat({ max: CLIENTS - 1 }) }),
  fc.record({ kind: fc.constant("drop" as const), who: fc.nat({ max: CLIENTS - 1 }) }),
  fc.record({ kind: fc.constant("restart" as const) }),
  fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
);

function sliceValue(slice: string, n: number): string | { x: number; y: number } {
  if (slice === "room") return `room-${n}`;
  if (slice === "emoji") return ["🙂", "☕", "🎉", "👋", "💤", "🔥"][n] ?? "🙂";
  return { x: n, y: 10 - n };
}

describe("presence properties", () => {
  it("converges to the hub's roster with one sync and one answer per connection", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 0, max: 2_000 }), (ops, graceMs) => {
        const clock = new VirtualClock(0);
        const net = new LoopbackNet(clock, { graceMs, batchMs: 20 });
        const clients = Array.from({ length: CLIENTS }, (_, i) => {
          const socket = net.socket(`c${i}`);
          const presence = new Presence(socket, {
            space: "s",
            member: `c${i}`,
            clock,
            maxUpdatesPerSecond: 5,
          });
          socket.connect();
          return { socket, presence };
        });
        for (const o of ops) {
          if (o.kind === "advance") clock.advance(o.ms);
          else if (o.kind === "restart") net.restart();
          else if (o.kind === "drop") net.of(`c${o.who}`).at(-1)?.drop();
          else {
            const { presence } = clients[o.who] as (typeof clients)[number];
            if (o.kind === "clear") presence.clear("emoji");
            else presence.set(o.slice as "room", sliceValue(o.slice, o.value) as string);
          }
        }
        // Long enough for every backoff, grace period and coalescing timer to have run.
        for (let i = 0; i < 20; i++) clock.advance(10_000);
        const hubRoster = net.hub.roster("s");
        for (const { presence, socket } of clients) {
          expect(socket.state).toBe("open");
          expect(presence.phase).toBe("synced");
          expect(hubRoster.get(presence.member)).toEqual(presence.state);
          const others = [...hubRoster].filter(([id]) => id !== presence.member);
          expect(new Map([...presence.roster].map(([id, m]) => [id, m.state]))).toEqual(new Map(others));
          expect(presence.stats().resyncs).toBe(0);
        }
        // A link dropped while its sync was in flight carried nothing down.
        for (const link of net.links.filter((l) => l.down.length > 0)) {
          expect(link.up.filter((text) => text.startsWith('{"$presence":"sync"'))).toHaveLength(1);
          expect(link.up[0]?.startsWith('{"$presence":"sync"')).toBe(true);
          const first = link.down[0] ?? "";
          expect(/^\{"\$presence":"(snapshot|catchup)"/.test(first)).toBe(true);
          expect(link.down.filter((t) => /^\{"\$presence":"(snapshot|catchup)"/.test(t))).toHaveLength(1);
        }
        for (const { presence, socket } of clients) {
          presence.detach();
          void socket.close();
        }
        // The net delivers the closes; then the hub holds only grace timers, which close() clears.
        clock.advance(net.latencyMs);
        net.hub.close();
        expect(clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});
