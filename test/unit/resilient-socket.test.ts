import { afterEach, describe, expect, it } from "vitest";
import {
  exponentialNoJitter,
  ResilientSocket,
  type ResilientSocketOptions,
  type RetryEvent,
  type SocketState,
  VirtualClock,
} from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

let clock: VirtualClock;
let transport: FakeTransport;
const sockets: ResilientSocket[] = [];

function make(overrides: Partial<ResilientSocketOptions> = {}): ResilientSocket {
  clock = new VirtualClock(1_000);
  transport = new FakeTransport(() => clock.now());
  const socket = new ResilientSocket({
    transport,
    clock,
    random: () => 0.5,
    autoConnect: false,
    backoff: exponentialNoJitter({ baseMs: 100, capMs: 1_000 }),
    stableAfterMs: 500,
    connectTimeoutMs: 2_000,
    ...overrides,
  });
  // Errors are not what these tests look at; unheard, each socket would print its one warning (unheard.ts).
  socket.on("error", () => {});
  sockets.push(socket);
  return socket;
}

function record<T>(socket: ResilientSocket, event: "retry" | "drop" | "error" | "state"): T[] {
  const seen: T[] = [];
  socket.on(event, ((value: T) => seen.push(value)) as never);
  return seen;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) await s.close();
});

