import { describe, expect, it } from "vitest";
import { atLeastOnce, type QueueOptions, ResilientSocket, VirtualClock } from "../../src/index.js";
import { type DeliveryMessage, readAck } from "../../src/internals.js";
import {
  type DedupeReceiver,
  type DedupeStore,
  Deduplicator,
  deliveryAck,
  memoryDedupeStore,
} from "../../src/server/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

function reliableSocket(
  options: {
    maxUnacked?: number;
    queue?: Partial<QueueOptions> | false;
    sessionId?: string;
    open?: boolean;
  } = {},
) {
  const clock = new VirtualClock();
  const transport = new FakeTransport(() => clock.now());
  const socket = new ResilientSocket({
    transport,
    clock,
    autoConnect: false,
    circuitBreaker: false,
    delivery: atLeastOnce({ sessionId: options.sessionId ?? "s1", maxUnacked: options.maxUnacked ?? 100 }),
    queue: options.queue ?? { maxMessages: 100, ttlMs: Number.POSITIVE_INFINITY },
  });
  const drops: unknown[] = [];
  const messages: unknown[] = [];
  const errors: Error[] = [];
  socket.on("drop", ({ data, reason }) => drops.push([data, reason]));
  socket.on("message", (data) => messages.push(data));
  socket.on("error", (error) => errors.push(error));
  socket.connect();
  if (options.open !== false) transport.last.open();
  return { clock, transport, socket, drops, messages, errors };
}

const seqs = (sent: unknown[]) => sent.map((m) => (m as DeliveryMessage).seq);

/** Sequence numbers on the wire never decrease within a connection (else the server takes the lower one for
 * a duplicate and acknowledges it unprocessed). */
function expectIncreasingOnEveryConnection(transport: FakeTransport): void {
  for (const attempt of transport.attempts) {
    const onWire = seqs(attempt.sent);
    expect(onWire).toEqual([...onWire].sort((a, b) => a - b));
    expect(new Set(onWire).size).toBe(onWire.length);
  }
}

