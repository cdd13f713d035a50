/**
 * The presence hub behind `socketIoAdmission` on a real Socket.IO 4.8 server: the admission's one decision
 * per engine.io connection runs before the hub sees a socket, and the hub's cut (closing the engine
 * connection) sends the client back through it, on a fresh connection, to sync again.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import { decorrelatedJitter, ResilientSocket } from "../../src/index.js";
import { Presence } from "../../src/presence/index.js";
import { attachPresenceToSocketIo, PresenceHub, socketIoAdmission } from "../../src/server/index.js";
import { socketIoTransport } from "../../src/socket-io.js";
import { next, until } from "./presence-harness.js";

const closers: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe("presence hub behind socketIoAdmission", () => {
  it("admits a refused member at its appointment, and members the hub cut come back through admission and sync again", async () => {
    const http = createServer();
    const io = new Server(http, { transports: ["websocket"] });
    const admission = socketIoAdmission({ ratePerSecond: 4, burst: 1, spreadMs: 100 });
    io.use(admission);
    const hub = new PresenceHub({ batchMs: 10 });
    attachPresenceToSocketIo(hub, io);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    closers.push(async () => {
      hub.close();
      const closing = io.close();
      http.closeAllConnections();
      await closing;
    });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const member = (name: string) => {
      const socket = new ResilientSocket({
        transport: socketIoTransport({ url, options: { transports: ["websocket"] } }),
        backoff: decorrelatedJitter({ baseMs: 20, capMs: 200 }),
        circuitBreaker: false,
        stableAfterMs: 50,
      });
      const presence = new Presence(socket, { space: "office", member: name });
      closers.push(() => {
        presence.detach();
        return socket.close();
      });
      return { socket, presence };
    };
    const ann = member("ann");
    ann.presence.set("room", "kitchen");
    const bob = member("bob");
    await Promise.all([next(ann.presence, "sync"), next(bob.presence, "sync")]);
    // One token at a time: one of the two was refused once and came back at its appointment.
    expect(admission.controller.refused).toBeGreaterThanOrEqual(1);
    await until("bob sees ann", () => bob.presence.roster.get("ann")?.state.room === "kitchen");
    const admittedBefore = admission.controller.admitted;
    // The hub's cut, to both at once: each engine connection closed, as its Socket.IO adapter does to a slow
    // reader. Both come back on fresh connections, each decided again (one token at a time).
    const synced = Promise.all([next(ann.presence, "sync"), next(bob.presence, "sync")]);
    for (const s of io.of("/").sockets.values()) s.conn.close();
    await synced;
    expect(admission.controller.admitted).toBe(admittedBefore + 2);
    await until("bob still sees ann", () => bob.presence.roster.get("ann")?.state.room === "kitchen");
    expect(hub.stats().away).toBe(0);
  });
});
