/**
 * Liveness at the presence hub over a real `ws` server on 127.0.0.1: silent connections are pinged (real
 * ping frames) and ended when nothing answers. Time is a VirtualClock shared by the liveness check (and a
 * second one by the hub's grace period), so "ended within interval + timeout" is exact, not a race with
 * the machine's load; frames are real and awaited as events.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type ClientOptions, WebSocket, WebSocketServer } from "ws";
import { type Clock, VirtualClock } from "../../src/env.js";
import { encodePresence, PROTOCOL_VERSION } from "../../src/internals.js";
import {
  attachPresenceToWs,
  PRESENCE_CLOSE_SILENT,
  PresenceHub,
  type PresenceLivenessOptions,
} from "../../src/server/presence/index.js";

const INTERVAL = 1_000;
const TIMEOUT = 500;
const GRACE = 2_000;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

/** A clock that counts the timers armed on it: the work the liveness check does. */
function countingClock(inner: VirtualClock): Clock & { armed: number } {
  const clock = {
    armed: 0,
    now: () => inner.now(),
    setTimeout: (callback: () => void, ms: number) => {
      clock.armed++;
      return inner.setTimeout(callback, ms);
    },
    clearTimeout: (handle: Parameters<Clock["clearTimeout"]>[0]) => inner.clearTimeout(handle),
  };
  return clock;
}

async function startHub(liveness: PresenceLivenessOptions) {
  const hubClock = new VirtualClock();
  const hub = new PresenceHub({ graceMs: GRACE, batchMs: 0, clock: hubClock });
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const serverSockets: WebSocket[] = [];
  wss.on("connection", (ws) => serverSockets.push(ws));
  const detach = attachPresenceToWs(hub, wss, liveness);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    detach();
    hub.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await new Promise((resolve) => http.close(resolve));
  });
  return { hub, hubClock, wss, url, serverSockets };
}

/** A raw client that syncs as `member`; resolves once the hub holds the member. */
async function join(
  { url, hub }: { url: string; hub: PresenceHub },
  member: string,
  options: ClientOptions = {},
) {
  const ws = new WebSocket(url, options);
  ws.on("error", () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, "open");
  ws.send(
    encodePresence({
      type: "sync",
      v: PROTOCOL_VERSION,
      space: "office",
      member,
      epoch: null,
      rev: null,
      state: {},
    }),
  );
  await until(() => hub.roster("office").has(member));
  return ws;
}

