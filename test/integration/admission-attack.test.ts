/**
 * Admission under attack on real servers on 127.0.0.1: a client ignoring its hints at 150 attempts/s
 * against compliant ResilientSockets (ws close 1013, ws HTTP 503, Socket.IO), 30 Socket.IO CONNECT frames
 * in one TCP write (raw WebSocket frames written by hand on a raw TCP socket), and a thousand source
 * addresses (127.0.x.y) against a key table of 100.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { Server as IoServer } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { MODES, runAdmission } from "../../bench/admission/harness.js";
import { socketIoAdmission, wsAdmission } from "../../src/server/index.js";

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) await cleanup();
});

describe("a client ignoring its hints at 150 attempts/s", () => {
  it.each(MODES)(
    "keeps 8 compliant clients within 1.2 × their quiet time at 10/s (%s)",
    async (mode) => {
      const common = { mode, clients: 8, ratePerSecond: 10, attackLeadMs: 500, seed: 7, timeoutMs: 20_000 };
      const quiet = await runAdmission({ ...common, attackPerSecond: 0 });
      const attacked = await runAdmission({ ...common, attackPerSecond: 150 });
      expect(attacked.lastMs).toBeLessThanOrEqual(quiet.lastMs * 1.2);
      // It asked about 150 times a second and was refused at no shared cost nearly every time.
      expect(attacked.attackerAttempts).toBeGreaterThan(100);
      expect(attacked.refusedByKey).toBeGreaterThan(attacked.attackerAttempts / 2);
    },
    60_000,
  );
});

/** One client-to-server WebSocket text frame (masked, as RFC 6455 requires of clients). */
function maskedFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Reads the server's (unmasked, short) text frames off a raw socket after the HTTP upgrade response. */
function frames(socket: Socket): { texts: string[] } {
  const state = { texts: [] as string[] };
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!upgraded) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      upgraded = true;
      buffer = buffer.subarray(end + 4);
    }
    for (;;) {
      if (buffer.length < 2) return;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      }
      if (buffer.length < offset + length) return;
      if (((buffer[0] as number) & 0x0f) === 1) {
        state.texts.push(buffer.subarray(offset, offset + length).toString());
      }
      buffer = buffer.subarray(offset + length);
    }
  });
  return state;
}

async function until(what: string, probe: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a ws client that keeps coming back before its appointment", () => {
  it("is answered with a plain 503 once its own schedule reaches the horizon, in close-1013 mode too", async () => {
    const http = createServer((_request, response) => response.writeHead(426).end());
    const wss = new WebSocketServer({ noServer: true });
    const admission = wsAdmission({ ratePerSecond: 10, burst: 1, maxBookAheadMs: 1_000, wss });
    http.on("upgrade", admission);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    });
    const { port } = http.address() as AddressInfo;
    const answers: string[] = [];
    for (let i = 0; i < 40; i++) {
      answers.push(
        await new Promise<string>((resolve) => {
          const socket = connect(port, "127.0.0.1");
          socket.on("error", () => resolve("error"));
          socket.once("data", (chunk) => {
            resolve(String(chunk).split("\r\n")[0] as string);
            socket.destroy();
          });
          socket.on("connect", () =>
            socket.write(
              [
                "GET / HTTP/1.1",
                `Host: 127.0.0.1:${port}`,
                "Upgrade: websocket",
                "Connection: Upgrade",
                `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
                "Sec-WebSocket-Version: 13",
                "",
                "",
              ].join("\r\n"),
            ),
          );
        }),
      );
    }
    // The first is admitted, the next few are refused in band (101, then a 1013 close), the rest cheaply.
    expect(answers[0]).toBe("HTTP/1.1 101 Switching Protocols");
    const cheap = answers.filter((line) => line === "HTTP/1.1 503 Service Unavailable").length;
    expect(cheap).toBeGreaterThanOrEqual(25);
    expect(admission.controller.refusedByKey).toBeGreaterThanOrEqual(cheap);
  });
});

describe("Socket.IO: 30 CONNECT frames in one TCP write", () => {
  it("admit one socket and spend one token; the other 29 are refused as duplicates", async () => {
    const http = createServer();
    const io = new IoServer(http, { transports: ["websocket"] });
    const admission = socketIoAdmission({ ratePerSecond: 10, burst: 10 });
    io.use(admission);
    let connections = 0;
    io.on("connection", () => connections++);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      io.disconnectSockets(true);
      http.closeAllConnections();
      await io.close();
    });
    const { port } = http.address() as AddressInfo;

    const socket = connect(port, "127.0.0.1");
    cleanups.push(() => void socket.destroy());
    socket.on("error", () => {});
    const received = frames(socket);
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      [
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
        `Host: 127.0.0.1:${port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
        "Sec-WebSocket-Version: 13",
        "",
        "",
      ].join("\r\n"),
    );
    await until("the engine.io open packet", () => received.texts.some((text) => text.startsWith("0{")));

    socket.write(Buffer.concat(Array.from({ length: 30 }, () => maskedFrame("40"))));

    await until("30 answers", () => received.texts.filter((text) => /^4[04]/.test(text)).length === 30);
    expect(connections).toBe(1);
    expect(admission.controller.admitted).toBe(1);
    expect(admission.controller.refused).toBe(0);
    const refusals = received.texts.filter((text) => text.startsWith("44"));
    expect(refusals).toHaveLength(29);
    expect(refusals.every((text) => text.includes("DUPLICATE") || text.includes("duplicate CONNECT"))).toBe(
      true,
    );
    // The other nine tokens of the burst are still there for nine other clients.
    expect(admission.controller.snapshot().tokens).toBeGreaterThanOrEqual(8.9);
  });
});

describe("many source addresses against the key table", () => {
  it("keeps at most maxKeys keys for 1,000 addresses, each refused over HTTP 503", async () => {
    const http = createServer((_request, response) => response.writeHead(426).end());
    const wss = new WebSocketServer({ noServer: true });
    // A burst of one and a slow rate: every address past the first is refused and booked an appointment.
    const admission = wsAdmission({ ratePerSecond: 1, burst: 1, refuseWith: "http-503", maxKeys: 100, wss });
    http.on("upgrade", admission);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    });
    const { port } = http.address() as AddressInfo;
    const heapBefore = process.memoryUsage().heapUsed;

    let answered = 0;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const localAddress = `127.0.${batch + 1}.${i + 1}`;
          return new Promise<void>((resolve) => {
            const socket = connect({ port, host: "127.0.0.1", localAddress });
            socket.on("error", () => resolve());
            socket.on("close", () => resolve());
            socket.on("data", (chunk) => {
              if (String(chunk).startsWith("HTTP/1.1 ")) answered++;
              socket.destroy();
            });
            socket.on("connect", () =>
              socket.write(
                [
                  "GET / HTTP/1.1",
                  `Host: 127.0.0.1:${port}`,
                  "Upgrade: websocket",
                  "Connection: Upgrade",
                  `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
                  "Sec-WebSocket-Version: 13",
                  "",
                  "",
                ].join("\r\n"),
              ),
            );
          });
        }),
      );
    }

    expect(answered).toBe(1_000);
    expect(admission.controller.admitted + admission.controller.refused).toBe(1_000);
    // Measured bound: 100 records however many addresses; newcomers shared one overflow record.
    expect(admission.controller.trackedKeys).toBe(100);
    // A generous ceiling on what 1,000 refused handshakes left behind (the table itself is a few kB).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  }, 30_000);
});
