/**
 * Identity from the request (issue 10): `authorize` sees the ws upgrade request or the Socket.IO handshake
 * and grants a member id and spaces; an impostor is refused; a connection displaced by another one of the
 * same member is told, and the `Presence` client says so instead of sitting on a frozen roster as `synced`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  type AttackServer,
  type Kind,
  RawPresenceClient,
  startAttackServer,
  until,
  userOf,
} from "../../bench/attack/servers.js";
import { decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { Presence } from "../../src/presence/index.js";
import type { PresenceHubOptions } from "../../src/server/presence/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

/** A grant per user: the member id is the user name; "guest" may only be in "lobby". */
const authorize: PresenceHubOptions["authorize"] = (connection) => {
  const user = userOf(connection.request);
  if (user === undefined) return false;
  return user === "guest" ? { member: user, spaces: ["lobby"] } : { member: user };
};

async function start(kind: Kind, options: PresenceHubOptions = {}): Promise<AttackServer> {
  const server = await startAttackServer(kind, { batchMs: 10, ...options });
  cleanups.push(() => server.stop());
  return server;
}

async function raw(server: AttackServer, user?: string): Promise<RawPresenceClient> {
  const client = await RawPresenceClient.connect(server, user);
  cleanups.push(() => client.close());
  return client;
}

/** A real Presence client over a ResilientSocket, connecting as `user`. */
function presence(server: AttackServer, member: string, user?: string) {
  const transport =
    server.kind === "ws"
      ? webSocketTransport({
          url: () => (user === undefined ? server.url : `${server.url}?user=${user}`),
          WebSocket: WebSocket as unknown as WebSocketConstructor,
        })
      : socketIoTransport({
          url: () => server.url,
          options: { transports: ["websocket"], auth: user === undefined ? {} : { user } },
        });
  const socket = new ResilientSocket({
    transport,
    backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
    circuitBreaker: false,
    connectTimeoutMs: 2_000,
  });
  const p = new Presence(socket, { space: "office", member });
  cleanups.push(() => socket.close());
  return p;
}

function once<T>(p: Presence, event: "sync" | "displaced" | "refused"): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" of ${p.member} within 5 s`)), 5_000);
    p.once(event, ((value: T) => {
      clearTimeout(timer);
      resolve(value);
    }) as never);
  });
}

describe.each(["ws", "socket.io"] as const)("presence identity over %s", (kind) => {
  it("passes the request to authorize and refuses a member id the user does not own; the owner is untouched", async () => {
    const server = await start(kind, { authorize });
    const alice = presence(server, "alice", "alice");
    await once(alice, "sync");
    alice.set("room", "kitchen");
    const mallory = await raw(server, "mallory");
    mallory.sync("office", "alice", { room: "attic" });
    expect(await mallory.next((m) => m.$presence === "refused")).toMatchObject({
      reason: "member-not-owned",
    });
    await until(
      "alice's update to reach the hub",
      () => server.hub.roster("office").get("alice")?.room === "kitchen",
    );
    expect(alice.phase).toBe("synced");
    expect(server.hub.stats().displaced).toBe(0);
  });

  it("refuses a space the grant does not list, and a connection without a user", async () => {
    const server = await start(kind, { authorize });
    const guest = await raw(server, "guest");
    guest.sync("office", "guest");
    expect(await guest.next((m) => m.$presence === "refused")).toMatchObject({ reason: "unauthorized" });
    guest.sync("lobby", "guest");
    await guest.next((m) => m.$presence === "snapshot" && m.space === "lobby");
    const nobody = await raw(server);
    nobody.sync("lobby", "nobody");
    expect(await nobody.next((m) => m.$presence === "refused")).toMatchObject({ reason: "unauthorized" });
    expect(server.hub.roster("office").size).toBe(0);
  });

  it("tells a displaced client, which stops claiming synced; rejoin takes the seat back", async () => {
    const server = await start(kind);
    const watcher = presence(server, "watcher");
    await once(watcher, "sync");
    const first = presence(server, "ann");
    await once(first, "sync");
    const displaced = once<{ space: string }>(first, "displaced");
    const second = presence(server, "ann");
    await once(second, "sync");
    expect(await displaced).toEqual({ space: "office" });
    expect(first.phase).toBe("displaced");
    // The first tab's changes no longer go anywhere: it says so rather than pretending.
    second.set("emoji", "🙂");
    await until(
      "the watcher to see the second tab's emoji",
      () => watcher.roster.get("ann")?.state.emoji === "🙂",
    );
    const back = once<{ space: string }>(second, "displaced");
    first.rejoin();
    await once(first, "sync");
    await back;
    expect([first.phase, second.phase]).toEqual(["synced", "displaced"]);
    expect(server.hub.stats().displaced).toBe(2);
  });
});