describe("at-least-once delivery on the client", () => {
  it("wraps each message in an envelope with the session id and the next sequence number", () => {
    const { transport, socket } = reliableSocket();
    socket.send({ a: 1 });
    socket.send("two");
    expect(transport.last.sent).toEqual([
      { $rr: "msg", sid: "s1", seq: 1, data: { a: 1 } },
      { $rr: "msg", sid: "s1", seq: 2, data: "two" },
    ]);
  });

  it("sends unacknowledged messages again, first and in order, on the next connection", () => {
    const { clock, transport, socket } = reliableSocket();
    for (const n of [1, 2, 3]) socket.send(n);
    transport.last.message(deliveryAck("s1", 1));
    transport.last.close({ kind: "closed" });
    socket.send(4);
    clock.advance(60_000);
    transport.last.open();
    expect(seqs(transport.last.sent)).toEqual([2, 3, 4]);
  });

  it("consumes acknowledgements, as objects or as JSON text, without emitting them as messages", () => {
    const { transport, socket, messages } = reliableSocket();
    socket.send(1);
    socket.send(2);
    transport.last.message(deliveryAck("s1", 1));
    transport.last.message(JSON.stringify(deliveryAck("s1", 2)));
    transport.last.message("app");
    expect(messages).toEqual(["app"]);
    expect(socket.stats().queue.messages).toBe(0);
  });

  it("ignores an acknowledgement for another session", () => {
    const { clock, transport, socket } = reliableSocket();
    socket.send(1);
    transport.last.message(deliveryAck("someone-else", 5));
    transport.last.close({ kind: "closed" });
    clock.advance(60_000);
    transport.last.open();
    expect(seqs(transport.last.sent)).toEqual([1]);
  });

  it("reports unacknowledged messages as dropped (closed) on close()", async () => {
    const { socket, drops } = reliableSocket();
    socket.send("a");
    await socket.close();
    expect(drops).toEqual([["a", "closed"]]);
  });

  it("forgets the oldest unacknowledged message beyond maxUnacked and reports it as an overflow", () => {
    const { socket, drops } = reliableSocket({ maxUnacked: 2 });
    for (const n of [1, 2, 3]) socket.send(n);
    expect(drops).toEqual([[1, "overflow"]]);
  });

  it("drops the oldest requeued messages beyond the queue bounds, reported as overflow", () => {
    const { transport, socket, drops } = reliableSocket({ queue: { maxMessages: 2, ttlMs: Infinity } });
    for (const n of [1, 2, 3]) socket.send(n);
    transport.last.close({ kind: "closed" });
    expect(drops).toEqual([[1, "overflow"]]);
    expect(socket.stats().queue.messages).toBe(2);
  });

  it("puts sequence numbers on the wire in order when a drop listener sends during a flush", () => {
    const { transport, socket } = reliableSocket({ maxUnacked: 1, open: false });
    socket.send("a");
    socket.send("b");
    let once = true;
    socket.on("drop", ({ reason }) => {
      if (reason === "overflow" && once) {
        once = false;
        socket.send("y");
      }
    });
    socket.on("state", (state) => state === "open" && socket.send("x"));
    transport.last.open();
    expect(transport.last.sent.map((m) => (m as DeliveryMessage).data)).toEqual(["a", "b", "x", "y"]);
    expectIncreasingOnEveryConnection(transport);
  });

  it("puts sequence numbers on the wire in order when an error listener sends after a failed send", () => {
    const { clock, transport, socket } = reliableSocket();
    transport.refuseSends = true;
    let once = true;
    socket.on("error", () => {
      if (once) {
        once = false;
        transport.refuseSends = false;
        socket.send("y");
      }
    });
    socket.send("x");
    transport.last.close({ kind: "closed" });
    clock.advance(60_000);
    transport.last.open();
    // Both went on the first connection, in order, unacknowledged: both again, in order, on the next.
    const data = (sent: unknown[]) => sent.map((m) => (m as DeliveryMessage).data);
    expect([data(transport.attempts[0]?.sent ?? []), data(transport.last.sent)]).toEqual([
      ["x", "y"],
      ["x", "y"],
    ]);
    expectIncreasingOnEveryConnection(transport);
  });

  it("reports an acknowledgement beyond the last message sent as an error and keeps the messages", () => {
    // A reused session id: the server saw 3 messages under it from another socket.
    const { clock, transport, socket, errors } = reliableSocket({ sessionId: "user-42" });
    socket.send("after reload");
    transport.last.message(deliveryAck("user-42", 3));
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining("acknowledgement of message 3")]);
    expect(socket.stats().unacked).toBe(1);
    transport.last.close({ kind: "closed" });
    clock.advance(60_000);
    transport.last.open();
    expect(seqs(transport.last.sent)).toEqual([1]);
  });

  it("gives every socket its own session id by default", () => {
    const ids = new Set<unknown>();
    for (let i = 0; i < 2; i++) {
      const clock = new VirtualClock();
      const transport = new FakeTransport(() => clock.now());
      const socket = new ResilientSocket({ transport, clock, delivery: atLeastOnce() });
      socket.connect();
      transport.last.open();
      socket.send(1);
      ids.add((transport.last.sent[0] as DeliveryMessage).sid);
    }
    expect(ids.size).toBe(2);
  });

  it("never hands a message tagged as an acknowledgement to the app, and reports a malformed one", () => {
    const { transport, messages, errors } = reliableSocket();
    transport.last.message('{"$rr":"ack","sid":"s1","seq":1e300}');
    transport.last.message({ $rr: "ack", sid: "s1", seq: -1 });
    expect(messages).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual([
      "delivery: malformed acknowledgement ignored",
      "delivery: malformed acknowledgement ignored",
    ]);
  });

  it("counts an acknowledgement that arrives from inside send() (a synchronous transport)", () => {
    const { clock, transport, socket } = reliableSocket();
    const attempt = transport.last;
    const push = attempt.sent.push.bind(attempt.sent);
    attempt.sent.push = (...wires: unknown[]) => {
      const count = push(...wires);
      for (const wire of wires) attempt.message(deliveryAck("s1", (wire as DeliveryMessage).seq));
      return count;
    };
    socket.send("once");
    expect(socket.stats().unacked).toBe(0);
    attempt.close({ kind: "closed" });
    clock.advance(60_000);
    transport.last.open();
    expect(transport.last.sent).toEqual([]);
  });

  it("counts messages waiting for an acknowledgement in stats().unacked", () => {
    const { transport, socket } = reliableSocket();
    for (const n of [1, 2, 3]) socket.send(n);
    expect(socket.stats().unacked).toBe(3);
    transport.last.message(deliveryAck("s1", 2));
    expect(socket.stats().unacked).toBe(1);
  });

  it("drops a requeued message larger than maxBytes alone as too-large, keeping the smaller older ones", () => {
    const queue = { maxMessages: 100, maxBytes: 200, ttlMs: Infinity };
    const { transport, socket, drops } = reliableSocket({ queue });
    socket.send("a");
    socket.send("b");
    socket.send("x".repeat(300));
    transport.last.close({ kind: "closed" });
    expect(drops).toEqual([["x".repeat(300), "too-large"]]);
    expect(socket.stats().queue.messages).toBe(2);
  });

  it("drops the newest messages on requeue beyond the bounds when the overflow policy is drop-newest", () => {
    const queue = { maxMessages: 2, ttlMs: Infinity, overflow: "drop-newest" as const };
    const { clock, transport, socket, drops } = reliableSocket({ queue });
    for (const n of [1, 2, 3]) socket.send(n);
    transport.last.close({ kind: "closed" });
    expect(drops).toEqual([[3, "overflow"]]);
    clock.advance(60_000);
    transport.last.open();
    expect(seqs(transport.last.sent)).toEqual([1, 2]);
  });

  it("reports unacknowledged messages as closed on close() without a queue", async () => {
    const { socket, drops } = reliableSocket({ queue: false });
    socket.send("a");
    await socket.close();
    expect(drops).toEqual([["a", "closed"]]);
  });

  it("closes the connection before it reports the unacknowledged messages it cannot keep", async () => {
    const { transport, socket } = reliableSocket({ queue: false });
    const closedWhenReported: boolean[] = [];
    socket.on("drop", () => closedWhenReported.push(transport.last.closedByClient));
    socket.send("a");
    await socket.close();
    expect(closedWhenReported).toEqual([true]);
    expect(transport.live).toBe(0);
  });

  it("refuses the options of atLeastOnce in place of the tracker it returns, naming delivery", () => {
    const clock = new VirtualClock();
    const transport = new FakeTransport(() => clock.now());
    const create = () => new ResilientSocket({ transport, clock, delivery: { sessionId: "x" } as never });
    expect(create).toThrow(TypeError);
    expect(create).toThrow(/^ResilientSocket: delivery must be what atLeastOnce\(\) returns/);
  });

  it("refuses bad atLeastOnce options with an error naming them", () => {
    expect(() => atLeastOnce(null as never)).toThrow(/atLeastOnce: options must be an object; got null/);
    expect(() => atLeastOnce({ sessionId: "" })).toThrow(/sessionId/);
    expect(() => atLeastOnce({ maxUnacked: 0 })).toThrow(/maxUnacked/);
  });

  it("refuses binary data as unsendable: an envelope is JSON", () => {
    const { socket, drops } = reliableSocket();
    expect(socket.send(new Uint8Array([1]))).toBe("dropped");
    expect(drops[0]).toEqual([new Uint8Array([1]), "unsendable"]);
  });

  it("reads no acknowledgement from text that only looks like one", () => {
    expect(readAck('{"$rr":"ack","sid":"s","seq":"1"}')).toBeUndefined();
    expect(readAck('{"$rr":"ack"')).toBeUndefined();
    expect(readAck(JSON.parse('{"__proto__":{"$rr":"ack","sid":"s","seq":1}}'))).toBeUndefined();
  });
});

