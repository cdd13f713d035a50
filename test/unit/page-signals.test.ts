/**
 * Browser network and page signals on the virtual clock, with stand-ins for `window`, `document` and
 * `navigator` (Node's own EventTarget). The same code runs against real Chromium events in the browser tests.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  exponentialNoJitter,
  type PageSignalsOptions,
  ResilientSocket,
  type RetryEvent,
  type SocketState,
  VirtualClock,
} from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

class FakeDocument extends EventTarget {
  visibilityState: "visible" | "hidden" = "visible";
  set(state: "visible" | "hidden") {
    this.visibilityState = state;
    this.dispatchEvent(new Event("visibilitychange"));
  }
}

let clock: VirtualClock;
let transport: FakeTransport;
let win: EventTarget;
let doc: FakeDocument;
let nav: { onLine: boolean };
const sockets: ResilientSocket[] = [];

function make(
  signals: Partial<PageSignalsOptions> = {},
  extra: { heartbeat?: boolean; random?: number; offline?: boolean; breaker?: boolean } = {},
) {
  clock = new VirtualClock(1_000);
  transport = new FakeTransport(() => clock.now());
  win = new EventTarget();
  doc = new FakeDocument();
  nav = { onLine: !extra.offline };
  const socket = new ResilientSocket({
    transport,
    clock,
    random: () => extra.random ?? 0.5,
    autoConnect: false,
    backoff: exponentialNoJitter({ baseMs: 1_000, capMs: 60_000 }),
    stableAfterMs: 500,
    signals: { window: win, document: doc, navigator: nav, ...signals },
    ...(extra.heartbeat ? { heartbeat: { intervalMs: 30_000, timeoutMs: 2_000 } } : {}),
    ...(extra.breaker ? { circuitBreaker: { consecutiveFailures: 2, openMs: 10_000 } } : {}),
  });
  // Errors are not what these tests look at; unheard, each socket would print its one warning (unheard.ts).
  socket.on("error", () => {});
  sockets.push(socket);
  return socket;
}
const fire = (type: string) => win.dispatchEvent(new Event(type));
function retries(socket: ResilientSocket): RetryEvent[] {
  const seen: RetryEvent[] = [];
  socket.on("retry", (e) => seen.push(e));
  return seen;
}
/** Opens, stays stable, then the connection drops: the socket waits its first backoff (1,000 ms). */
function dropAfterStable(socket: ResilientSocket) {
  socket.connect();
  transport.last.open();
  clock.advance(500);
  transport.last.close({ code: 1006 });
}

afterEach(async () => {
  for (const s of sockets.splice(0)) await s.close();
});

