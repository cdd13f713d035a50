import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decorrelatedJitter, ResilientSocket, seededRandom, VirtualClock } from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

type Step =
  | { op: "advance"; ms: number }
  | { op: "open" }
  | { op: "message" }
  | { op: "serverClose"; kind: "error" | "closed" | "deliberate" | "refused"; hintMs: number | undefined }
  | { op: "send" }
  | { op: "connect" }
  | { op: "close" }
  | { op: "closeFromListener"; event: "state" | "open" | "close" | "retry" | "circuit" | "drop" | "error" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.nat({ max: 200_000 }) }) },
  { weight: 3, arbitrary: fc.constant({ op: "open" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "message" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("serverClose" as const),
      kind: fc.constantFrom("error" as const, "closed" as const, "deliberate" as const, "refused" as const),
      hintMs: fc.option(fc.nat({ max: 900_000 }), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: "send" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "connect" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "close" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("closeFromListener" as const),
      event: fc.constantFrom(
        "state" as const,
        "open" as const,
        "close" as const,
        "retry" as const,
        "circuit" as const,
        "drop" as const,
        "error" as const,
      ),
    }),
  },
);

describe("ResilientSocket model properties", () => {
  it("one connection at a time, no attempt while the breaker is open, bounded queue, nothing after close()", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.array(step, { maxLength: 80 }), async (seed, steps) => {
        const clock = new VirtualClock();
        const transport = new FakeTransport(() => clock.now());
        const socket = new ResilientSocket({
          transport,
          clock,
          random: seededRandom(seed),
          autoConnect: false,
          backoff: decorrelatedJitter({ baseMs: 100, capMs: 30_000 }),
          circuitBreaker: { consecutiveFailures: 3, openMs: 5_000, maxOpenMs: 40_000 },
          maxDelayMs: 120_000,
          stableAfterMs: 1_000,
          connectTimeoutMs: 10_000,
          heartbeat: { intervalMs: 5_000, timeoutMs: 2_000 },
          queue: { maxMessages: 5, maxBytes: 100, ttlMs: 60_000 },
        });
        socket.on("error", () => {}); // errors are not what this property checks; unheard, each run would warn
        let circuitOpenSince: number | undefined;
        let attemptsWhenOpened = 0;
        let delivered = 0;
        let sent = 0;
        socket.on("circuit", ({ state }) => {
          if (state === "open") {
            circuitOpenSince = clock.now();
            attemptsWhenOpened = transport.attempts.length;
          } else circuitOpenSince = undefined;
        });
        let dropEvents = 0;
        socket.on("drop", () => dropEvents++);
        socket.on("retry", ({ delayMs }) => {
          expect(Number.isFinite(delayMs)).toBe(true);
          expect(delayMs).toBeGreaterThanOrEqual(0);
          expect(delayMs).toBeLessThanOrEqual(120_000);
        });
        socket.connect();
        let closed = false;
        for (const s of steps) {
          const current = transport.attempts.at(-1);
          const live = current !== undefined && !current.closedByClient;
          switch (s.op) {
            case "advance":
              clock.advance(s.ms);
              break;
            case "open":
              if (live && socket.state === "connecting") current.open();
              break;
            case "message":
              if (live && socket.state === "open") current.message("m");
              break;
            case "serverClose":
              if (live && (socket.state === "connecting" || socket.state === "open")) {
                current.close({
                  kind: s.kind,
                  ...(s.hintMs === undefined
                    ? {}
                    : { hint: { hint: { source: "close-code", delayMs: s.hintMs, spreadMs: 0 } } }),
                });
              }
              break;
            case "send": {
              sent++;
              const result = socket.send("x");
              if (result === "sent") delivered++;
              // After close() the listeners are gone; the return value is the report.
              if (closed) expect(result).toBe("dropped");
              break;
            }
            case "connect":
              socket.connect();
              break;
            case "close":
              await socket.close();
              closed = true;
              break;
            case "closeFromListener":
              // Application code that closes the socket from inside one of its listeners.
              if (closed) break;
              socket.once(s.event, () => {
                void socket.close();
                closed = true;
              });
              break;
          }
          expect(transport.live).toBeLessThanOrEqual(1);
          if (circuitOpenSince !== undefined) expect(transport.attempts.length).toBe(attemptsWhenOpened);
          const { queue } = socket.stats();
          expect(queue.messages).toBeLessThanOrEqual(5);
          expect(queue.bytes).toBeLessThanOrEqual(100);
          if (closed) {
            expect(clock.pendingTimers()).toBe(0);
            expect(socket.eventNames()).toEqual([]);
            expect(transport.live).toBe(0);
          }
        }
        const attemptsBefore = transport.attempts.length;
        const flushed = transport.attempts.reduce((n, a) => n + a.sent.filter((d) => d === "x").length, 0);
        const queued = socket.stats().queue.messages;
        // Every message sent is delivered (now or by a flush), still queued, or was counted as dropped —
        // and reported by a drop event as long as the app was still listening.
        const { dropped } = socket.stats();
        expect(flushed + queued + dropped).toBe(sent);
        if (!closed) expect(dropEvents).toBe(dropped);
        expect(delivered).toBeLessThanOrEqual(flushed);
        await socket.close();
        clock.advance(3_600_000);
        expect(transport.attempts.length).toBe(attemptsBefore);
        expect(clock.pendingTimers()).toBe(0);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });
});
