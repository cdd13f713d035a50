/**
 * Admission control and drain schedules on explicit times (no clock at all for the pure controller; a
 * VirtualClock and fake sockets for the Node helpers' decisions and misuse errors).
 */
import { describe, expect, it } from "vitest";
import {
  CLOSE_SERVICE_RESTART,
  DRAIN_EVENT,
  type HintPayload,
  seededRandom,
  VirtualClock,
} from "../../src/index.js";
import {
  AdmissionController,
  type AdmissionOptions,
  drainSchedule,
  drainSocketIo,
  drainWs,
  hintCloseReason,
  MAX_CLOSE_REASON_BYTES,
  OverloadedError,
  retryAfterSeconds,
  socketIoAdmission,
  wsAdmission,
} from "../../src/server/index.js";

type Refusal = { admit: false; hint: HintPayload };

function refusal(controller: AdmissionController, nowMs: number): HintPayload {
  const decision = controller.decide(nowMs);
  if (decision.admit) throw new Error(`expected a refusal at ${nowMs} ms, got an admission`);
  return (decision as Refusal).hint;
}

function admissions(controller: AdmissionController, count: number, nowMs: number): boolean[] {
  return Array.from({ length: count }, () => controller.decide(nowMs).admit);
}

describe("AdmissionController", () => {
  it("admits a full burst at once, then refuses the next arrival", () => {
    const controller = new AdmissionController({ ratePerSecond: 20, refusalCost: 0, burst: 5 }, 0);
    expect(admissions(controller, 6, 0)).toEqual([true, true, true, true, true, false]);
  });

  it("tells the k-th client refused in a burst to come back k / rate from now, with the configured spread", () => {
    const controller = new AdmissionController(
      { ratePerSecond: 20, refusalCost: 0, burst: 5, spreadMs: 300 },
      1_000,
    );
    admissions(controller, 5, 1_000);
    const hints = Array.from({ length: 10 }, () => refusal(controller, 1_000));
    expect(hints.map((hint) => hint.retryAfterMs)).toEqual([50, 100, 150, 200, 250, 300, 350, 400, 450, 500]);
    expect(hints.every((hint) => hint.spreadMs === 300)).toBe(true);
  });

  it("gives a later arrival the next free appointment, measured from its own arrival", () => {
    const controller = new AdmissionController({ ratePerSecond: 10, refusalCost: 0, burst: 1 }, 0);
    controller.decide(0);
    expect(refusal(controller, 0).retryAfterMs).toBe(100);
    expect(refusal(controller, 0).retryAfterMs).toBe(200);
    // At 50 ms the next free appointment is still 300 ms (from 0): 250 ms from now.
    expect(refusal(controller, 50).retryAfterMs).toBe(250);
    expect(controller.backlogMs(50)).toBe(350);
  });

  it("admits again once a token has refilled, 1 / rate after the bucket ran dry", () => {
    const controller = new AdmissionController({ ratePerSecond: 20, refusalCost: 0, burst: 2 }, 0);
    admissions(controller, 2, 0);
    expect(controller.decide(49).admit).toBe(false);
    expect(controller.decide(100).admit).toBe(true);
  });

  it("never holds more than the burst after a long quiet spell", () => {
    const controller = new AdmissionController({ ratePerSecond: 100, refusalCost: 0, burst: 3 }, 0);
    expect(admissions(controller, 4, 60_000)).toEqual([true, true, true, false]);
  });

  it("never tells a refused client to come back in 0 ms, even at epoch-sized times", () => {
    const now = 1_764_000_000_000;
    const almostOne = { tokens: 1 - Number.EPSILON, updatedAtMs: now, nextSlotAtMs: now };
    const controller = new AdmissionController(
      { ratePerSecond: 20, refusalCost: 0, burst: 5 },
      now,
      almostOne,
    );
    expect(refusal(controller, now).retryAfterMs).toBe(1);
  });

  it("counts admitted and refused clients and restores from a snapshot", () => {
    const controller = new AdmissionController({ ratePerSecond: 10, refusalCost: 0, burst: 2 }, 0);
    admissions(controller, 5, 0);
    expect([controller.admitted, controller.refused]).toEqual([2, 3]);
    const restored = new AdmissionController(
      { ratePerSecond: 10, refusalCost: 0, burst: 2 },
      0,
      controller.snapshot(),
    );
    expect(refusal(restored, 0).retryAfterMs).toBe(400);
  });

  it("never hands out an appointment whose window ends past maxHintMs", () => {
    const controller = new AdmissionController(
      { ratePerSecond: 10, refusalCost: 0, burst: 1, spreadMs: 700, maxHintMs: 2_000 },
      0,
    );
    for (let t = 0; t < 5_000; t += 7) {
      const decision = controller.decide(t);
      if (!decision.admit) {
        expect(decision.hint.retryAfterMs).toBeGreaterThanOrEqual(0);
        expect(decision.hint.retryAfterMs + (decision.hint.spreadMs ?? 0)).toBeLessThanOrEqual(2_000);
      }
    }
  });

  it("spreads clients whose turn lies past maxHintMs over its last quarter instead of stacking them on it", () => {
    const controller = new AdmissionController(
      { ratePerSecond: 10, refusalCost: 0, burst: 1, spreadMs: 200, maxHintMs: 1_000 },
      0,
    );
    const hints = Array.from({ length: 40 }, () => controller.decide(0))
      .filter((decision): decision is Refusal => !decision.admit)
      .map((decision) => decision.hint);
    expect(hints.at(-1)).toEqual({ retryAfterMs: 750, spreadMs: 250 });
    // Slots are booked only up to the ceiling: no phantom appointment keeps the server idle later.
    expect(controller.backlogMs(0)).toBeLessThanOrEqual(1_000 + 100);
  });

  it("brings a refused crowd in at close to the admission rate when every client keeps its appointment", () => {
    const rate = 50;
    const clients = 500;
    const random = seededRandom(7);
    const controller = new AdmissionController(
      { ratePerSecond: rate, refusalCost: 0, burst: 10, spreadMs: 1_000 },
      0,
    );
    // Every client arrives at 0 and returns at a uniformly random moment inside its appointment window.
    const pending: number[] = Array.from({ length: clients }, () => 0);
    let attempts = 0;
    let lastAdmittedAt = 0;
    while (pending.length > 0) {
      pending.sort((a, b) => a - b);
      const at = pending.shift() as number;
      attempts++;
      const decision = controller.decide(at);
      if (decision.admit) lastAdmittedAt = at;
      else pending.push(at + decision.hint.retryAfterMs + random() * (decision.hint.spreadMs ?? 0));
    }
    const idealMs = (clients / rate) * 1_000;
    // The floor is one refusal per client past the burst; allow re-refusals for 5 % of the crowd.
    expect(attempts).toBeLessThanOrEqual(clients + (clients - 10) + clients * 0.05);
    expect(lastAdmittedAt).toBeLessThan(idealMs * 1.3);
  });

  it.each<[string, AdmissionOptions, RegExp]>([
    [
      "ratePerSecond 0",
      { ratePerSecond: 0 },
      /^AdmissionController: ratePerSecond must be a finite number > 0; got 0$/,
    ],
    ["negative ratePerSecond", { ratePerSecond: -5 }, /ratePerSecond .* got -5/],
    ["ratePerSecond NaN", { ratePerSecond: Number.NaN }, /ratePerSecond .* got NaN/],
    ["ratePerSecond Infinity", { ratePerSecond: Number.POSITIVE_INFINITY }, /ratePerSecond .* got Infinity/],
    [
      "burst below one token",
      { ratePerSecond: 10, burst: 0.5 },
      /^AdmissionController: burst must be a finite number >= 1; got 0.5$/,
    ],
    ["negative spreadMs", { ratePerSecond: 10, spreadMs: -1 }, /spreadMs .* got -1/],
    ["maxHintMs 0", { ratePerSecond: 10, maxHintMs: 0 }, /maxHintMs .* got 0/],
  ])("rejects %s with a RangeError naming the option", (_name, options, message) => {
    expect(() => new AdmissionController(options, 0)).toThrow(RangeError);
    expect(() => new AdmissionController(options, 0)).toThrow(message);
  });

  it("rejects ratePerSecond as a string with a TypeError naming the option", () => {
    expect(() => new AdmissionController({ ratePerSecond: "10" as unknown as number }, 0)).toThrow(
      new TypeError('AdmissionController: ratePerSecond must be a finite number; got "10"'),
    );
  });

  it("rejects options that are not an object", () => {
    expect(() => new AdmissionController(null as unknown as AdmissionOptions, 0)).toThrow(
      /options must be an object; got null/,
    );
  });
});

