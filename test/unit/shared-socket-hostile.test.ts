/**
 * SharedSocket against a same-origin script, on the virtual clock with the lock manager and channel of
 * `test/helpers/tabs.ts`: the script posts forged leader messages on the channel and uses the lock manager in
 * its own context (a client id of its own). Each attack ends with the tabs on the real leader, nothing lost or
 * acknowledged by the forger, and every wait bounded; what the script can still do is in docs/security.md.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type DropEvent,
  exponentialNoJitter,
  type LockManagerLike,
  ResilientSocket,
  SharedSocket,
  VirtualClock,
} from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";
import { Channels, currentTerm, Locks, Page } from "../helpers/tabs.js";

let clock: VirtualClock;
let transport: FakeTransport;
let locks: Locks;
let channels: Channels;
const tabs: SharedSocket[] = [];
const microtasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};
async function settle() {
  await microtasks();
  while (channels.deliverNext()) await microtasks();
}
async function advance(ms: number) {
  await settle();
  clock.advance(ms);
  await settle();
}

function setup() {
  clock = new VirtualClock(1_000);
  transport = new FakeTransport(() => clock.now());
  locks = new Locks();
  // Asynchronous delivery, as in a browser: races between tabs (and the forger) show.
  channels = new Channels(true);
}
function tab(
  options: {
    locks?: LockManagerLike;
    maxInheritedWaitMs?: number;
    page?: Page;
    create?: () => ResilientSocket;
  } = {},
) {
  const shared = new SharedSocket({
    name: "app",
    takeoverJitterMs: 1_000,
    locks: options.locks ?? locks.client(),
    channel: channels.create,
    page: options.page ?? false,
    clock,
    random: () => 0.5,
    ...(options.maxInheritedWaitMs === undefined ? {} : { maxInheritedWaitMs: options.maxInheritedWaitMs }),
    create:
      options.create ??
      (() =>
        // Errors are not what these tests look at: unheard, each socket would print its one warning.
        new ResilientSocket({
          transport,
          clock,
          random: () => 0.5,
          backoff: exponentialNoJitter({ baseMs: 100, capMs: 1_000 }),
        }).on("error", () => {})),
  });
  tabs.push(shared);
  return shared;
}
/**
 * A tab's own `navigator.locks`, whose `query()` goes through `query` (given the real one): to count, delay
 * or fail the lock manager's answers.
 */
function querying(
  query: (real: () => ReturnType<LockManagerLike["query"]>) => ReturnType<LockManagerLike["query"]>,
) {
  const own = locks.client();
  return { request: own.request, query: () => query(() => own.query()) } satisfies LockManagerLike;
}
/** A leader with its socket open and a follower whose lock manager counts its queries. */
async function leaderAndCountedFollower() {
  let queries = 0;
  const a = tab();
  const b = tab({
    locks: querying((real) => {
      queries++;
      return real();
    }),
  });
  await settle();
  transport.last.open();
  await settle();
  return { a, b, queries: () => queries };
}
function drops(shared: SharedSocket): DropEvent[] {
  const seen: DropEvent[] = [];
  shared.on("drop", (event) => seen.push(event));
  return seen;
}
function received(shared: SharedSocket): unknown[] {
  const seen: unknown[] = [];
  shared.on("message", (data) => seen.push(data));
  return seen;
}
/** The forger: a channel endpoint of its own, hearing what the tabs post, and a lock manager in its own name. */
function forger() {
  const heard: Record<string, unknown>[] = [];
  const endpoint = channels.create("resilient-reconnect:app");
  endpoint.onmessage = ({ data }) => heard.push(data);
  const own = locks.client("forger");
  return {
    heard,
    post: (message: unknown) => endpoint.postMessage(message),
    /** Takes `name` in the forger's own context and never lets go. */
    hold: (name: string, steal = false) =>
      void own.request(name, { steal }, () => new Promise<void>(() => {})),
    /** The id a tab's sends carry, read off the channel. */
    idOf: () => heard.find((m) => m.t === "send")?.from,
  };
}
const allSent = () => transport.attempts.flatMap((attempt) => attempt.sent);

afterEach(async () => {
  for (const t of tabs.splice(0)) await t.close();
});

