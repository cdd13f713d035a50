/**
 * The virtual-office example as a reader runs it (`npm run example:office`): it serves the page and a
 * browser bundle of its client, runs the hub on /ws for real clients, and stops by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ResilientSocket } from "../../src/index.js";
import { Presence } from "../../src/presence/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { type OfficeProcess, startOfficeProcess } from "../helpers/office-process.js";
import { next, until } from "./presence-harness.js";

let office: OfficeProcess;
beforeAll(async () => {
  office = await startOfficeProcess(60_000);
}, 30_000);
afterAll(async () => {
  expect(await office.stop()).toBe(0);
});

function visitor(member: string) {
  const socket = new ResilientSocket({
    transport: webSocketTransport({
      url: `${office.url.replace("http", "ws")}ws`,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    }),
  });
  return { socket, presence: new Presence(socket, { space: "office", member }) };
}

describe("the virtual-office example", () => {
  it("serves the page and a browser bundle of its client with no Node built-ins", async () => {
    const page = await fetch(office.url);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain('<svg id="map"');
    const script = await fetch(`${office.url}client.js`);
    expect(script.headers.get("content-type")).toMatch(/javascript/);
    const text = await script.text();
    expect(text).toContain("$presence");
    // A bare require() would be a Node module; esbuild's own `__require()` wraps eventemitter3 (CommonJS).
    expect(text).not.toMatch(/from\s*"node:|(?<![\w$])require\(/);
  });

  it("runs the presence hub on /ws: one visitor's emoji and room reach the other", async () => {
    const ann = visitor("ann");
    const bob = visitor("bob");
    try {
      await Promise.all([next(ann.presence, "sync"), next(bob.presence, "sync")]);
      ann.presence.set("room", "kitchen");
      ann.presence.set("emoji", "☕");
      await until("bob to see ann in the kitchen with a coffee", () => {
        const state = bob.presence.roster.get("ann")?.state;
        return state?.room === "kitchen" && state.emoji === "☕";
      });
    } finally {
      await Promise.all([ann.socket.close(), bob.socket.close()]);
    }
  });

  it("stops by itself after --exit-after-ms", async () => {
    const short = await startOfficeProcess(300);
    expect(await short.exited).toBe(0);
    expect(short.output()).toContain("virtual office closed");
  }, 30_000);
});
