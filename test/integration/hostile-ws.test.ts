/**
 * Hostile server input over WebSocket, against real servers on 127.0.0.1: every malformed or hostile hint,
 * oversized reason and malformed frame ends in bounded behaviour (a retry within `maxDelayMs`) and an
 * `error` event — never a crash, a hang or a wait beyond the ceiling.
 */

import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ResilientSocket } from "../../src/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../../src/websocket.js";
import { closeFrame, frame, RawWsServer } from "./raw-ws-server.js";
import { closeAll, EventLog, FAST, startClient, startServer } from "./ws-harness.js";

const MAX_DELAY_MS = 1_000;
const raws: RawWsServer[] = [];

afterEach(async () => {
  await closeAll();
  await Promise.all(raws.splice(0).map((raw) => raw.stop()));
});

/** A server that accepts, then closes every connection with 1013 and `reason`. */
async function closingWith(reason: string) {
  const server = await startServer();
  server.onConnection = ({ ws }) => ws.close(1013, reason);
  return startClient(server, { maxDelayMs: MAX_DELAY_MS });
}

/** A server that refuses every handshake with 503 and this Retry-After value. */
async function refusingWith(retryAfter: string) {
  const server = await startServer();
  server.onUpgrade = (upgrade) => server.refuse(upgrade, 503, { "Retry-After": retryAfter });
  return startClient(server, { maxDelayMs: MAX_DELAY_MS });
}

/** A raw server writing `bytes` after every handshake, and a client of it. */
async function rawServerWriting(bytes: Buffer) {
  const raw = await RawWsServer.start();
  raws.push(raw);
  raw.script = () => bytes;
  const socket = new ResilientSocket({
    transport: webSocketTransport({ url: raw.url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
    ...FAST,
    maxDelayMs: MAX_DELAY_MS,
  });
  const log = new EventLog(socket);
  afterEach(() => socket.close());
  return { raw, socket, log };
}

describe("hostile hints in a close-1013 reason", () => {
  it("ignores a negative hint, reports BAD_HINT and retries on its own backoff", async () => {
    const { log } = await closingWith('{"retryAfterMs":-1}');
    const error = await log.nth("error", 1);
    const retry = await log.nth("retry", 1);
    expect(error.value.code).toBe("BAD_HINT");
    expect(retry.value.cause).toBe("backoff");
    expect(retry.value.delayMs).toBeLessThanOrEqual(200);
  });

  it("ignores a hint that is not a number (NaN spelled as a string) and reports BAD_HINT", async () => {
    const { log } = await closingWith('{"retryAfterMs":"NaN","spreadMs":"NaN"}');
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    expect((await log.nth("retry", 1)).value.cause).toBe("backoff");
  });

  it("cuts a hint of 10^15 ms to maxDelayMs and reports BAD_HINT", async () => {
    const { log } = await closingWith('{"retryAfterMs":1000000000000000}');
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    const retry = await log.nth("retry", 1);
    expect(retry.value.delayMs).toBeLessThanOrEqual(MAX_DELAY_MS);
    expect(retry.value.delayMs).toBeGreaterThanOrEqual(MAX_DELAY_MS * 0.75);
  });

  it("reads no hint through __proto__, leaves Object.prototype alone and reports BAD_HINT", async () => {
    const { log } = await closingWith('{"__proto__":{"retryAfterMs":999999999}}');
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    const retry = await log.nth("retry", 1);
    expect(retry.value.cause).toBe("backoff");
    expect(Object.hasOwn(Object.prototype, "retryAfterMs")).toBe(false);
    expect(({} as { retryAfterMs?: unknown }).retryAfterMs).toBeUndefined();
  });

  it("reports malformed JSON in the reason as BAD_HINT and retries on its own backoff", async () => {
    const { log } = await closingWith('{"retryAfterMs":');
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    expect((await log.nth("retry", 1)).value.cause).toBe("backoff");
  });
});

describe("hostile Retry-After on a refused handshake", () => {
  it("cuts a date in the year 3000 to maxDelayMs and reports BAD_HINT", async () => {
    const { log } = await refusingWith("Wed, 01 Jan 3000 00:00:00 GMT");
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    const retry = await log.nth("retry", 1);
    expect(retry.value.delayMs).toBeLessThanOrEqual(MAX_DELAY_MS);
  });

  it("ignores NaN as a Retry-After value and reports BAD_HINT", async () => {
    const { log } = await refusingWith("NaN");
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    expect((await log.nth("retry", 1)).value.cause).toBe("backoff");
  });

  it("ignores a 10 KB Retry-After value unread and reports BAD_HINT", async () => {
    const { log } = await refusingWith("9".repeat(10_240));
    expect((await log.nth("error", 1)).value.code).toBe("BAD_HINT");
    expect((await log.nth("retry", 1)).value.delayMs).toBeLessThanOrEqual(200);
  });
});

describe("malformed frames from a raw server", () => {
  it("treats a close frame with a 10 KB reason as a protocol error: TRANSPORT_ERROR, then a retry", async () => {
    const { log } = await rawServerWriting(
      closeFrame(1013, `{"retryAfterMs":5000,"x":"${"a".repeat(10_240)}"}`),
    );
    expect((await log.nth("error", 1)).value.code).toBe("TRANSPORT_ERROR");
    const retry = await log.nth("retry", 1);
    expect(retry.value.cause).toBe("backoff");
  });

  it("treats a frame with a reserved opcode as a protocol error: TRANSPORT_ERROR, then a retry", async () => {
    const { log, raw } = await rawServerWriting(frame(0x3, Buffer.from("?")));
    expect((await log.nth("error", 1)).value.code).toBe("TRANSPORT_ERROR");
    await log.nth("retry", 1);
    await log.nth("open", 2);
    expect(raw.sockets.length).toBeGreaterThanOrEqual(2);
    expect(log.all("close")[0]?.value.kind).toBe("closed");
  });

  it("treats a text frame of invalid UTF-8 as a protocol error and never emits it as a message", async () => {
    const { log } = await rawServerWriting(frame(0x1, Buffer.from([0xc3, 0x28, 0xff])));
    expect((await log.nth("error", 1)).value.code).toBe("TRANSPORT_ERROR");
    await log.nth("retry", 1);
    expect(log.all("message")).toHaveLength(0);
  });

  it("survives bytes that are not a WebSocket frame at all", async () => {
    const { log } = await rawServerWriting(Buffer.from("HTTP/1.1 200 OK\r\n\r\ngarbage", "latin1"));
    expect((await log.nth("error", 1)).value.code).toBe("TRANSPORT_ERROR");
    await log.nth("retry", 2);
  });
});