describe("liveness of raw ws connections at the presence hub", () => {
  it("ends a client that stops answering pings within interval + timeout, and its member leaves after grace", async () => {
    const clock = new VirtualClock();
    const hubServer = await startHub({
      pingIntervalMs: INTERVAL,
      pingTimeoutMs: TIMEOUT,
      clock,
    });
    const { hub, hubClock, serverSockets } = hubServer;
    const client = await join(hubServer, "sleeper", { autoPong: false });
    const [server] = serverSockets;
    expect(hub.roster("office").has("sleeper")).toBe(true);

    const pinged = once(client, "ping");
    clock.advance(INTERVAL - 1);
    expect(server?.readyState).toBe(WebSocket.OPEN);
    clock.advance(1);
    await pinged;
    clock.advance(TIMEOUT - 1);
    expect(server?.readyState).toBe(WebSocket.OPEN);
    const closed = once(client, "close");
    clock.advance(1);
    expect(server?.readyState).not.toBe(WebSocket.OPEN);
    const [code] = (await closed) as [number];
    // The close frame is written before the socket is destroyed; a peer that reads gets it.
    expect([PRESENCE_CLOSE_SILENT, 1006]).toContain(code);
    await until(() => hub.stats().connections === 0);

    // Its seat went to grace like any drop: present until the grace period ends, then gone.
    expect(hub.roster("office").has("sleeper")).toBe(true);
    hubClock.advance(GRACE - 1);
    expect(hub.roster("office").has("sleeper")).toBe(true);
    hubClock.advance(1);
    expect(hub.roster("office").has("sleeper")).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("never ends an idle client that answers its pings", async () => {
    const clock = new VirtualClock();
    const hubServer = await startHub({
      pingIntervalMs: INTERVAL,
      pingTimeoutMs: TIMEOUT,
      clock,
    });
    const { hub, serverSockets } = hubServer;
    await join(hubServer, "idle");
    const [server] = serverSockets;
    for (let round = 0; round < 10; round++) {
      const pong = once(server as WebSocket, "pong");
      // To the next ping (an interval after the last pong), not past it: the pong must be able to arrive.
      clock.advance((clock.nextTimerAt() ?? 0) - clock.now());
      await pong;
      clock.advance(TIMEOUT);
      expect(server?.readyState).toBe(WebSocket.OPEN);
    }
    expect(hub.stats().connections).toBe(1);
    expect(hub.roster("office").has("idle")).toBe(true);
  });

  it("does not ping a client that keeps sending", async () => {
    const clock = new VirtualClock();
    const hubServer = await startHub({ pingIntervalMs: INTERVAL, pingTimeoutMs: TIMEOUT, clock });

    const client = await join(hubServer, "busy", { autoPong: false });
    let pings = 0;
    client.on("ping", () => pings++);
    for (let round = 0; round < 10; round++) {
      client.send("app message");
      // The message has reached the server once the ping sent after it is answered.
      await roundTrip(client);
      clock.advance(INTERVAL / 2);
    }
    clock.advance(INTERVAL / 2 - 1);
    // Let any ping that was sent arrive.
    await roundTrip(client);
    expect(pings).toBe(0);
    expect(client.readyState).toBe(WebSocket.OPEN);
  });

  it("clears its timer when the connection closes and when the adapter detaches", async () => {
    const clock = new VirtualClock();
    const hubServer = await startHub({
      pingIntervalMs: INTERVAL,
      pingTimeoutMs: TIMEOUT,
      clock,
    });
    const { wss, serverSockets } = hubServer;
    const first = await join(hubServer, "first");
    await join(hubServer, "second");
    expect(clock.pendingTimers()).toBe(2);
    const serverClosed = once(serverSockets[0] as WebSocket, "close");
    first.close();
    await serverClosed;
    expect(clock.pendingTimers()).toBe(1);
    // Mid-ping: a connection closed while its ping is outstanding leaves nothing behind either.
    clock.advance(INTERVAL);
    expect(clock.pendingTimers()).toBe(1);
    for (const ws of wss.clients) ws.terminate();
    await until(() => clock.pendingTimers() === 0);
  });

  it("pings nothing when pingIntervalMs is 0", async () => {
    const clock = new VirtualClock();
    const hubServer = await startHub({ pingIntervalMs: 0, clock });
    const { hub, serverSockets } = hubServer;
    const client = await join(hubServer, "unchecked", { autoPong: false });
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(10 * (INTERVAL + TIMEOUT));
    await roundTrip(client);
    expect(serverSockets[0]?.readyState).toBe(WebSocket.OPEN);
    expect(hub.stats().connections).toBe(1);
  });

  it("rejects liveness options out of range with an error naming the option", async () => {
    const hub = new PresenceHub();
    const wss = { on: () => undefined, off: () => undefined };
    expect(() => attachPresenceToWs(hub, wss, { pingIntervalMs: -1 })).toThrow(/pingIntervalMs/);
    expect(() => attachPresenceToWs(hub, wss, { pingIntervalMs: Number.NaN })).toThrow(RangeError);
    expect(() => attachPresenceToWs(hub, wss, { pingTimeoutMs: 0 })).toThrow(/pingTimeoutMs/);
    expect(() => attachPresenceToWs(hub, wss, { pingTimeoutMs: 2 ** 31 })).toThrow(/pingTimeoutMs/);
    expect(() => attachPresenceToWs(hub, wss, null as unknown as PresenceLivenessOptions)).toThrow(TypeError);
    hub.close();
  });

  it("attack: a flood of 20,000 unsolicited pongs arms no timer and costs one clock read each", async () => {
    const virtual = new VirtualClock();
    const clock = countingClock(virtual);
    const hubServer = await startHub({
      pingIntervalMs: INTERVAL,
      pingTimeoutMs: TIMEOUT,
      clock,
    });
    const { serverSockets } = hubServer;
    const client = await join(hubServer, "flooder", { autoPong: false });
    const server = serverSockets[0] as WebSocket;
    const armedBefore = clock.armed;
    let received = 0;
    server.on("pong", () => received++);
    const FLOOD = 20_000;
    for (let i = 0; i < FLOOD; i++) client.pong();
    await until(() => received === FLOOD);
    expect(clock.armed - armedBefore).toBe(0);
    expect(virtual.pendingTimers()).toBe(1);
    // Over five intervals of flooding the timer is armed at most twice per interval and no ping is needed.
    let pings = 0;
    client.on("ping", () => pings++);
    for (let round = 0; round < 10; round++) {
      virtual.advance(INTERVAL / 2);
      received = 0;
      for (let i = 0; i < 1_000; i++) client.pong();
      await until(() => received === 1_000);
    }
    await roundTrip(client);
    expect(clock.armed - armedBefore).toBeLessThanOrEqual(10);
    expect(pings).toBe(0);
    expect(virtual.pendingTimers()).toBe(1);
    expect(server.readyState).toBe(WebSocket.OPEN);
  });
});

async function until(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits for a ping/pong round trip: every frame the server sent before it has arrived. */
async function roundTrip(client: WebSocket): Promise<void> {
  const pong = once(client, "pong");
  client.ping();
  await pong;
}