describe("SharedSocket under a same-origin script", () => {
  it("does not follow a forged state with a new epoch: the state stays, and sends still reach the server", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await settle();
    transport.last.open();
    const evil = forger();
    evil.post({ t: "state", epoch: "forged", state: "stopped", nextAttemptAt: clock.now() + 600_000 });
    await settle();
    expect([a.state, b.state]).toEqual(["open", "open"]);
    expect(b.send("still through")).toBe("forwarded");
    await settle();
    expect(allSent()).toEqual(["still through"]);
  });

  it("does not follow a forged term even when the forger holds a lock named after it in its own context", async () => {
    setup();
    const [, b] = [tab(), tab()];
    await settle();
    transport.last.open();
    const evil = forger();
    evil.hold("resilient-reconnect-term:forged:app");
    await settle();
    evil.post({ t: "state", epoch: "forged", state: "waiting" });
    evil.post({ t: "message", epoch: "forged", data: "forged" });
    const got = received(b);
    await settle();
    expect(b.state).toBe("open");
    expect(got).toEqual([]);
    transport.last.message("real");
    await settle();
    expect(got).toEqual(["real"]);
  });

  it("takes the real new leader's term when forged states reach a follower first, losing none of its messages", async () => {
    setup();
    const [a, b, c] = [tab(), tab(), tab()];
    await settle();
    transport.last.open();
    await a.close();
    const evil = forger();
    for (let i = 0; i < 5; i++) evil.post({ t: "state", epoch: `forged-${i}`, state: "open" });
    const got = received(c);
    expect(c.send("between leaders")).toBe("forwarded");
    await advance(1_000);
    expect(b.role).toBe("leader");
    transport.last.open();
    transport.last.message("first from the new leader");
    await settle();
    expect(c.state).toBe("open");
    expect(got).toEqual(["first from the new leader"]);
    expect(allSent()).toEqual(["between leaders"]);
  });

  it("settles a message only by an ack or drop of the term it was handed to, never by a forged one", async () => {
    setup();
    const [a, b, c] = [tab(), tab(), tab()];
    await settle();
    transport.last.open();
    transport.last.close({ kind: "closed" });
    const evil = forger();
    const dropped = drops(c);
    const got = received(c);
    c.send("kept"); // queued by a's disconnected socket: not acknowledged yet
    await settle();
    const to = evil.idOf();
    expect(typeof to).toBe("string");
    for (const epoch of ["forged", "x".repeat(200)]) {
      evil.post({ t: "ack", to, id: 1, epoch });
      evil.post({ t: "drop", to, id: 1, reason: "overflow", epoch });
      evil.post({ t: "message", data: "forged", epoch });
    }
    evil.post({ t: "message", data: "forged without a term" });
    await settle();
    expect(dropped).toEqual([]);
    expect(got).toEqual([]);
    // a leaves before its socket sent "kept": c still holds it, and the next leader sends it.
    await a.close();
    await advance(1_000);
    expect(b.role).toBe("leader");
    transport.last.open();
    await settle();
    expect(allSent()).toEqual(["kept"]);
  });

  it("bounds a forged nextAttemptAt of the current term: a takeover waits at most maxInheritedWaitMs", async () => {
    setup();
    const [a, b] = [tab(), tab({ maxInheritedWaitMs: 30_000 })];
    await settle();
    transport.last.open();
    const evil = forger();
    // The current term is no secret: any script of the origin reads it off the lock names (or the channel).
    evil.post({
      t: "state",
      epoch: currentTerm(locks),
      state: "waiting",
      nextAttemptAt: clock.now() + 600_000,
    });
    await settle();
    const closedAt = clock.now();
    await a.close();
    await settle();
    expect(b.role).toBe("leader");
    await advance(29_999);
    expect(transport.attempts).toHaveLength(1);
    await advance(1);
    expect(transport.attempts).toHaveLength(2);
    expect(transport.last.at - closedAt).toBe(30_000);
  });

  it("gives up a forwarded message after ackTimeoutMs when the lock is held by a script that never leads", async () => {
    setup();
    const evil = forger();
    evil.hold("resilient-reconnect:app");
    await settle();
    const b = tab();
    await settle();
    expect(b.role).toBe("follower");
    const dropped = drops(b);
    expect(b.send("nobody to take it")).toBe("forwarded");
    await advance(119_999);
    expect(dropped).toEqual([]);
    await advance(1);
    expect(dropped).toEqual([{ data: "nobody to take it", reason: "expired" }]);
    expect(clock.pendingTimers()).toBe(0);
    expect(transport.attempts).toHaveLength(0);
  });

  it("makes a leader whose lock is stolen step down and close its socket, so the browser keeps one connection", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await settle();
    transport.last.open();
    const evil = forger();
    evil.hold("resilient-reconnect:app", true);
    await settle();
    expect([a.role, b.role]).toEqual(["follower", "follower"]);
    expect(transport.live).toBe(0);
    // The thief announces nothing: a follower's message is given up after ackTimeoutMs, not kept for ever.
    const dropped = drops(b);
    b.send("to nobody");
    await advance(120_000);
    expect(dropped).toEqual([{ data: "to nobody", reason: "expired" }]);
  });

  it("checks each forged epoch once, holding the channel in order meanwhile and losing none of the leader's messages", async () => {
    setup();
    const { b, queries } = await leaderAndCountedFollower();
    const baseline = queries();
    const evil = forger();
    const got = received(b);
    for (let i = 0; i < 1_000; i++) evil.post({ t: "state", epoch: "forged", state: "stopped" });
    for (let i = 0; i < 100; i++) evil.post({ t: "state", epoch: `forged-${i}`, state: "stopped" });
    transport.last.message("real");
    await settle();
    expect(queries() - baseline).toBe(101);
    expect(b.state).toBe("open");
    expect(got).toEqual(["real"]);
  });

  it("checks a term again after the lock manager failed to answer (a failure is no refusal)", async () => {
    setup();
    let failures = 1;
    const a = tab();
    const b = tab({
      locks: querying((real) => (failures-- > 0 ? Promise.reject(new Error("InvalidStateError")) : real())),
    });
    await settle();
    expect(a.role).toBe("leader");
    expect(failures).toBeLessThan(0); // the first check failed
    transport.last.open(); // the leader announces again, with the same term
    await settle();
    expect(b.state).toBe("open");
  });

  it("keeps the leader's own messages and acks flowing while a forged term is checked, however many messages wait", async () => {
    setup();
    // A browser answers query() after the burst already queued on the channel: the test answers it by hand.
    const answers: (() => void)[] = [];
    const a = tab();
    const b = tab({
      locks: querying((real) => new Promise((resolve) => answers.push(() => void real().then(resolve)))),
    });
    await settle();
    for (const answer of answers.splice(0)) answer();
    await settle();
    transport.last.open();
    await settle();
    expect(b.state).toBe("open");
    const got = received(b);
    const dropped = drops(b);
    const evil = forger();
    evil.post({ t: "state", epoch: "forged", state: "stopped" });
    await settle();
    expect(answers).toHaveLength(1); // the check runs: the channel waits for its answer
    transport.last.message("real");
    expect(b.send("through")).toBe("forwarded");
    await settle();
    for (let i = 0; i < 1_500; i++) evil.post({ t: "message", epoch: "forged", data: i });
    await settle();
    // Nothing of the term b follows waits on the check of another term.
    expect(got).toEqual(["real"]);
    expect(allSent()).toEqual(["through"]);
    for (const answer of answers.splice(0)) answer();
    await settle();
    expect(got).toEqual(["real"]);
    expect(answers).toHaveLength(0);
    await advance(120_000);
    expect(dropped).toEqual([]); // the ack was not lost: nothing expires
    expect(a.role).toBe("leader");
  });

  it("remembers at most 1,000 senders per term however many tab ids a script forges, and still takes a tab's message once", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await settle();
    transport.last.open();
    const evil = forger();
    const epoch = currentTerm(locks);
    for (let i = 0; i < 5_000; i++) evil.post({ t: "send", from: `forged-${i}`, id: 1, epoch, data: i });
    await settle();
    const relay = (a as unknown as { relay: { taken: Map<string, number> } }).relay;
    expect(relay.taken.size).toBeLessThanOrEqual(1_000);
    const dropped = drops(b);
    expect(b.send("once")).toBe("forwarded");
    await settle();
    expect(allSent().filter((data) => data === "once")).toHaveLength(1);
    await advance(120_000);
    expect(dropped).toEqual([]);
  });

  it("leaves no timer after close when pageshow comes while the tab waits to ask for the lock again", async () => {
    setup();
    const page = new Page();
    let creates = 0;
    const a = tab({
      page,
      create: () => {
        creates++;
        throw new Error("no socket today");
      },
    });
    a.on("error", () => {});
    await settle();
    expect(creates).toBe(1); // create threw: a stepped down and waits to ask again
    // A page's first pageshow comes after load, when a tab may already have stepped down once.
    page.dispatchEvent(new Event("pageshow"));
    await advance(500); // granted again, it waits its takeover jitter, and create throws again
    expect(creates).toBe(2);
    await a.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("does not post a tab's waiting messages again when a forged leaving makes it re-adopt the same term", async () => {
    setup();
    // The lock manager fails every other query (a page not fully active): a leaving it cannot check is taken.
    let queries = 0;
    const [, b] = [
      tab(),
      tab({
        locks: querying((real) =>
          ++queries % 2 === 0 ? Promise.reject(new Error("InvalidStateError")) : real(),
        ),
      }),
    ];
    await settle();
    transport.last.open();
    transport.last.close({ kind: "closed" }); // the leader's socket queues: b's messages wait unacknowledged
    const evil = forger();
    for (let i = 0; i < 100; i++) b.send(`m${i}`);
    await settle();
    const epoch = currentTerm(locks);
    const sends = () => evil.heard.filter((m) => m.t === "send").length;
    expect(sends()).toBe(100);
    for (let i = 0; i < 20; i++) {
      evil.post({ t: "leaving", epoch });
      await settle();
    }
    expect(b.state).toBe("waiting");
    expect(queries).toBeGreaterThanOrEqual(40); // each leaving was taken, and the term adopted again
    // Each forged leaving costs a hello and a check, not 100 messages re-posted to every tab.
    expect(sends()).toBe(100);
    await advance(1_000);
    transport.last.open();
    await settle();
    expect(allSent()).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
  });

  it("gives a message handed to a new leader the whole ackTimeoutMs from then: its socket's queue ttl expires it first, not the sender", async () => {
    setup();
    const [a, b, c] = [tab(), tab(), tab()];
    await settle();
    transport.last.open();
    const dropped = drops(c);
    const hint = { source: "close-code" as const, delayMs: 120_000, spreadMs: 0 };
    transport.last.close({ kind: "closed", code: 1013, hint: { hint } });
    const sentAt = clock.now();
    expect(c.send("late but sent")).toBe("forwarded"); // queued by a's socket, waiting on the hint
    await advance(10_000);
    await a.close(); // b takes over, waiting maxInheritedWaitMs (60 s) of the server's hint
    await advance(60_000);
    expect(b.role).toBe("leader");
    expect(transport.attempts).toHaveLength(2);
    // b's socket queued the message 70 s after c's send(): its queue keeps it 60 s (queue.ttlMs) from then.
    await advance(sentAt + 125_000 - clock.now());
    transport.last.open();
    await settle();
    expect(allSent()).toEqual(["late but sent"]);
    expect(dropped).toEqual([]);
  });

  it("keeps following a live term through forged leavings of it: no inbound message of the leader is lost", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await settle();
    transport.last.open();
    await settle();
    const got = received(b);
    const states: string[] = [];
    b.on("state", (state) => states.push(state));
    const evil = forger();
    const epoch = currentTerm(locks);
    for (let i = 0; i < 50; i++) {
      evil.post({ t: "leaving", epoch });
      transport.last.message(i);
    }
    await settle();
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(states).toEqual([]);
    expect(b.state).toBe("open");
    // A real leaving still ends the term: the next leader takes over and b follows it.
    await a.close();
    await advance(1_000);
    transport.last.open();
    await settle();
    expect(b.state).toBe("open");
    expect(b.role).toBe("leader");
  });

  it("answers a hello flood with one small state per hello and costs the followers no query", async () => {
    setup();
    const { b, queries } = await leaderAndCountedFollower();
    const evil = forger();
    const baseline = queries();
    for (let i = 0; i < 5_000; i++) evil.post({ t: "hello" });
    await settle();
    const states = evil.heard.filter((m) => m.t === "state");
    expect(states).toHaveLength(5_000);
    expect(Math.max(...states.map((m) => JSON.stringify(m).length))).toBeLessThan(200);
    expect(queries() - baseline).toBe(0);
    expect(b.state).toBe("open");
  });

  it("holds no term and announces nothing when its term lock comes only after the app lock was stolen", async () => {
    setup();
    const own = locks.client();
    let grantTerm: (() => void) | undefined;
    const a = tab({
      locks: {
        // The term lock's request reaches the lock manager only when the test lets it.
        request: (name, options, callback) =>
          name.startsWith("resilient-reconnect-term:")
            ? new Promise((resolve, reject) => {
                grantTerm = () => void own.request(name, options, callback).then(resolve, reject);
              })
            : own.request(name, options, callback),
        query: own.query,
      },
    });
    const evil = forger();
    await settle();
    expect(a.role).toBe("leader");
    expect(grantTerm).toBeDefined();
    evil.hold("resilient-reconnect:app", true);
    await settle();
    expect(a.role).toBe("follower");
    grantTerm?.();
    await settle();
    expect(locks.snapshot().held.map((lock) => lock.name)).toEqual(["resilient-reconnect:app"]);
    expect(evil.heard.filter((m) => m.t === "state")).toEqual([]);
    expect(transport.attempts).toHaveLength(0);
  });
});
