/**
 * SharedSocket's protocol on the virtual clock: an in-memory lock manager (a FIFO, as Web Locks grants an
 * exclusive lock) and an in-memory channel stand in for the browser's; the real ones run in the Chromium test.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type BroadcastChannelLike,
  exponentialNoJitter,
  type LockManagerLike,
  ResilientSocket,
  SharedSocket,
  VirtualClock,
} from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

class Locks implements LockManagerLike {
  private readonly queue: { run: () => Promise<void>; signal?: AbortSignal; reject: (e: unknown) => void }[] =
    [];
  private held = false;
  request(_name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>) {
    return new Promise<unknown>((resolve, reject) => {
      const entry = {
        run: () => callback().then(resolve, reject),
        reject,
        ...(options.signal ? { signal: options.signal } : {}),
      };
      options.signal?.addEventListener("abort", () => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) {
          this.queue.splice(at, 1);
          reject(new Error("aborted"));
        }
      });
      this.queue.push(entry);
      this.grant();
    });
  }
  private grant() {
    if (this.held) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.held = true;
    void next.run().finally(() => {
      this.held = false;
      this.grant();
    });
  }
}

/** Delivers to every other endpoint of the same name, synchronously (the order is what matters here). */
class Channels {
  private readonly open = new Set<BroadcastChannelLike & { name: string }>();
  create = (name: string): BroadcastChannelLike => {
    const endpoint = {
      name,
      onmessage: null as BroadcastChannelLike["onmessage"],
      postMessage: (message: unknown) => {
        for (const other of [...this.open]) {
          if (other !== endpoint && other.name === name)
            other.onmessage?.({ data: structuredClone(message) } as MessageEvent);
        }
      },
      close: () => void this.open.delete(endpoint),
    };
    this.open.add(endpoint);
    return endpoint;
  };
}

let clock: VirtualClock;
let transport: FakeTransport;
let locks: Locks;
let channels: Channels;
const tabs: SharedSocket[] = [];
const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function setup() {
  clock = new VirtualClock(1_000);
  transport = new FakeTransport(() => clock.now());
  locks = new Locks();
  channels = new Channels();
}
function tab(random = 0.5) {
  const shared = new SharedSocket({
    name: "app",
    takeoverJitterMs: 1_000,
    maxPending: 3,
    locks,
    channel: channels.create,
    clock,
    random: () => random,
    create: () =>
      new ResilientSocket({
        transport,
        clock,
        random: () => 0.5,
        backoff: exponentialNoJitter({ baseMs: 100, capMs: 1_000 }),
      }),
  });
  tabs.push(shared);
  return shared;
}

afterEach(async () => {
  for (const t of tabs.splice(0)) await t.close();
});

describe("SharedSocket", () => {
  it("makes one tab the leader with the only connection; the others follow its state", async () => {
    setup();
    const [a, b, c] = [tab(), tab(), tab()];
    await flush();
    expect([a.role, b.role, c.role]).toEqual(["leader", "follower", "follower"]);
    expect(transport.attempts).toHaveLength(1);
    transport.last.open();
    expect([a.state, b.state, c.state]).toEqual(["open", "open", "open"]);
  });

  it("carries a follower's message to the server through the leader and every inbound message to all", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    const got: unknown[] = [];
    a.on("message", (m) => got.push(["a", m]));
    b.on("message", (m) => got.push(["b", m]));
    await flush();
    transport.last.open();
    expect(b.send("hello")).toBe("forwarded");
    expect(transport.last.sent).toEqual(["hello"]);
    transport.last.message("echo");
    expect(got).toEqual([
      ["a", "echo"],
      ["b", "echo"],
    ]);
  });

  it("hands over to the next tab when the leader closes, after the takeover jitter, re-sending what was not acknowledged", async () => {
    setup();
    const a = tab();
    const b = tab(0.25);
    await flush();
    transport.last.open();
    await a.close();
    expect(transport.last.closedByClient).toBe(true);
    // Between leaders: kept, not lost.
    expect(b.send("while nobody leads")).toBe("forwarded");
    await flush();
    expect(b.role).toBe("leader");
    expect(transport.attempts).toHaveLength(1);
    clock.advance(249);
    await flush();
    expect(transport.attempts).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(transport.attempts).toHaveLength(2);
    transport.last.open();
    expect(transport.last.sent).toEqual(["while nobody leads"]);
  });

  it("keeps at most maxPending unacknowledged messages, dropping the oldest with a drop event", async () => {
    setup();
    const a = tab();
    const b = tab();
    await flush();
    await a.close();
    await flush();
    // b leads but is still inside its takeover jitter (no socket yet): a third tab's messages wait for it.
    expect(b.role).toBe("leader");
    const c = tab();
    await flush();
    const drops: unknown[] = [];
    c.on("drop", (d) => drops.push(d));
    for (const text of ["1", "2", "3", "4", "5"]) c.send(text);
    expect(drops).toEqual([
      { data: "1", reason: "overflow" },
      { data: "2", reason: "overflow" },
    ]);
    clock.advance(1_000);
    await flush();
    transport.last.open();
    await flush();
    expect(transport.last.sent).toEqual(["3", "4", "5"]);
  });

  it("leaves no timer and no connection after every tab closed", async () => {
    setup();
    const [a, b] = [tab(), tab()];
    await flush();
    await a.close();
    await flush();
    await b.close();
    expect(clock.pendingTimers()).toBe(0);
    expect(transport.live).toBe(0);
  });

  it.each([
    [{ name: "" }, "name"],
    [{ create: 1 }, "create"],
    [{ takeoverJitterMs: -1 }, "takeoverJitterMs"],
    [{ maxPending: Number.NaN }, "maxPending"],
  ])("rejects %j with an error naming %s", (bad, option) => {
    setup();
    const options = {
      name: "x",
      create: () => ({}) as ResilientSocket,
      locks,
      channel: channels.create,
      ...bad,
    };
    expect(() => new SharedSocket(options as never)).toThrow(option);
  });
});
