import { describe, expect, it } from "vitest";
import {
  atLeastOnce,
  type DeliveryMessage,
  ResilientSocket,
  readAck,
  VirtualClock,
} from "../../src/index.js";
import { Deduplicator, deliveryAck, memoryDedupeStore } from "../../src/server/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

function reliableSocket(options: { maxUnacked?: number; maxMessages?: number } = {}) {
  const clock = new VirtualClock();
  const transport = new FakeTransport(() => clock.now());
  const socket = new ResilientSocket({
    transport,
    clock,
    autoConnect: false,
    circuitBreaker: false,
    delivery: atLeastOnce({ sessionId: "s1", maxUnacked: options.maxUnacked ?? 100 }),
    queue: { maxMessages: options.maxMessages ?? 100, ttlMs: Number.POSITIVE_INFINITY },
  });
  const drops: unknown[] = [];
  const messages: unknown[] = [];
  socket.on("drop", ({ data, reason }) => drops.push([data, reason]));
  socket.on("message", (data) => messages.push(data));
  socket.connect();
  transport.last.open();
  return { clock, transport, socket, drops, messages };
}

const seqs = (sent: unknown[]) => sent.map((m) => (m as DeliveryMessage).seq);

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
    const { transport, socket, drops } = reliableSocket({ maxMessages: 2 });
    for (const n of [1, 2, 3]) socket.send(n);
    transport.last.close({ kind: "closed" });
    expect(drops).toEqual([[1, "overflow"]]);
    expect(socket.stats().queue.messages).toBe(2);
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

  it("runs the effect once per sequence number and acknowledges a repeat without running it", async () => {
    const dedupe = new Deduplicator();
    const applied: unknown[] = [];
    const effect = (data: unknown) => applied.push(data);
    expect(await dedupe.receive(envelope(1), effect)).toMatchObject({ status: "processed", ack: { seq: 1 } });
    expect(await dedupe.receive(JSON.stringify(envelope(1)), effect)).toMatchObject({
      status: "duplicate",
      ack: { seq: 1 },
    });
    expect(applied).toEqual([1]);
  });

  it("passes a message that is not an envelope through as plain", async () => {
    const result = await new Deduplicator().receive("hello", () => {});
    expect(result).toEqual({ status: "plain", data: "hello" });
  });

  it("rejects envelopes with a bad session id or sequence number as invalid", async () => {
    const dedupe = new Deduplicator();
    for (const bad of [envelope(0), envelope(1.5), envelope(1, 1, ""), envelope(1, 1, "x".repeat(129))])
      expect((await dedupe.receive(bad, () => {})).status).toBe("invalid");
  });

  it("acknowledges nothing after a failed effect until the failed message comes again", async () => {
    const dedupe = new Deduplicator();
    let fail = true;
    const effect = () => {
      if (fail) throw new Error("db down");
    };
    expect((await dedupe.receive(envelope(1), effect)).status).toBe("failed");
    expect((await dedupe.receive(envelope(2), effect)).status).toBe("failed");
    fail = false;
    expect((await dedupe.receive(envelope(1), effect)).status).toBe("processed");
    expect((await dedupe.receive(envelope(2), effect)).status).toBe("processed");
  });

  it("processes one session's messages in order even when effects are asynchronous", async () => {
    const dedupe = new Deduplicator();
    const applied: unknown[] = [];
    const slowFirst = async (data: unknown) => {
      if (data === 1) await new Promise((resolve) => setTimeout(resolve, 20));
      applied.push(data);
    };
    await Promise.all([dedupe.receive(envelope(1), slowFirst), dedupe.receive(envelope(2), slowFirst)]);
    expect(applied).toEqual([1, 2]);
  });

  it("forgets the least recently used session beyond maxSessions", async () => {
    const store = memoryDedupeStore(2);
    store.set("a", 1);
    store.set("b", 1);
    store.set("c", 1);
    expect([store.get("a"), store.get("b"), store.get("c")]).toEqual([undefined, 1, 1]);
  });
});