describe("drainSchedule", () => {
  it("gives each client its own evenly spaced appointment across the window, with one spacing of spread", () => {
    expect(drainSchedule(4, 1_000)).toEqual([
      { retryAfterMs: 0, spreadMs: 250 },
      { retryAfterMs: 250, spreadMs: 250 },
      { retryAfterMs: 500, spreadMs: 250 },
      { retryAfterMs: 750, spreadMs: 250 },
    ]);
  });

  it("keeps every appointment window inside the drain window", () => {
    const schedule = drainSchedule(7, 1_000);
    for (const hint of schedule) expect(hint.retryAfterMs + (hint.spreadMs ?? 0)).toBeLessThanOrEqual(1_001);
    expect(new Set(schedule.map((hint) => hint.retryAfterMs)).size).toBe(7);
  });

  it("returns no appointments for no clients", () => {
    expect(drainSchedule(0, 1_000)).toEqual([]);
  });

  it.each<[string, number, number, RegExp]>([
    ["a negative count", -1, 1_000, /count must be an integer >= 0; got -1/],
    ["a fractional count", 1.5, 1_000, /count .* got 1.5/],
    ["windowMs NaN", 3, Number.NaN, /^drainSchedule: windowMs must be a finite number >= 0; got NaN$/],
    ["a negative windowMs", 3, -1, /windowMs .* got -1/],
    ["windowMs Infinity", 3, Number.POSITIVE_INFINITY, /windowMs .* got Infinity/],
  ])("rejects %s naming it", (_name, count, windowMs, message) => {
    expect(() => drainSchedule(count, windowMs)).toThrow(message);
  });
});

