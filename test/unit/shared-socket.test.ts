/**
 * SharedSocket's protocol on the virtual clock: the lock manager and channel of `test/helpers/tabs.ts` stand in
 * for the browser's (synchronous or asynchronous delivery); the real ones run in the Chromium test.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  exponentialNoJitter,
  ResilientSocket,
  type ResilientSocketOptions,
  SharedSocket,
  type SocketState,
  VirtualClock,
} from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";
import { Channels, Locks, Page } from "../helpers/tabs.js";

let clock: VirtualClock;
let transport: FakeTransport;
let locks: Locks;
let channels: Channels;
/** Every socket the tabs created, in order. */
let sockets: ResilientSocket[];
const tabs: SharedSocket[] = [];
const microtasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};
/** Lets lock grants (promises) and channel deliveries run until nothing is left. */
async function settle() {
  await microtasks();
  while (channels.deliverNext()) await microtasks();
}
/** Settles, moves the virtual clock, then settles again. */
async function advance(ms: number) {
  await settle();
  clock.advance(ms);
  await settle();
}

function setup({ async = false } = {}) {
  clock = new VirtualClock(1_000);
  transport = new FakeTransport(() => clock.now());
  locks = new Locks();
  channels = new Channels(async);
  sockets = [];
}
function socket(options: Partial<ResilientSocketOptions> = {}): ResilientSocket {
  const created = new ResilientSocket({
    transport,
    clock,
    random: () => 0.5,
    backoff: exponentialNoJitter({ baseMs: 100, capMs: 1_000 }),
    ...options,
  });
  sockets.push(created);
  return created;
}
function tab({
  random = 0.5,
  create = () => socket(),
  page = new Page(),
  maxPending = 3,
}: {
  random?: number;
  create?: () => ResilientSocket;
  page?: Page;
  maxPending?: number;
} = {}) {
  const shared = new SharedSocket({
    name: "app",
    takeoverJitterMs: 1_000,
    maxPending,
    locks: locks.client(),
    channel: channels.create,
    page,
    clock,
    random: () => random,
    create,
  });
  tabs.push(shared);
  return shared;
}
function states(shared: SharedSocket): SocketState[] {
  const seen: SocketState[] = [];
  shared.on("state", (state) => seen.push(state));
  return seen;
}
function drops(shared: SharedSocket): unknown[] {
  const seen: unknown[] = [];
  shared.on("drop", (event) => seen.push(event));
  return seen;
}
const allSent = () => transport.attempts.flatMap((attempt) => attempt.sent);

afterEach(async () => {
  for (const t of tabs.splice(0)) await t.close();
});

