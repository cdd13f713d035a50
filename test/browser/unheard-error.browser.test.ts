/** In a page (no `process`), an error nobody listens for goes to console.warn, once per socket. */
import { afterEach, describe, expect, it } from "vitest";
import { ResilientSocket, VirtualClock } from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const original = console.warn;
afterEach(() => {
  console.warn = original;
});

describe("an unheard error in a page", () => {
  it("is written once to console.warn however often the socket fails", async () => {
    expect((globalThis as { process?: unknown }).process).toBeUndefined();
    const lines: unknown[][] = [];
    console.warn = (...args: unknown[]) => lines.push(args);
    const clock = new VirtualClock(0);
    const transport = new FakeTransport(() => clock.now());
    const socket = new ResilientSocket({
      transport,
      clock,
      circuitBreaker: false,
      random: () => 0.5,
      autoConnect: false,
    });
    socket.connect();
    for (let i = 0; i < 10; i++) {
      transport.last.close({ kind: "error", reason: "refused", error: new Error("refused") });
      clock.advance(60_000);
    }
    await socket.close();
    expect(transport.attempts.length).toBeGreaterThanOrEqual(10);
    expect(lines).toEqual([
      [
        'ResilientSocket has no "error" listener and reported: TransportError: connection failed: refused (it carries on; listen to "error" to handle errors — this is reported once per socket)',
      ],
    ]);
  });
});
