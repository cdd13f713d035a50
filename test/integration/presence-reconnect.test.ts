/**
 * A reconnect storm inside the grace period over real sockets (the bench runs the same at 1,000 clients):
 * 200 real ResilientSocket + Presence clients on a real `ws` server with the hub; the server drops every
 * socket and they come back. The other members must see nothing; with no grace period they see the storm.
 */
import { describe, expect, it } from "vitest";
import { reconnectInsideGrace } from "../../bench/presence/reconnect.js";

const CLIENTS = 200;
const backoff = { baseMs: 50, capMs: 500 };

describe("a reconnect storm over real sockets", () => {
  it("gives the other members 0 join or leave broadcasts when 200 clients come back inside the grace period", async () => {
    const figure = await reconnectInsideGrace({ clients: CLIENTS, backoff, timeoutMs: 30_000 });
    expect(figure.reconnections).toBe(CLIENTS);
    expect(figure.joinLeaveEvents).toBe(0);
    expect(figure.joinLeaveBroadcast).toBe(0);
    expect(figure.diffMessages).toBe(0);
    expect(figure.upPerReconnect).toBe(1);
    expect(figure.answersPerReconnect).toBe(1);
  }, 60_000);

  it("shows every member leaving and joining again when there is no grace period (the counters do count)", async () => {
    const figure = await reconnectInsideGrace({ clients: CLIENTS, backoff, graceMs: 0, timeoutMs: 30_000 });
    expect(figure.reconnections).toBe(CLIENTS);
    expect(figure.joinLeaveBroadcast).toBeGreaterThan(0);
    expect(figure.joinLeaveEvents).toBeGreaterThan(0);
  }, 60_000);
});