describe("Deduplicator", () => {
  const envelope = (seq: number, data: unknown = seq, sid = "s1") => ({ $rr: "msg", sid, seq, data });
  const statuses = async (inbox: DedupeReceiver, seqList: number[], effect: (data: unknown) => unknown) => {
    const out: string[] = [];
    for (const seq of seqList) out.push((await inbox.receive(envelope(seq), effect)).status);
    return out;
  };

  it("runs the effect once per sequence number and acknowledges a repeat without running it", async () => {
    const inbox = new Deduplicator().connection();
    const applied: unknown[] = [];
    const effect = (data: unknown) => applied.push(data);
    expect(await inbox.receive(envelope(1), effect)).toMatchObject({ status: "processed", ack: { seq: 1 } });
    expect(await inbox.receive(JSON.stringify(envelope(1)), effect)).toMatchObject({
      status: "duplicate",
      ack: { seq: 1 },
    });
    expect(applied).toEqual([1]);
  });

  it("passes a message that is not an envelope through as plain", async () => {
    const result = await new Deduplicator().connection().receive("hello", () => {});
    expect(result).toEqual({ status: "plain", data: "hello" });
  });

  it("rejects envelopes with a bad session id or sequence number as invalid", async () => {
    const inbox = new Deduplicator().connection();
    for (const bad of [envelope(0), envelope(1.5), envelope(1, 1, ""), envelope(1, 1, "x".repeat(129))])
      expect((await inbox.receive(bad, () => {})).status).toBe("invalid");
  });

  it("reads envelopes sent as binary frames (a Uint8Array or an ArrayBuffer)", async () => {
    const inbox = new Deduplicator().connection();
    const bytes = new TextEncoder().encode(JSON.stringify(envelope(1, "one")));
    expect(await inbox.receive(bytes, () => {})).toMatchObject({ status: "processed", data: "one" });
    const again = new TextEncoder().encode(JSON.stringify(envelope(2, "two")));
    expect(await inbox.receive(again.buffer, () => {})).toMatchObject({ status: "processed", data: "two" });
  });

  it("refuses an envelope longer than maxBytes as invalid without parsing it", async () => {
    const inbox = new Deduplicator({ maxBytes: 100 }).connection();
    const result = await inbox.receive(JSON.stringify(envelope(1, "x".repeat(200))), () => {});
    expect(result).toMatchObject({ status: "invalid", problem: expect.stringContaining("maxBytes") });
  });

  it("acknowledges nothing later on a connection after a failed effect", async () => {
    const inbox = new Deduplicator().connection();
    let fail = true;
    const effect = () => {
      if (fail) throw new Error("db down");
    };
    expect(await statuses(inbox, [1], effect)).toEqual(["failed"]);
    fail = false;
    expect(await statuses(inbox, [2, 3], effect)).toEqual(["failed", "failed"]);
  });

  it("processes the failed message and what follows when it comes again on the next connection", async () => {
    const dedupe = new Deduplicator();
    const applied: unknown[] = [];
    let fail = true;
    const effect = (data: unknown) => {
      if (fail) throw new Error("db down");
      applied.push(data);
    };
    await statuses(dedupe.connection(), [1, 2], effect);
    fail = false;
    expect(await statuses(dedupe.connection(), [1, 2, 3], effect)).toEqual([
      "processed",
      "processed",
      "processed",
    ]);
    expect(applied).toEqual([1, 2, 3]);
  });

  it("accepts the gap on the next connection when the client gave up the failed message", async () => {
    const dedupe = new Deduplicator();
    const applied: unknown[] = [];
    let fail = true;
    const effect = (data: unknown) => {
      if (fail) throw new Error("db blip");
      applied.push(data);
    };
    expect(await statuses(dedupe.connection(), [5, 6], effect)).toEqual(["failed", "failed"]);
    fail = false;
    // The client dropped 5 (ttl or maxUnacked) and starts again from 6.
    expect(await statuses(dedupe.connection(), [6, 7, 8], effect)).toEqual([
      "processed",
      "processed",
      "processed",
    ]);
    expect(applied).toEqual([6, 7, 8]);
  });

  it("does not block a session for good when the store fails while reading a duplicate", async () => {
    let getFails = false;
    const inner = memoryDedupeStore();
    const store: DedupeStore = {
      get: (sid) => {
        if (getFails) throw new Error("store blip");
        return inner.get(sid);
      },
      set: (sid, seq) => inner.set(sid, seq),
    };
    const dedupe = new Deduplicator({ store });
    const applied: unknown[] = [];
    const effect = (data: unknown) => applied.push(data);
    await statuses(dedupe.connection(), [1, 2, 3], effect);
    getFails = true;
    expect(await statuses(dedupe.connection(), [2], effect)).toEqual(["failed"]);
    getFails = false;
    expect(await statuses(dedupe.connection(), [2, 3, 4, 5], effect)).toEqual([
      "duplicate",
      "duplicate",
      "processed",
      "processed",
    ]);
    expect(applied).toEqual([1, 2, 3, 4, 5]);
  });

  it("remembers no failure beyond its connection, however many sessions failed", async () => {
    // Failures live in the connection's receiver (gone with it); per session the Deduplicator keeps only the
    // chain of pending messages, deleted when drained.
    const dedupe = new Deduplicator({ maxSessions: 10 });
    for (let i = 0; i < 200; i++) {
      await dedupe.connection().receive(envelope(1, 1, `sid${i}`), () => {
        throw new Error("bad input");
      });
    }
    const applied: unknown[] = [];
    await dedupe.connection().receive(envelope(1, "ok", "sid0"), (data) => applied.push(data));
    expect(applied).toEqual(["ok"]);
  });

  it("fails a message beyond maxPending of one session instead of growing its chain", async () => {
    const dedupe = new Deduplicator({ maxPending: 2 });
    const inbox = dedupe.connection();
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const results = [1, 2, 3].map((seq) => inbox.receive(envelope(seq), () => gate));
    expect(await results[2]).toMatchObject({ status: "failed" });
    release();
    await Promise.all(results);
  });

  it("processes one session's messages in order even when effects are asynchronous", async () => {
    const inbox = new Deduplicator().connection();
    const applied: unknown[] = [];
    const slowFirst = async (data: unknown) => {
      if (data === 1) await new Promise((resolve) => setTimeout(resolve, 20));
      applied.push(data);
    };
    await Promise.all([inbox.receive(envelope(1), slowFirst), inbox.receive(envelope(2), slowFirst)]);
    expect(applied).toEqual([1, 2]);
  });

  it("forgets the least recently used session beyond maxSessions", async () => {
    const store = memoryDedupeStore(2);
    store.set("a", 1);
    store.set("b", 1);
    store.set("c", 1);
    expect([store.get("a"), store.get("b"), store.get("c")]).toEqual([undefined, 1, 1]);
  });

  it("counts reading a session as using it, so a session only resent to is not forgotten first", async () => {
    const dedupe = new Deduplicator({ maxSessions: 3 });
    const applied: unknown[] = [];
    await dedupe.connection().receive(envelope(1, "pay $10", "victim"), (data) => applied.push(data));
    for (let i = 0; i < 2; i++) await dedupe.connection().receive(envelope(1, 1, `other${i}`), () => {});
    await dedupe.connection().receive(envelope(1, "pay $10", "victim"), (data) => applied.push(data));
    await dedupe.connection().receive(envelope(1, 1, "other2"), () => {});
    expect((await dedupe.connection().receive(envelope(1, "pay $10", "victim"), () => {})).status).toBe(
      "duplicate",
    );
    expect(applied).toEqual(["pay $10"]);
  });

  it("keeps the sessions of one owner apart from another's with the same sid", async () => {
    const dedupe = new Deduplicator();
    const applied: unknown[] = [];
    const effect = (data: unknown) => applied.push(data);
    await dedupe
      .connection("mallory")
      .receive(envelope(Number.MAX_SAFE_INTEGER, "hijack", "victim-sid"), effect);
    const result = await dedupe.connection("alice").receive(envelope(1, "real", "victim-sid"), effect);
    expect(result).toMatchObject({ status: "processed", ack: { sid: "victim-sid", seq: 1 } });
    expect(applied).toEqual(["hijack", "real"]);
  });

  it("refuses bad options with an error naming the option", () => {
    expect(() => new Deduplicator(null as never)).toThrow(
      /Deduplicator: options must be an object; got null/,
    );
    expect(() => new Deduplicator({ maxPending: 0 })).toThrow(/maxPending/);
    expect(() => new Deduplicator({ maxSessions: -1 })).toThrow(/maxSessions/);
    expect(() => new Deduplicator().connection(42 as never)).toThrow(/connection: owner must be a string/);
  });
});