describe("network signals", () => {
  it("makes no attempt while offline, however long it lasts", () => {
    const socket = make();
    dropAfterStable(socket);
    fire("offline");
    expect(socket.state).toBe<SocketState>("paused");
    clock.advance(3_600_000);
    expect(transport.attempts).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("starts paused when the browser is already offline, and connects once it is online", () => {
    const socket = make({}, { offline: true });
    socket.connect();
    expect(socket.state).toBe("paused");
    expect(transport.attempts).toHaveLength(0);
    fire("online");
    clock.advance(500);
    expect(transport.attempts).toHaveLength(1);
  });

  it("after online makes one attempt after a random share of resumeJitterMs, not at once", () => {
    const socket = make({ resumeJitterMs: 2_000 }, { random: 0.75 });
    const seen = retries(socket);
    dropAfterStable(socket);
    fire("offline");
    clock.advance(10_000);
    fire("online");
    expect(seen.at(-1)?.delayMs).toBe(1_500);
    clock.advance(1_499);
    expect(transport.attempts).toHaveLength(1);
    clock.advance(1);
    expect(transport.attempts).toHaveLength(2);
  });

  it("never comes back sooner than the policy asked: a long wait paused by offline keeps its moment", () => {
    const socket = make();
    socket.connect();
    transport.last.close({
      code: 1013,
      hint: { hint: { source: "close-code", delayMs: 30_000, spreadMs: 0 } },
    });
    expect(socket.stats().nextAttemptAt).toBe(31_000);
    fire("offline");
    clock.advance(5_000);
    fire("online");
    clock.advance(24_999);
    expect(transport.attempts).toHaveLength(1);
    clock.advance(1);
    expect(transport.attempts).toHaveLength(2);
  });

  it("lets an open connection be, but checks it with a ping when the network comes back", () => {
    const socket = make({}, { heartbeat: true });
    socket.connect();
    transport.last.open();
    fire("offline");
    expect(socket.state).toBe("open");
    fire("online");
    expect(transport.last.sent).toEqual(["ping"]);
    clock.advance(2_000);
    expect(socket.state).not.toBe("open");
  });
});

describe("page visibility", () => {
  it("keeps retrying while hidden by default", () => {
    const socket = make();
    dropAfterStable(socket);
    doc.set("hidden");
    clock.advance(1_000);
    expect(transport.attempts).toHaveLength(2);
  });

  it('pauses while hidden under whenHidden: "pause" and resumes through the jitter when visible', () => {
    const socket = make({ whenHidden: "pause", resumeJitterMs: 1_000 }, { random: 0.5 });
    dropAfterStable(socket);
    doc.set("hidden");
    clock.advance(60_000);
    expect(transport.attempts).toHaveLength(1);
    doc.set("visible");
    clock.advance(500);
    expect(transport.attempts).toHaveLength(2);
    expect(socket.state).toBe("connecting");
  });

  it('slows the waits that start while hidden under whenHidden: "slow", and shortens them when visible', () => {
    const socket = make({ whenHidden: "slow", hiddenSlowdown: 4, resumeJitterMs: 100 });
    const seen = retries(socket);
    doc.set("hidden");
    dropAfterStable(socket);
    expect(seen.at(-1)?.delayMs).toBe(4_000);
    clock.advance(200);
    doc.set("visible");
    expect(seen.at(-1)?.delayMs).toBe(800);
    clock.advance(800);
    expect(transport.attempts).toHaveLength(2);
  });
});

describe("back/forward cache and sleep", () => {
  it("lets go of the connection on pagehide and reconnects after pageshow", () => {
    const socket = make({ resumeJitterMs: 1_000 });
    const closes: unknown[] = [];
    socket.on("close", (e) => closes.push(e));
    socket.connect();
    transport.last.open();
    fire("pagehide");
    expect(transport.last.closedByClient).toBe(true);
    expect(closes).toEqual([{ kind: "client", wasStable: false }]);
    expect(socket.state).toBe("paused");
    clock.advance(60_000);
    expect(transport.attempts).toHaveLength(1);
    fire("pageshow");
    clock.advance(1_000);
    expect(transport.attempts).toHaveLength(2);
  });

  it("checks the open connection at once when a timer fires far too late (the machine slept)", () => {
    const socket = make({ wakeCheckMs: 5_000 }, { heartbeat: true });
    socket.connect();
    transport.last.open();
    clock.advance(5_000);
    expect(transport.last.sent).toEqual([]);
    // Asleep: the next check fires 20 s late, as timers do after a suspend.
    clock.jump(20_000);
    clock.advance(0);
    expect(transport.last.sent).toEqual(["ping"]);
    clock.advance(2_000);
    expect(socket.state).not.toBe("open");
  });

  it("leaves no listener and no timer behind after close()", async () => {
    await make().close();
    let listeners = 0;
    const count = (target: EventTarget) => {
      const add = target.addEventListener.bind(target);
      const remove = target.removeEventListener.bind(target);
      target.addEventListener = (...args: Parameters<EventTarget["addEventListener"]>) => {
        listeners++;
        add(...args);
      };
      target.removeEventListener = (...args: Parameters<EventTarget["removeEventListener"]>) => {
        listeners--;
        remove(...args);
      };
    };
    count(win);
    count(doc);
    const again = new ResilientSocket({
      transport,
      clock,
      autoConnect: false,
      signals: { window: win, document: doc, navigator: nav },
    });
    expect(listeners).toBe(5);
    again.connect();
    transport.last.open();
    await again.close();
    expect(listeners).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it.each([
    [{ whenHidden: "sometimes" }, "signals.whenHidden"],
    [{ hiddenSlowdown: 0.5 }, "signals.hiddenSlowdown"],
    [{ resumeJitterMs: -1 }, "signals.resumeJitterMs"],
    [{ wakeCheckMs: Number.NaN }, "signals.wakeCheckMs"],
    [{ wakeCheckMs: 3e9 }, "signals.wakeCheckMs"],
    [{ resumeJitterMs: 3e9 }, "signals.resumeJitterMs"],
    [{ window: {} }, "signals.window"],
  ])("rejects %j with an error naming %s", (signals, name) => {
    expect(
      () => new ResilientSocket({ transport: new FakeTransport(() => 0), signals: signals as never }),
    ).toThrow(name);
  });
});

describe("signals meet the breaker, the app and the platform", () => {
  it.each(["connecting", "open"] as const)(
    "lets a new probe through after pagehide abandoned the breaker's probe while %s",
    (phase) => {
      const socket = make({ resumeJitterMs: 100 }, { breaker: true });
      const circuits: string[] = [];
      socket.on("circuit", (e) => circuits.push(e.state));
      socket.connect();
      transport.last.close({ code: 1006 });
      clock.advance(1_000);
      transport.last.close({ code: 1006 });
      expect(socket.state).toBe("circuit-open");
      clock.advance(10_000);
      expect(transport.attempts).toHaveLength(3); // the probe
      if (phase === "open") transport.last.open();
      fire("pagehide");
      fire("pageshow");
      clock.advance(100);
      expect(transport.attempts).toHaveLength(4);
      expect(clock.pendingTimers()).toBeLessThanOrEqual(2);
    },
  );

  it("lets connect() override a pause for one attempt through the policy (navigator.onLine can be wrong)", () => {
    const socket = make({}, { offline: true });
    socket.connect();
    expect(socket.state).toBe("paused");
    socket.connect();
    expect(transport.attempts).toHaveLength(1);
    transport.last.close({ code: 1006 });
    expect(socket.state).toBe("paused");
    clock.advance(60_000);
    expect(transport.attempts).toHaveLength(1);
  });

  it('keeps a wait resumed after online slow while the tab is still hidden under whenHidden: "slow"', () => {
    const socket = make({ whenHidden: "slow", hiddenSlowdown: 4, resumeJitterMs: 0 });
    const seen = retries(socket);
    doc.set("hidden");
    dropAfterStable(socket);
    expect(seen.at(-1)?.delayMs).toBe(4_000);
    fire("offline");
    fire("online");
    expect(seen.at(-1)?.delayMs).toBe(4_000);
    expect(seen.at(-1)?.attempt).toBe(1);
  });

  it("holds no sleep-detector timer when there is no heartbeat to check with", () => {
    const socket = make({ wakeCheckMs: 1_000 });
    socket.connect();
    transport.last.open();
    // Only the stable-period timer.
    expect(clock.pendingTimers()).toBe(1);
  });
});