describe("socketIoAdmission", () => {
  it("refuses past the burst with next(err), err.message 'overloaded' and the hint as err.data", () => {
    const clock = new VirtualClock(10_000);
    const admission = socketIoAdmission({
      ratePerSecond: 10,
      refusalCost: 0,
      burst: 1,
      spreadMs: 500,
      clock,
    });
    const results: unknown[] = [];
    admission({}, (err) => results.push(err));
    admission({}, (err) => results.push(err));
    expect(results[0]).toBeUndefined();
    expect(results[1]).toBeInstanceOf(OverloadedError);
    expect(results[1]).toMatchObject({ message: "overloaded", data: { retryAfterMs: 100, spreadMs: 500 } });
    expect([admission.controller.admitted, admission.controller.refused]).toEqual([1, 1]);
  });

  it("admits again as the injected clock advances", () => {
    const clock = new VirtualClock(0);
    const admission = socketIoAdmission({ ratePerSecond: 10, refusalCost: 0, burst: 1, clock });
    const results: unknown[] = [];
    admission({}, (err) => results.push(err));
    clock.advance(100);
    admission({}, (err) => results.push(err));
    expect(results).toEqual([undefined, undefined]);
  });

  it("rejects misuse naming the option", () => {
    expect(() => socketIoAdmission({ ratePerSecond: 0 })).toThrow(/ratePerSecond/);
    expect(() => socketIoAdmission({ ratePerSecond: 1, clock: {} as VirtualClock })).toThrow(
      /clock must be an object with now\(\) and setTimeout\(\)/,
    );
    expect(() => socketIoAdmission(undefined as unknown as AdmissionOptions)).toThrow(
      /options must be an object/,
    );
  });
});

