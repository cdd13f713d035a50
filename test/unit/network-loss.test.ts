import { describe, expect, it } from "vitest";
import { ResilientSocket, VirtualClock } from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const TEN_MINUTES = 600_000;

/** Defaults throughout; the network is gone for ten minutes: every attempt fails as soon as it starts. */
function offlineForTenMinutes() {
  const clock = new VirtualClock();
  const transport = new FakeTransport(() => clock.now());
  const socket = new ResilientSocket({ transport, clock, autoConnect: false, random: () => 0.5 });
  socket.on("error", () => {}); // refusals are expected here; unheard, they would print a warning
  const events = { drops: [] as string[], circuits: [] as string[], maxDelayMs: 0, maxTimers: 0 };
  socket.on("drop", ({ reason }) => events.drops.push(reason));
  socket.on("circuit", ({ state }) => events.circuits.push(state));
  socket.on("retry", ({ delayMs }) => {
    events.maxDelayMs = Math.max(events.maxDelayMs, delayMs);
  });
  socket.connect();
  transport.last.open();
  clock.advance(20_000); // stable
  transport.last.close({ kind: "error" });
  socket.send("queued");
  for (let handled = 0; clock.now() < 20_000 + TEN_MINUTES; ) {
    events.maxTimers = Math.max(events.maxTimers, clock.pendingTimers());
    const attempts = transport.attempts.length;
    if (!clock.runNext()) break;
    if (transport.attempts.length > attempts && handled < transport.attempts.length) {
      handled = transport.attempts.length;
      if (clock.now() < 20_000 + TEN_MINUTES) transport.last.close({ kind: "error" });
    }
  }
  return { clock, transport, socket, events };
}

describe("ten minutes without a network (virtual clock, default options)", () => {
  it("makes a bounded number of attempts: the breaker opens and spaces them out", () => {
    const { transport, events } = offlineForTenMinutes();
    expect(events.circuits).toContain("open");
    expect(transport.attempts.length).toBeLessThanOrEqual(40);
  });

  it("never waits longer than maxDelayMs and never holds more than two timers", () => {
    const { events } = offlineForTenMinutes();
    expect(events.maxDelayMs).toBeLessThanOrEqual(TEN_MINUTES);
    expect(events.maxTimers).toBeLessThanOrEqual(2);
  });

  it("reports the message queued before the outage as expired once its TTL has passed", () => {
    const { socket, events } = offlineForTenMinutes();
    socket.stats();
    expect(events.drops).toEqual(["expired"]);
  });

  it("is connected again within the backoff cap (120 s) of the network coming back", () => {
    const { clock, transport, socket } = offlineForTenMinutes();
    const back = clock.now();
    const attempts = transport.attempts.length;
    while (transport.attempts.length === attempts && clock.now() - back <= 120_000) clock.runNext();
    expect(clock.now() - back).toBeLessThanOrEqual(120_000);
    transport.last.open();
    expect(socket.state).toBe("open");
  });
});
