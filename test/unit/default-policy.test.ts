/**
 * The default policy's promises, measured on the virtual clock with the real ResilientSocket over the
 * in-process transport: a lone client is back within about a second, and a server that accepts and closes
 * at once (a flap) sees few attempts — fewer than decorrelated jitter made, which can draw near its base at
 * any attempt.
 */
import { describe, expect, it } from "vitest";
import { ResilientSocket, seededRandom, VirtualClock, waveJitter } from "../../src/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** The real ResilientSocket with its default policy, on a virtual clock over the in-process transport. */
function defaultSocket(seed: number) {
  const clock = new VirtualClock(0);
  const transport = new FakeTransport(() => clock.now());
  const socket = new ResilientSocket({ transport, clock, random: seededRandom(seed), autoConnect: false });
  return { clock, transport, socket };
}

describe("the default policy", () => {
  it("brings a lone client back with a median first retry of at most 1 s after its connection drops", () => {
    const firsts: number[] = [];
    for (let seed = 1; seed <= 1_001; seed++) {
      const { clock, transport, socket } = defaultSocket(seed);
      socket.connect();
      transport.last.open();
      clock.advance(10_000); // stable
      transport.last.close({ kind: "closed" });
      firsts.push(socket.stats().currentDelayMs as number);
      void socket.close();
    }
    expect(median(firsts)).toBeLessThanOrEqual(1_000);
    expect(Math.max(...firsts)).toBeLessThanOrEqual(1_500);
  });

  it("makes a median of at most 6 and at most 8 attempts in the first 15 s against a server that accepts and closes at once (12 clients)", () => {
    const counts: number[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const { clock, transport, socket } = defaultSocket(seed);
      socket.connect();
      let handled = 0;
      for (let t = 0; t < 15_000; t += 5) {
        // Every new attempt is accepted, then closed at once.
        while (handled < transport.attempts.length) {
          const attempt = transport.attempts[handled++];
          attempt?.open();
          attempt?.close({ kind: "closed" });
        }
        clock.advance(5);
      }
      counts.push(transport.attempts.filter((a) => a.at < 15_000).length);
      void socket.close();
    }
    expect(median(counts)).toBeLessThanOrEqual(6);
    expect(Math.max(...counts)).toBeLessThanOrEqual(8);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(3); // the flapping server really was retried
  });

  it("brings a client whose server refused at once for 3 s back within 5 s of the server's return (1,001 seeds)", () => {
    // The storm lab's quick-restart as one client sees it: the server is gone for 3 s (every attempt refused at
    // once), then back. The client that was refused just before the return meets it on its next wave, so
    // that wave's upper end is its delay: [2, 5] s for the third (socket.io-client's 5 s), not [2, 6] s.
    const outageMs = 3_000;
    const late: number[] = [];
    for (let seed = 1; seed <= 1_001; seed++) {
      const { clock, transport, socket } = defaultSocket(seed);
      socket.connect();
      transport.last.open();
      clock.advance(10_000); // stable
      const back = clock.now() + outageMs;
      transport.last.close({ kind: "closed" });
      let handled = transport.attempts.length;
      let reconnectedAt: number | undefined;
      while (reconnectedAt === undefined) {
        while (handled < transport.attempts.length) {
          const attempt = transport.attempts[handled++] as (typeof transport.attempts)[number];
          if (attempt.at < back) attempt.close({ kind: "error" });
          else {
            attempt.open();
            reconnectedAt = attempt.at;
          }
        }
        const next = clock.nextTimerAt();
        if (reconnectedAt !== undefined || next === undefined) break;
        clock.advance(next - clock.now());
      }
      late.push((reconnectedAt ?? Number.POSITIVE_INFINITY) - back);
      void socket.close();
    }
    expect(Math.max(...late)).toBeLessThanOrEqual(5_000);
    // Some clients really were refused just before the return and waited out most of the third wave.
    expect(Math.max(...late)).toBeGreaterThan(4_000);
  });

  it("draws compact waves first, then from [previous, 3 × previous], and never exactly on the cap", () => {
    const backoff = waveJitter();
    const random = seededRandom(7);
    let previousDelayMs = 0;
    for (let attempt = 1; attempt <= 60; attempt++) {
      const d = backoff.next({ attempt, previousDelayMs, random: random() });
      if (attempt <= 4) {
        expect(d).toBeGreaterThanOrEqual(500 * 2 ** (attempt - 1));
        expect(d).toBeLessThanOrEqual(Math.min(1_500 * 2 ** (attempt - 1), attempt === 3 ? 5_000 : Infinity));
      } else {
        expect(d).toBeGreaterThanOrEqual(Math.min(previousDelayMs, 60_000));
        expect(d).toBeLessThanOrEqual(Math.min(3 * previousDelayMs, 120_000));
      }
      expect(d).not.toBe(120_000);
      previousDelayMs = d;
    }
  });
});