describe("wsAdmission", () => {
  const wss = { handleUpgrade: () => {}, emit: () => true };

  it("rejects misuse naming the option", () => {
    expect(() => wsAdmission({ ratePerSecond: 1, wss, refuseWith: "http-429" as "http-503" })).toThrow(
      /^wsAdmission: refuseWith must be "close-1013" or "http-503"; got "http-429"$/,
    );
    expect(() => wsAdmission({ ratePerSecond: 1 })).toThrow(
      /^wsAdmission: wss must be given with refuseWith "close-1013"/,
    );
    expect(() => wsAdmission({ ratePerSecond: 1, wss: {} as typeof wss })).toThrow(/wss must be a ws/);
    expect(() => wsAdmission({ ratePerSecond: Number.NaN, wss })).toThrow(/ratePerSecond .* got NaN/);
  });

  it("asks for accept when it has no wss to hand admitted upgrades to, before spending a token", () => {
    const admission = wsAdmission({ ratePerSecond: 1, burst: 1, refuseWith: "http-503" });
    const call = () => admission({} as never, {} as never, Buffer.alloc(0));
    expect(call).toThrow(/pass accept, or create the admission with the wss option/);
    expect(admission.controller.admitted + admission.controller.refused).toBe(0);
  });

  it("rounds Retry-After up to whole seconds, so nobody comes back before the appointment", () => {
    expect([0, 1, 999, 1_000, 1_001].map((ms) => retryAfterSeconds({ retryAfterMs: ms }))).toEqual([
      0, 1, 1, 1, 2,
    ]);
  });

  it("keeps the close reason of the longest hints under the 123-byte limit", () => {
    const reason = hintCloseReason({ retryAfterMs: 600_000, spreadMs: 599_999.999_999_9 });
    expect(reason.length).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    expect(JSON.parse(reason)).toEqual({ retryAfterMs: 600_000, spreadMs: 599_999.999_999_9 });
  });
});

describe("drain", () => {
  function fakeSocketIo(count: number) {
    const log: string[] = [];
    const notices = new Map<number, HintPayload>();
    const sockets = new Map(
      Array.from({ length: count }, (_, id) => [
        String(id),
        {
          emit: (event: string, payload: HintPayload) => {
            log.push(`${id}:${event}`);
            notices.set(id, payload);
          },
          disconnect: (close?: boolean) => log.push(`${id}:disconnect(${close})`),
        },
      ]),
    );
    return { log, notices, namespace: { sockets } };
  }

  it("sends every Socket.IO client its own drain notice before disconnecting it, in a shuffled order", () => {
    const { log, notices, namespace } = fakeSocketIo(8);
    const summary = drainSocketIo({ sockets: namespace }, { windowMs: 800, random: seededRandom(3) });
    expect(summary).toEqual({ clients: 8, windowMs: 800 });
    const order = log
      .filter((entry) => entry.endsWith(DRAIN_EVENT))
      .map((entry) => Number(entry.split(":")[0]));
    expect(order).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const id of order) {
      expect(log.indexOf(`${id}:${DRAIN_EVENT}`)).toBe(log.indexOf(`${id}:disconnect(true)`) - 1);
    }
    const appointments = [...notices.values()].map((hint) => hint.retryAfterMs).sort((a, b) => a - b);
    expect(appointments).toEqual([0, 100, 200, 300, 400, 500, 600, 700]);
  });

  it("drains a namespace passed directly", () => {
    const { namespace } = fakeSocketIo(3);
    expect(drainSocketIo(namespace, { windowMs: 0 }).clients).toBe(3);
  });

  it("closes every open ws client with 1012 and its own JSON hint, leaving closing ones alone", () => {
    const closes: Array<[number, number, string]> = [];
    const client = (id: number, readyState: number) => ({
      readyState,
      close: (code: number, reason: string) => closes.push([id, code, reason]),
    });
    const clients = new Set([client(0, 1), client(1, 1), client(2, 2), client(3, 1)]);
    const summary = drainWs({ clients }, { windowMs: 300, random: seededRandom(1) });
    expect(summary.clients).toBe(3);
    expect(closes.map(([id]) => id).sort()).toEqual([0, 1, 3]);
    expect(closes.every(([, code]) => code === CLOSE_SERVICE_RESTART)).toBe(true);
    const hints = closes.map(([, , reason]) => JSON.parse(reason) as HintPayload);
    expect(hints.map((hint) => hint.retryAfterMs).sort((a, b) => a - b)).toEqual([0, 100, 200]);
  });

  it("rejects a NaN window naming windowMs, before touching any client", () => {
    const { log, namespace } = fakeSocketIo(2);
    expect(() => drainSocketIo(namespace, { windowMs: Number.NaN })).toThrow(/windowMs .* got NaN/);
    expect(() => drainWs({ clients: [] }, { windowMs: -5 })).toThrow(/windowMs .* got -5/);
    expect(log).toEqual([]);
  });

  it("rejects servers it cannot drain, saying what it needs", () => {
    expect(() => drainSocketIo({} as never, { windowMs: 1 })).toThrow(/Socket.IO Server or Namespace/);
    expect(() => drainWs({} as never, { windowMs: 1 })).toThrow(/clientTracking/);
    expect(() => drainWs({ clients: [] }, { windowMs: 1, random: 3 as never })).toThrow(
      /random must be a function/,
    );
  });
});