describe("ResilientSocket lifecycle", () => {
  it("connects on the next microtask when autoConnect is on, so listeners attached after construction see it", async () => {
    const socket = make({ autoConnect: true });
    const states = record<SocketState>(socket, "state");
    expect(transport.attempts).toHaveLength(0);
    await Promise.resolve();
    expect(states).toEqual(["connecting"]);
    expect(transport.attempts).toHaveLength(1);
  });

  it("opens, delivers messages and reports stats", () => {
    const socket = make();
    const messages: unknown[] = [];
    socket.on("message", (m) => messages.push(m));
    socket.connect();
    transport.last.open();
    transport.last.message("hello");
    expect(socket.state).toBe("open");
    expect(messages).toEqual(["hello"]);
    expect(socket.stats()).toMatchObject({ attempts: 1, connections: 1, failures: 0, circuit: "closed" });
  });

  it("retries a failed attempt after the backoff, not before", () => {
    const socket = make();
    const retries = record<RetryEvent>(socket, "retry");
    socket.connect();
    transport.last.close({ kind: "error" });
    expect(retries).toEqual([{ attempt: 1, delayMs: 100, cause: "backoff" }]);
    clock.advance(99);
    expect(transport.attempts).toHaveLength(1);
    clock.advance(1);
    expect(transport.attempts).toHaveLength(2);
  });

  it("treats a transport that throws synchronously as a failed attempt, not a crash", () => {
    const socket = make();
    const errors = record<Error & { code: string }>(socket, "error");
    transport.throwOnConnect = new Error("boom");
    socket.connect();
    expect(errors[0]?.code).toBe("TRANSPORT_ERROR");
    expect(socket.state).toBe("waiting");
    transport.throwOnConnect = undefined;
    clock.advance(100);
    expect(socket.state).toBe("connecting");
  });

  it("abandons an attempt that does not open within connectTimeoutMs and counts it as a failure", () => {
    const socket = make();
    const errors = record<Error & { code: string }>(socket, "error");
    socket.connect();
    clock.advance(2_000);
    expect(transport.attempts[0]?.closedByClient).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(["CONNECT_TIMEOUT"]);
    expect(socket.stats().failures).toBe(1);
  });

  it("never lets a stale connect timeout close the next connection", () => {
    const socket = make({ connectTimeoutMs: 150 });
    socket.connect();
    transport.last.close({ kind: "error" }); // fails at t=0, retry at t=100
    clock.advance(100);
    transport.last.open();
    clock.advance(1_000);
    expect(socket.state).toBe("open");
    expect(transport.last.closedByClient).toBe(false);
  });

  it("ignores events from a connection it has already abandoned", () => {
    const socket = make({ connectTimeoutMs: 100 });
    socket.connect();
    const first = transport.last;
    clock.advance(100); // timeout: abandoned, retry scheduled
    first.open();
    first.message("late");
    expect(socket.state).toBe("waiting");
  });

  it("resets the backoff only after the stable period (flap damping)", () => {
    const socket = make();
    const retries = record<RetryEvent>(socket, "retry");
    socket.connect();
    for (let i = 0; i < 3; i++) {
      transport.last.open();
      clock.advance(499);
      transport.last.close({ kind: "closed", code: 1006 });
      clock.advance(retries.at(-1)?.delayMs ?? 0);
    }
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    transport.last.open();
    clock.advance(500);
    transport.last.close({ kind: "closed", code: 1006 });
    expect(retries.at(-1)?.attempt).toBe(1);
  });

  it("counts the first message as health when stableOnFirstMessage is set", () => {
    const socket = make({ stableOnFirstMessage: true });
    const retries = record<RetryEvent>(socket, "retry");
    socket.connect();
    transport.last.close({ kind: "error" });
    clock.advance(100);
    transport.last.open();
    transport.last.message("welcome");
    transport.last.close({ kind: "closed" });
    expect(retries.map((r) => r.attempt)).toEqual([1, 1]);
  });

  it("stops after a deliberate server close unless reconnectOnServerClose is set", () => {
    const socket = make();
    socket.connect();
    transport.last.open();
    transport.last.close({ kind: "deliberate", code: 1000 });
    expect(socket.state).toBe("stopped");
    clock.advance(60_000);
    expect(transport.attempts).toHaveLength(1);

    const again = make({ reconnectOnServerClose: true });
    again.connect();
    transport.last.open();
    transport.last.close({ kind: "deliberate", code: 1000 });
    expect(again.state).toBe("waiting");
  });

  it("surfaces a refusal without a hint instead of retrying it, and connect() starts afresh", () => {
    const socket = make();
    const errors = record<Error & { code: string; status?: number }>(socket, "error");
    socket.connect();
    transport.last.close({ kind: "refused", code: 401 });
    expect(errors[0]).toMatchObject({ code: "REFUSED", status: 401 });
    expect(socket.state).toBe("stopped");
    clock.advance(600_000);
    expect(transport.attempts).toHaveLength(1);
    socket.connect();
    expect(transport.attempts).toHaveLength(2);
  });

  it("falls back to backoff for a refusal whose hint was malformed, instead of stopping", () => {
    const socket = make();
    const errors = record<Error & { code: string }>(socket, "error");
    socket.connect();
    transport.last.close({ kind: "refused", hint: { problem: "delay must be a finite number" } });
    expect(errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(socket.state).toBe("waiting");
  });

  it("treats a refusal with an empty hint reading as a plain refusal", () => {
    const socket = make();
    socket.connect();
    transport.last.close({ kind: "refused", code: 401, hint: {} });
    expect(socket.state).toBe("stopped");
  });

  it("retries a refusal that carries a hint, no sooner than the hint", () => {
    const socket = make();
    socket.connect();
    transport.last.close({
      kind: "refused",
      hint: { hint: { source: "connect-error", delayMs: 5_000, spreadMs: 0 } },
    });
    clock.advance(4_999);
    expect(transport.attempts).toHaveLength(1);
    clock.advance(1);
    expect(transport.attempts).toHaveLength(2);
  });

  it("emits an error for a hostile hint and still waits a bounded time", () => {
    const socket = make({ maxDelayMs: 5_000 });
    const errors = record<Error & { code: string }>(socket, "error");
    const retries = record<RetryEvent>(socket, "retry");
    socket.connect();
    transport.last.close({
      kind: "closed",
      hint: { hint: { source: "close-code", delayMs: 5_000, spreadMs: 0 }, problem: "cut to the ceiling" },
    });
    expect(errors.map((e) => e.code)).toEqual(["BAD_HINT"]);
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(3_750);
    expect(retries[0]?.delayMs).toBeLessThanOrEqual(5_000);
  });

  it("stops with MAX_ATTEMPTS after maxAttempts consecutive failures", () => {
    const socket = make({ maxAttempts: 2 });
    const errors = record<Error & { code: string }>(socket, "error");
    socket.connect();
    transport.last.close();
    clock.advance(100);
    transport.last.close();
    expect(socket.state).toBe("stopped");
    expect(errors.at(-1)?.code).toBe("MAX_ATTEMPTS");
  });

  it("keeps running when a listener throws", async () => {
    const socket = make();
    // With no error listener a listener's throw is rethrown (asynchronously), as Node's emitter would.
    socket.removeAllListeners("error");
    const thrown: unknown[] = [];
    const onUncaught = (e: unknown) => thrown.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      const buggy = () => {
        throw new Error("listener bug");
      };
      socket.on("state", buggy);
      socket.connect();
      transport.last.open();
      expect(socket.state).toBe("open");
      await new Promise((resolve) => setImmediate(resolve));
      socket.off("state", buggy);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
    expect(thrown.length).toBeGreaterThan(0);
  });

  it("returns the socket from on(), and off() with the same function unsubscribes", () => {
    const socket = make();
    let count = 0;
    const counter = () => count++;
    expect(socket.on("message", counter)).toBe(socket);
    socket.connect();
    transport.last.open();
    transport.last.message(1);
    socket.off("message", counter);
    transport.last.message(2);
    expect(count).toBe(1);
  });
});

describe("the circuit breaker in the socket", () => {
  it("opens after consecutive failures, makes no attempt while open, then probes once", () => {
    const socket = make({ circuitBreaker: { consecutiveFailures: 3, openMs: 10_000, maxOpenMs: 20_000 } });
    const circuits: string[] = [];
    socket.on("circuit", (e) => circuits.push(e.state));
    socket.connect();
    for (let i = 0; i < 3; i++) {
      transport.last.close();
      if (i < 2) clock.advance(socket.stats().currentDelayMs ?? 0);
    }
    expect(circuits).toEqual(["open"]);
    expect(socket.state).toBe("circuit-open");
    const attempts = transport.attempts.length;
    const wait = socket.stats().currentDelayMs ?? 0;
    expect(wait).toBeGreaterThanOrEqual(5_000);
    clock.advance(wait - 1);
    expect(transport.attempts).toHaveLength(attempts);
    clock.advance(1);
    expect(transport.attempts).toHaveLength(attempts + 1);
    expect(circuits).toEqual(["open", "half-open"]);
    transport.last.open();
    clock.advance(500);
    expect(circuits).toEqual(["open", "half-open", "closed"]);
  });
});

describe("the outbound queue", () => {
  it("queues while disconnected and flushes in order on open", () => {
    const socket = make();
    socket.connect();
    expect(socket.send("a")).toBe("queued");
    expect(socket.send("b")).toBe("queued");
    transport.last.open();
    expect(socket.send("c")).toBe("sent");
    expect(transport.last.sent).toEqual(["a", "b", "c"]);
  });

  it("drops the oldest on overflow by count and reports it", () => {
    const socket = make({ queue: { maxMessages: 2 } });
    const drops = record<{ data: unknown; reason: string }>(socket, "drop");
    socket.send(1);
    socket.send(2);
    socket.send(3);
    expect(drops).toEqual([{ data: 1, reason: "overflow" }]);
    expect(socket.stats().queue).toEqual({ messages: 2, bytes: 2 });
  });

  it("refuses the newest under drop-newest and by bytes", () => {
    const socket = make({ queue: { maxBytes: 10, overflow: "drop-newest" } });
    const drops = record<{ data: unknown; reason: string }>(socket, "drop");
    expect(socket.send("12345678")).toBe("queued");
    expect(socket.send("123")).toBe("dropped");
    expect(socket.send("x".repeat(11))).toBe("dropped");
    expect(drops.map((d) => d.reason)).toEqual(["overflow", "too-large"]);
  });

  it("reports messages that outlived their TTL instead of sending them", () => {
    const socket = make({ queue: { ttlMs: 1_000 } });
    const drops = record<{ data: unknown; reason: string }>(socket, "drop");
    socket.send("old");
    clock.advance(1_001);
    socket.send("new");
    socket.connect();
    transport.last.open();
    expect(drops).toEqual([{ data: "old", reason: "expired" }]);
    expect(transport.last.sent).toEqual(["new"]);
  });

  it("drops with reason disconnected when the queue is disabled", () => {
    const socket = make({ queue: false });
    const drops = record<{ data: unknown; reason: string }>(socket, "drop");
    expect(socket.send("x")).toBe("dropped");
    expect(drops).toEqual([{ data: "x", reason: "disconnected" }]);
  });
});

describe("heartbeat", () => {
  it("pings after inbound silence and hides the pong from the app", () => {
    const socket = make({ heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
    const messages: unknown[] = [];
    socket.on("message", (m) => messages.push(m));
    socket.connect();
    transport.last.open();
    clock.advance(1_000);
    expect(transport.last.sent).toEqual(["ping"]);
    transport.last.message("pong");
    clock.advance(1_400);
    expect(socket.state).toBe("open");
    expect(transport.last.sent).toEqual(["ping", "ping"]);
    transport.last.message("pong");
    expect(messages).toEqual([]);
  });

  it("declares a silent connection dead within interval + timeout and reconnects", () => {
    const socket = make({ heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
    const errors = record<Error & { code: string }>(socket, "error");
    socket.connect();
    transport.last.open();
    clock.advance(1_499);
    expect(socket.state).toBe("open");
    clock.advance(1);
    expect(errors.map((e) => e.code)).toEqual(["HEARTBEAT_TIMEOUT"]);
    expect(socket.state).toBe("waiting");
  });
});

describe("close()", () => {
  const drive: Record<string, (s: ResilientSocket) => void> = {
    idle: () => {},
    connecting: (s) => s.connect(),
    open: (s) => {
      s.connect();
      transport.last.open();
    },
    waiting: (s) => {
      s.connect();
      transport.last.close();
    },
    "circuit-open": (s) => {
      s.connect();
      transport.last.close();
    },
    stopped: (s) => {
      s.connect();
      transport.last.close({ kind: "refused" });
    },
  };
  for (const [state, reach] of Object.entries(drive)) {
    it(`from ${state} leaves zero timers, zero listeners and no connection`, async () => {
      const controller = new AbortController();
      const socket = make({
        signal: controller.signal,
        heartbeat: { intervalMs: 100, timeoutMs: 100 },
        circuitBreaker: { consecutiveFailures: state === "circuit-open" ? 1 : 10 },
      });
      socket.on("message", () => {});
      reach(socket);
      expect(socket.state).toBe(state);
      const attemptsBeforeClose = transport.attempts.length;
      await socket.close();
      expect(socket.state).toBe("closed");
      expect(clock.pendingTimers()).toBe(0);
      expect(socket.eventNames()).toEqual([]);
      expect(transport.live).toBe(0);
      clock.advance(10 * 60_000);
      socket.connect();
      expect(transport.attempts).toHaveLength(attemptsBeforeClose);
    });
  }

  it("is idempotent and reports queued messages as dropped", async () => {
    const socket = make();
    const drops = record<{ reason: string }>(socket, "drop");
    socket.send("x");
    await socket.close();
    await socket.close();
    expect(drops).toEqual([{ data: "x", reason: "closed" }]);
    expect(socket.send("y")).toBe("dropped");
  });

  it("from inside the transport's connect() (a url() function, say) closes the new connection at once", async () => {
    const socket = make();
    const inner = transport.connect.bind(transport);
    transport.connect = (handlers, context) => {
      void socket.close();
      return inner(handlers, context);
    };
    socket.connect();
    expect(socket.state).toBe("closed");
    expect(transport.last.closedByClient).toBe(true);
    expect(transport.live).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("happens when the AbortSignal aborts, and an aborted signal means closed from the start", () => {
    const controller = new AbortController();
    const socket = make({ signal: controller.signal });
    socket.connect();
    controller.abort();
    expect(socket.state).toBe("closed");
    expect(clock.pendingTimers()).toBe(0);
    const dead = make({ signal: AbortSignal.abort() });
    dead.connect();
    expect(dead.state).toBe("closed");
    expect(transport.attempts).toHaveLength(0);
  });
});

describe("options validation", () => {
  const cases: [Partial<ResilientSocketOptions>, RegExp, ErrorConstructor][] = [
    [{ connectTimeoutMs: -1 }, /connectTimeoutMs .*got -1/, RangeError],
    [{ connectTimeoutMs: Number.NaN }, /connectTimeoutMs .*got NaN/, RangeError],
    [{ maxAttempts: 1.5 }, /maxAttempts must be an integer.*got 1.5/, RangeError],
    [
      { stableAfterMs: "10" as unknown as number },
      /^ResilientSocket: stableAfterMs must be a finite number; got "10"$/,
      TypeError,
    ],
    [{ queue: { maxMessages: -1 } }, /queue.maxMessages .*got -1/, RangeError],
    [{ queue: { overflow: "drop-all" as "drop-oldest" } }, /queue.overflow .*"drop-all"/, RangeError],
    [{ circuitBreaker: { failureRatio: 1.5 } }, /circuitBreaker.failureRatio .*1.5/, RangeError],
    [{ heartbeat: { intervalMs: 0, timeoutMs: 1 } }, /heartbeat.intervalMs .*got 0/, RangeError],
    [{ maxDelayMs: 1_000 }, /maxDelayMs must be >= the backoff cap/, RangeError],
    [{ transport: undefined as never }, /^ResilientSocket: transport must be webSocketTransport/, TypeError],
    [
      { reconnectOnServerClose: 1 as unknown as boolean },
      /reconnectOnServerClose must be a boolean; got 1/,
      TypeError,
    ],
    [{ retries: 3 } as never, /^ResilientSocket: unknown option "retries"$/, TypeError],
  ];
  for (const [bad, message, type] of cases) {
    it(`rejects ${JSON.stringify(bad) ?? "an undefined transport"} with a ${type.name} naming the option`, () => {
      const base = new FakeTransport(() => 0);
      const attempt = () =>
        new ResilientSocket({
          transport: base,
          autoConnect: false,
          backoff: exponentialNoJitter({ capMs: 2_000 }),
          ...bad,
        });
      expect(attempt).toThrow(type);
      expect(attempt).toThrow(message);
    });
  }
});

describe("timers that fire early", () => {
  it("emits one retry event per open period even when the platform wakes it a millisecond early", () => {
    make();
    const base = clock;
    // Timers that fire 1 ms before their time, like setTimeout measured against Date.now().
    const early = {
      now: () => base.now(),
      setTimeout: (fn: () => void, ms: number) => base.setTimeout(fn, ms > 1 ? ms - 1 : ms),
      clearTimeout: (handle: unknown) => base.clearTimeout(handle as number),
    };
    const socket = new ResilientSocket({
      transport,
      clock: early,
      random: () => 0.5,
      autoConnect: false,
      circuitBreaker: { consecutiveFailures: 1, openMs: 10_000, maxOpenMs: 10_000 },
    });
    sockets.push(socket);
    const retries = record<RetryEvent>(socket, "retry");
    socket.connect();
    transport.last.close();
    base.advance(7_000); // open for 10 s × (0.5 + 0.5 × 0.5) = 7.5 s
    expect(transport.attempts).toHaveLength(1);
    base.advance(1_000);
    expect(retries.map((r) => r.cause)).toEqual(["circuit"]);
    expect(transport.attempts).toHaveLength(2);
  });

  it("keeps a message's age when a send fails during the flush", () => {
    const socket = make({ queue: { ttlMs: 1_000 } });
    const drops = record<{ data: unknown; reason: string }>(socket, "drop");
    socket.send("a");
    clock.advance(600);
    socket.connect();
    transport.refuseSends = true;
    transport.last.open();
    expect(socket.stats().queue.messages).toBe(1);
    clock.advance(401);
    socket.stats();
    expect(drops).toEqual([{ data: "a", reason: "expired" }]);
  });
});

describe("close() from inside a listener", () => {
  it("on entering connecting: the attempt is never made and nothing is left running", () => {
    const socket = make();
    socket.on("state", (state) => state === "connecting" && void socket.close());
    socket.connect();
    expect(socket.state).toBe("closed");
    expect(transport.attempts).toHaveLength(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("on a REFUSED error: the socket ends closed, not stopped, and cannot be restarted", () => {
    const socket = make();
    socket.on("error", () => void socket.close());
    socket.connect();
    transport.last.close({ kind: "refused", code: 401 });
    expect(socket.state).toBe("closed");
    expect(socket.send("x")).toBe("dropped");
    socket.connect();
    expect(transport.attempts).toHaveLength(1);
  });

  it("on the close event of a deliberate server close: closed, no reconnect", () => {
    const socket = make({ reconnectOnServerClose: true });
    socket.on("close", () => void socket.close());
    socket.connect();
    transport.last.open();
    transport.last.close({ kind: "deliberate", code: 1000 });
    expect(socket.state).toBe("closed");
    clock.advance(600_000);
    expect(transport.attempts).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("on the breaker going half-open: no probe and no later attempts", () => {
    const socket = make({ circuitBreaker: { consecutiveFailures: 1, openMs: 1_000, maxOpenMs: 1_000 } });
    socket.on("circuit", ({ state }) => state === "half-open" && void socket.close());
    socket.connect();
    transport.last.close();
    clock.advance(3_600_000);
    expect(socket.state).toBe("closed");
    expect(transport.attempts).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("on a send error during the flush: the message is counted as dropped, not re-queued", () => {
    const socket = make();
    socket.send("a");
    socket.send("b");
    socket.on("error", () => void socket.close());
    socket.connect();
    transport.refuseSends = true;
    transport.last.open();
    expect(socket.state).toBe("closed");
    expect(socket.stats()).toMatchObject({ queue: { messages: 0, bytes: 0 }, dropped: 2 });
  });
});

describe("message order and unsendable messages", () => {
  it("sends queued messages before one sent from a state listener on open", () => {
    const socket = make();
    socket.send("queued-1");
    socket.send("queued-2");
    socket.on("state", (state) => state === "open" && socket.send("from-listener"));
    socket.connect();
    transport.last.open();
    expect(transport.last.sent).toEqual(["queued-1", "queued-2", "from-listener"]);
  });

  it("drops a message the transport cannot encode at once, so it never blocks the queue", () => {
    const socket = make();
    transport.encode = (data: unknown) => JSON.stringify(data);
    const drops = record<{ data: unknown; reason: string }>(socket, "drop");
    const errors = record<Error & { code: string }>(socket, "error");
    expect(socket.send({ n: 1n })).toBe("dropped");
    expect(socket.send("hello")).toBe("queued");
    socket.connect();
    transport.last.open();
    expect(transport.last.sent).toEqual([JSON.stringify("hello")]);
    expect(drops.map((d) => d.reason)).toEqual(["unsendable"]);
    expect(errors.map((e) => e.code)).toEqual(["TRANSPORT_ERROR"]);
  });

  it("rejects a clock without clearTimeout when constructed, naming the option", () => {
    const clockWithout = { now: () => 0, setTimeout: () => 0 };
    expect(() => make({ clock: clockWithout as never })).toThrow(
      /clock must be an object with now\(\), setTimeout\(\) and clearTimeout\(\)/,
    );
  });
});

describe("what a server says in a close", () => {
  it("quotes at most 256 characters of a hostile reason in the error, whatever the transport", () => {
    const socket = make();
    const errors = record<Error>(socket, "error");
    socket.connect();
    transport.last.open();
    transport.last.close({
      kind: "closed",
      code: 1006,
      reason: "x".repeat(10_000),
      error: new Error("bad frame"),
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe(`connection broke: ${"x".repeat(256)}…`);
  });

  it('says "connection failed" for an attempt that never opened', () => {
    const socket = make();
    const errors = record<Error>(socket, "error");
    socket.connect();
    transport.last.close({ kind: "error", reason: "ECONNREFUSED", error: new Error("refused") });
    expect(errors.map((e) => e.message)).toEqual(["connection failed: ECONNREFUSED"]);
  });
});