describe("SharedSocket", () => {
  it("makes one tab the leader with the only connection; the others follow its state", async () => {
    setup();
    const [a, b, c] = [tab(), tab(), tab()];
    await settle();
    expect([a.role, b.role, c.role]).toEqual(["leader", "follower", "follower"]);
    expect(transport.attempts).toHaveLength(1);
    transport.last.open();
    expect([a.state, b.state, c.state]).toEqual(["open", "open", "open"]);
  });

  it("carries a follower's message to the server through the leader and every inbound message to all", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    const got = { a: [] as unknown[], b: [] as unknown[] };
    a.on("message", (m) => got.a.push(m));
    b.on("message", (m) => got.b.push(m));
    await settle();
    transport.last.open();
    expect(b.send("hello")).toBe("forwarded");
    expect(transport.last.sent).toEqual(["hello"]);
    transport.last.message("echo");
    expect(got).toEqual({ a: ["echo"], b: ["echo"] });
  });

  it("sends with sendNow only from the leader's open socket, never queued or forwarded", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await settle();
    expect(a.sendNow("too early")).toBe(false);
    transport.last.open();
    expect(b.sendNow("from a follower")).toBe(false);
    expect(a.sendNow("now")).toBe(true);
    await settle();
    expect(transport.last.sent).toEqual(["now"]);
    expect(sockets[0]?.stats().queue.messages).toBe(0);
  });

  it("broadcasts to every other tab, not to the server, in order with the leader's relayed messages", async () => {
    setup({ async: true });
    const [a, b, c] = [tab(), tab(), tab()];
    await settle();
    transport.last.open();
    await settle();
    const seen: string[] = [];
    for (const [name, t] of [
      ["a", a],
      ["b", b],
      ["c", c],
    ] as const) {
      t.on("broadcast", (data) => seen.push(`${name} got ${String(data)}`));
      t.on("message", (data) => seen.push(`${name} got ${String(data)}`));
    }
    expect(a.broadcast("before")).toBe(true);
    transport.last.message("server");
    a.broadcast("after");
    expect(b.broadcast(() => "no clone")).toBe(false);
    await settle();
    expect(seen).toEqual([
      "a got server",
      "b got before",
      "c got before",
      "b got server",
      "c got server",
      "b got after",
      "c got after",
    ]);
    expect(transport.last.sent).toEqual([]);
    await b.close();
    expect(b.broadcast("closed")).toBe(false);
  });

  it("hands over to the next tab when the leader closes, after the takeover jitter, re-sending what was not acknowledged", async () => {
    setup();
    const a = tab();
    const b = tab({ random: 0.25 });
    await settle();
    transport.last.open();
    await a.close();
    expect(transport.last.closedByClient).toBe(true);
    // Between leaders: kept, not lost.
    expect(b.send("while nobody leads")).toBe("forwarded");
    await settle();
    expect(b.role).toBe("leader");
    expect(transport.attempts).toHaveLength(1);
    await advance(249);
    expect(transport.attempts).toHaveLength(1);
    await advance(1);
    expect(transport.attempts).toHaveLength(2);
    transport.last.open();
    expect(transport.last.sent).toEqual(["while nobody leads"]);
  });

  it("refuses a follower's new message once maxPending are unsent, keeping the ones already handed on", async () => {
    setup();
    const a = tab();
    const b = tab();
    await settle();
    await a.close();
    await settle();
    // b leads but is still inside its takeover jitter (no socket yet): a third tab's messages wait for it.
    expect(b.role).toBe("leader");
    const c = tab();
    await settle();
    const dropped = drops(c);
    const results = ["1", "2", "3", "4", "5"].map((text) => c.send(text));
    expect(results).toEqual(["forwarded", "forwarded", "forwarded", "dropped", "dropped"]);
    expect(dropped).toEqual([
      { data: "4", reason: "overflow" },
      { data: "5", reason: "overflow" },
    ]);
    await advance(1_000);
    transport.last.open();
    await settle();
    expect(transport.last.sent).toEqual(["1", "2", "3"]);
  });

  it.each([
    ["waiting", false],
    ["paused by an offline page", true],
  ])(
    "a tab taking over from a leader %s during a hinted wait does not connect before the hint's moment",
    async (_, offline) => {
      setup();
      const page = new Page();
      const a = tab({ create: () => socket({ signals: { window: page, navigator: { onLine: true } } }) });
      const b = tab();
      await settle();
      transport.last.open();
      const hint = { source: "close-code" as const, delayMs: 60_000, spreadMs: 0 };
      transport.last.close({ kind: "closed", code: 1013, hint: { hint } });
      const hintAt = sockets[0]?.stats().nextAttemptAt ?? 0;
      expect(hintAt).toBeGreaterThanOrEqual(clock.now() + 60_000);
      await advance(5_000);
      if (offline) {
        page.dispatchEvent(new Event("offline"));
        expect(sockets[0]?.state).toBe("paused");
        // Paused: no retry is pending, but the policy's moment is kept and announced.
        expect(sockets[0]?.stats()).toMatchObject({ nextAttemptAt: undefined, plannedAt: hintAt });
      }
      await advance(5_000);
      await a.close();
      await settle();
      expect(b.role).toBe("leader");
      await advance(hintAt - clock.now() - 1);
      expect(transport.attempts).toHaveLength(1);
      await advance(1);
      expect(transport.attempts).toHaveLength(2);
      expect(transport.last.at).toBe(hintAt);
    },
  );

  it("a follower's message accepted while disconnected reaches the server after the leader tab closes", async () => {
    setup();
    const a = tab();
    const b = tab();
    await settle();
    // a's socket is still connecting: it can only queue b's message.
    expect(b.send("kept")).toBe("forwarded");
    await settle();
    expect(sockets[0]?.stats().queue.messages).toBe(1);
    await a.close();
    await advance(1_000);
    expect(b.role).toBe("leader");
    transport.last.open();
    expect(allSent()).toEqual(["kept"]);
  });

  it("a message flushed from the leader's queue on open is not sent again by the next leader", async () => {
    setup();
    const a = tab();
    const b = tab();
    const c = tab();
    await settle();
    c.send("once");
    await settle();
    transport.last.open();
    await settle();
    await a.close();
    await advance(1_000);
    transport.last.open();
    await settle();
    expect(allSent()).toEqual(["once"]);
    expect(drops(c)).toEqual([]);
    expect(b.role).toBe("leader");
  });

  it("a follower is told when the leader's socket dropped its message", async () => {
    setup();
    tab({ create: () => socket({ queue: false }) });
    const b = tab();
    await settle();
    const dropped = drops(b);
    expect(b.send("no queue")).toBe("forwarded");
    await settle();
    expect(dropped).toEqual([{ data: "no queue", reason: "disconnected" }]);
  });

  it("a follower is told when the leader's socket later discards a message it had queued", async () => {
    setup();
    tab({ create: () => socket({ queue: { maxMessages: 1 } }) });
    const b = tab();
    await settle();
    const dropped = drops(b);
    b.send("older");
    b.send("newer");
    await settle();
    expect(dropped).toEqual([{ data: "older", reason: "overflow" }]);
    transport.last.open();
    await settle();
    expect(allSent()).toEqual(["newer"]);
  });

  it("messages sent around a takeover reach the server once each, in order", async () => {
    setup({ async: true });
    const a = tab();
    const b = tab();
    const c = tab({ maxPending: 10 });
    await settle();
    transport.last.open();
    c.send("m1");
    await settle();
    transport.last.close({ kind: "closed" });
    c.send("m2"); // queued by a's socket
    await settle();
    await a.close();
    c.send("m3"); // still tagged with a's term: c has not heard that a left
    await settle();
    expect(b.role).toBe("leader");
    c.send("m4"); // between leaders
    clock.advance(1_000); // b creates its socket and announces itself...
    c.send("m5"); // ...but c has not heard it yet
    await settle();
    c.send("m6");
    await settle();
    transport.last.open();
    await settle();
    expect(allSent()).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
    expect(transport.attempts.map((attempt) => attempt.sent)).toEqual([
      ["m1"],
      ["m2", "m3", "m4", "m5", "m6"],
    ]);
  });

  it("followers never see 'closed' when the leader tab leaves", async () => {
    setup({ async: true });
    const a = tab();
    const b = tab();
    await settle();
    transport.last.open();
    await settle();
    const seen = states(b);
    await a.close();
    await settle();
    await advance(1_000);
    transport.last.open();
    await settle();
    expect(seen).not.toContain("closed");
    expect(seen).toEqual(["waiting", "idle", "connecting", "open"]);
    expect(a.state).toBe("closed");
  });

  it("a follower restarts the leader's stopped connection with connect()", async () => {
    setup({ async: true });
    tab();
    const b = tab();
    await settle();
    transport.last.open();
    transport.last.close({ kind: "deliberate", code: 1000 });
    await settle();
    expect(b.state).toBe("stopped");
    b.connect();
    await settle();
    expect(transport.attempts).toHaveLength(2);
    transport.last.open();
    await settle();
    expect(b.state).toBe("open");
  });

  it("a leader whose socket was closed under it hands the lead to another tab, and asks for it again", async () => {
    setup({ async: true });
    const a = tab();
    const b = tab();
    await settle();
    transport.last.open();
    await settle();
    const seenA = states(a);
    const seenB = states(b);
    await sockets[0]?.close();
    await settle();
    expect([a.role, b.role]).toEqual(["follower", "leader"]);
    await advance(2_000);
    expect(transport.attempts).toHaveLength(2);
    transport.last.open();
    await settle();
    expect([a.state, b.state]).toEqual(["open", "open"]);
    expect([...seenA, ...seenB]).not.toContain("closed");
    // a queued for the lock again: it leads when b leaves.
    await b.close();
    await settle();
    expect(a.role).toBe("leader");
  });

  it("a first leader whose create() throws reports an error and lets another tab lead", async () => {
    setup();
    const a = tab({
      create: () => {
        throw new Error("no socket today");
      },
    });
    const errors: unknown[] = [];
    a.on("error", (error) => errors.push(error));
    const b = tab();
    await settle();
    expect(errors).toEqual([expect.objectContaining({ name: "SocketCreateError", code: "CREATE_FAILED" })]);
    expect([a.role, b.role]).toEqual(["follower", "leader"]);
    expect(transport.attempts).toHaveLength(1);
    // a asks again after a while; it gets the lock once b leaves (and fails again, without harm).
    await advance(2_000);
    await b.close();
    await settle();
    expect(a.role).toBe("leader");
    await advance(1_000);
    expect(errors).toHaveLength(2);
    expect(a.role).toBe("follower");
  });

  it("a tab whose create() throws while taking over releases the lock for the next tab", async () => {
    setup();
    let fail = false;
    const a = tab();
    const b = tab({
      create: () => {
        if (fail) throw new Error("no socket today");
        return socket();
      },
    });
    const c = tab();
    await settle();
    fail = true;
    const errors: unknown[] = [];
    b.on("error", (error) => errors.push(error));
    await a.close();
    await settle();
    expect(b.role).toBe("leader");
    await advance(1_000);
    expect(errors).toHaveLength(1);
    expect([b.role, c.role]).toEqual(["follower", "leader"]);
    await advance(1_000);
    expect(transport.attempts).toHaveLength(2);
  });

  it("closing from a role listener during a takeover leaves no timer and the lock free", async () => {
    setup();
    const a = tab();
    const b = tab();
    b.on("role", (role) => role === "leader" && void b.close());
    await settle();
    await a.close();
    await settle();
    expect(b.role).toBe("closed");
    expect(clock.pendingTimers()).toBe(0);
    const c = tab();
    await settle();
    expect(c.role).toBe("leader");
  });

  it("two tabs with the same random source do not acknowledge each other's messages", async () => {
    setup({ async: true });
    const a = tab();
    const b = tab();
    const c = tab();
    await settle();
    transport.last.open();
    await settle();
    c.send("c1");
    b.send("b1");
    channels.deliverNext(); // c1 reaches a: sent, and acknowledged to c (on the way)
    transport.last.close({ kind: "closed" });
    await settle(); // b1 is queued by a's socket; c's acknowledgement must not discharge b's b1
    await a.close();
    await advance(1_000);
    transport.last.open();
    await settle();
    expect(allSent()).toEqual(["c1", "b1"]);
    expect([b.role, c.role]).toEqual(["leader", "follower"]);
  });

  it("ignores malformed channel messages", async () => {
    setup();
    const a = tab();
    const b = tab();
    await settle();
    transport.last.open();
    const seen = states(b);
    const messages: unknown[] = [];
    b.on("message", (m) => messages.push(m));
    const hostile = channels.create("resilient-reconnect:app");
    for (const junk of [
      null,
      42,
      "state",
      { t: "state", epoch: "x", state: "banana" },
      { t: "state", epoch: "x", state: "closed" },
      { t: "state", state: "open" },
      { t: "state", epoch: "x", state: "open", nextAttemptAt: "soon" },
      { t: "ack", to: 1, id: 1 },
      { t: "drop", to: "x", id: 1, reason: "because" },
      { t: "send", from: "x", id: 1.5, epoch: "x", data: "no" },
      { t: "send", from: "x", id: -1, epoch: "x", data: "no" },
      { t: "leaving" },
      { t: "unknown" },
      { t: { toString: 1 } },
    ])
      expect(() => hostile.postMessage(junk)).not.toThrow();
    await settle();
    expect(seen).toEqual([]);
    expect(messages).toEqual([]);
    expect(transport.last.sent).toEqual([]);
    expect([a.state, b.state]).toEqual(["open", "open"]);
  });

  it("a leader steps down on pagehide and asks to lead again on pageshow", async () => {
    setup();
    const page = new Page();
    const a = tab({ page });
    const b = tab();
    await settle();
    transport.last.open();
    page.dispatchEvent(new Event("pagehide"));
    await settle();
    expect(transport.last.closedByClient).toBe(true);
    expect([a.role, b.role]).toEqual(["follower", "leader"]);
    await advance(1_000);
    expect(transport.live).toBe(1);
    page.dispatchEvent(new Event("pageshow"));
    await b.close();
    await settle();
    expect(a.role).toBe("leader");
  });

  it("a hidden follower leaves the lock queue until it is shown", async () => {
    setup();
    const page = new Page();
    const a = tab();
    const b = tab({ page });
    const c = tab();
    await settle();
    page.dispatchEvent(new Event("pagehide"));
    await a.close();
    await settle();
    expect([b.role, c.role]).toEqual(["follower", "leader"]);
  });

  it("leaves no timer, no listener and no connection after every tab closed", async () => {
    setup({ async: true });
    const pages = [new Page(), new Page()];
    const [a, b] = pages.map((page) => tab({ page })) as [SharedSocket, SharedSocket];
    await settle();
    transport.last.open();
    b.send("x");
    await a.close();
    await settle();
    await advance(500);
    await b.close();
    await settle();
    expect(clock.pendingTimers()).toBe(0);
    expect(transport.live).toBe(0);
    expect(channels.openEndpoints).toBe(0);
    expect(pages.map((page) => page.listeners)).toEqual([0, 0]);
    expect(sockets.map((s) => s.eventNames())).toEqual([[], []]);
  });

  it.each([
    [{ name: "" }, "name"],
    [{ create: 1 }, "create"],
    [{ takeoverJitterMs: -1 }, "takeoverJitterMs"],
    [{ maxPending: Number.NaN }, "maxPending"],
    [{ page: {} }, "page"],
    [{ ackTimeoutMs: 0 }, "ackTimeoutMs"],
    [{ ackTimeoutMs: Number.POSITIVE_INFINITY }, "ackTimeoutMs"],
    [{ maxInheritedWaitMs: -1 }, "maxInheritedWaitMs"],
    [{ locks: { request: () => Promise.resolve() } }, "locks"],
  ])("rejects %j with an error naming %s", (bad, option) => {
    setup();
    const options = {
      name: "x",
      create: () => ({}) as ResilientSocket,
      locks: locks.client(),
      channel: channels.create,
      ...bad,
    };
    expect(() => new SharedSocket(options as never)).toThrow(option);
  });
});