describe("refusal cost", () => {
  it("charges each refusal against the bucket, so appointments move back while refusals eat capacity", () => {
    const free = new AdmissionController({ ratePerSecond: 10, burst: 1, refusalCost: 0 }, 0);
    const costly = new AdmissionController({ ratePerSecond: 10, burst: 1, refusalCost: 0.5 }, 0);
    free.decide(0);
    costly.decide(0);
    const lastFree = Array.from({ length: 10 }, () => free.decide(0)).at(-1);
    const lastCostly = Array.from({ length: 10 }, () => costly.decide(0)).at(-1);
    expect(lastFree).toMatchObject({ admit: false, hint: { retryAfterMs: 1_000 } });
    expect(lastCostly?.admit).toBe(false);
    const costlyWait = lastCostly?.admit === false ? lastCostly.hint.retryAfterMs : 0;
    expect(costlyWait).toBeGreaterThan(1_000);
  });

  it("never runs more than one second into debt, however many it refuses", () => {
    const controller = new AdmissionController({ ratePerSecond: 10, burst: 1, refusalCost: 1 }, 0);
    for (let i = 0; i < 1_000; i++) controller.decide(0);
    expect(controller.snapshot().tokens).toBe(-10);
  });

  it("rejects a refusal cost outside [0, 1], naming the option", () => {
    expect(() => new AdmissionController({ ratePerSecond: 10, refusalCost: 2 }, 0)).toThrow(
      /refusalCost .* got 2/,
    );
    expect(() => new AdmissionController({ ratePerSecond: 10, refusalCost: Number.NaN }, 0)).toThrow(
      /refusalCost/,
    );
  });
});

describe("drainSchedule startInMs", () => {
  it("starts the appointments when the replacement accepts, not now", () => {
    expect(drainSchedule(4, 1_000, 30_000)).toEqual([
      { retryAfterMs: 30_000, spreadMs: 250 },
      { retryAfterMs: 30_250, spreadMs: 250 },
      { retryAfterMs: 30_500, spreadMs: 250 },
      { retryAfterMs: 30_750, spreadMs: 250 },
    ]);
  });

  it("rejects a negative or NaN start, naming it", () => {
    expect(() => drainSchedule(1, 1_000, -1)).toThrow(/startInMs .* got -1/);
    expect(() => drainSchedule(1, 1_000, Number.NaN)).toThrow(/startInMs .* got NaN/);
  });
});

describe("booking horizon", () => {
  it("books no appointment past maxBookAheadMs and spreads those clients over [horizon, 1.5 × horizon]", () => {
    const controller = new AdmissionController(
      { ratePerSecond: 10, burst: 1, refusalCost: 0, spreadMs: 0, maxBookAheadMs: 2_000 },
      0,
    );
    controller.decide(0);
    const hints = Array.from({ length: 40 }, () => controller.decide(0));
    // Booked appointments carry the configured spread (0 here); unbooked ones the horizon's.
    const booked = hints.filter((d) => d.admit === false && d.hint.spreadMs === 0);
    const later = hints.filter((d) => d.admit === false && d.hint.spreadMs !== 0);
    expect(booked.length).toBeGreaterThanOrEqual(19);
    expect(booked.length).toBeLessThanOrEqual(21);
    expect(later.length).toBe(40 - booked.length);
    for (const d of later.slice(-5))
      expect(d).toEqual({ admit: false, hint: { retryAfterMs: 2_000, spreadMs: 1_000 } });
    expect(controller.backlogMs(0)).toBeLessThanOrEqual(2_100);
  });

  it("rejects a non-positive horizon, naming it", () => {
    expect(() => new AdmissionController({ ratePerSecond: 10, maxBookAheadMs: 0 }, 0)).toThrow(
      /maxBookAheadMs .* got 0/,
    );
  });
});
