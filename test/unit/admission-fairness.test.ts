/**
 * Admission fair to the compliant, on explicit times (the controller is pure): a key that ignores its
 * hints pays with its own slots, keys share the rate, a crowd behind one key keeps the whole rate when
 * alone, and the key table stays bounded without letting newcomers evict anyone. The Socket.IO middleware's
 * one-decision-per-connection rule with fake sockets sharing one engine.io connection.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type HintPayload, seededRandom, VirtualClock } from "../../src/index.js";
import {
  AdmissionController,
  type AdmissionOptions,
  addressKey,
  DuplicateConnectError,
  OverloadedError,
  socketIoAdmission,
  wsAdmission,
} from "../../src/server/index.js";

/**
 * Clients all arriving at `0`, each coming back at a uniformly random moment of every window it is given
 * (what ResilientSocket does); optionally one key arriving every `1000 / floodPerSecond` ms from
 * `floodFromMs` whatever it was told. Returns when the last compliant client was admitted and the flooder's
 * admissions after 0.
 */
function storm(
  options: AdmissionOptions,
  clients: number,
  keyOf: (i: number) => string | undefined,
  flood?: { perSecond: number; fromMs: number },
) {
  const controller = new AdmissionController(options, Math.min(0, flood?.fromMs ?? 0));
  const random = seededRandom(3);
  const queue: Array<[number, number]> = Array.from({ length: clients }, (_, i) => [0, i]);
  if (flood !== undefined) queue.push([flood.fromMs, -1]);
  let attempts = 0;
  let lastMs = 0;
  let admitted = 0;
  let floodAdmittedAfterStart = 0;
  while (admitted < clients) {
    queue.sort((a, b) => a[0] - b[0]);
    const [at, i] = queue.shift() as [number, number];
    if (i === -1) {
      if (controller.decide(at, "flooder").admit && at >= 0) floodAdmittedAfterStart++;
      queue.push([at + 1000 / (flood?.perSecond ?? 1), -1]);
      continue;
    }
    attempts++;
    const decision = controller.decide(at, keyOf(i));
    if (decision.admit) {
      lastMs = at;
      admitted++;
    } else queue.push([at + decision.hint.retryAfterMs + random() * (decision.hint.spreadMs ?? 0), i]);
  }
  return { lastMs, attemptsPerClient: attempts / clients, floodAdmittedAfterStart, controller };
}

function refusal(controller: AdmissionController, nowMs: number, key?: string): HintPayload {
  const decision = controller.decide(nowMs, key);
  if (decision.admit) throw new Error(`expected a refusal at ${nowMs} ms`);
  return decision.hint;
}

describe("admission per key", () => {
  it("charges a key that comes back before its appointment nothing of the shared bucket or schedule", () => {
    const controller = new AdmissionController({ ratePerSecond: 10, burst: 1, spreadMs: 0 }, 0);
    controller.decide(0, "first");
    const first = refusal(controller, 0, "flooder");
    const shared = controller.snapshot();
    const early = Array.from({ length: 1_000 }, (_, i) => refusal(controller, 1 + (i % 50), "flooder"));
    // The shared bucket and the next shared appointment are exactly where the first refusal left them.
    expect(controller.snapshot()).toEqual({ ...shared, updatedAtMs: shared.updatedAtMs });
    expect(controller.refusedByKey).toBe(1_000);
    // Each early arrival is booked on the flooder's own schedule, behind its first appointment.
    expect(early.every((hint) => hint.retryAfterMs >= first.retryAfterMs - 51)).toBe(true);
    // An honest newcomer is booked exactly where it would have been without the flood.
    const alone = new AdmissionController({ ratePerSecond: 10, burst: 1, spreadMs: 0 }, 0);
    alone.decide(0, "first");
    refusal(alone, 0, "flooder");
    expect(refusal(controller, 60, "honest")).toEqual(refusal(alone, 60, "honest"));
  });

  it("refuses a key booked to the horizon cheaply, without booking anything more", () => {
    const controller = new AdmissionController(
      { ratePerSecond: 10, burst: 1, spreadMs: 0, maxBookAheadMs: 2_000 },
      0,
    );
    controller.decide(0, "flooder");
    const hints = Array.from({ length: 200 }, () => controller.decide(1, "flooder"));
    const cheap = hints.filter((d) => !d.admit && d.cheap === true);
    expect(cheap.length).toBeGreaterThan(150);
    for (const d of cheap) expect(d).toMatchObject({ hint: { retryAfterMs: 2_000, spreadMs: 1_000 } });
  });

  it("keeps 20 compliant clients within 1.1 × their quiet time against one key arriving 150 times a second", () => {
    const options = { ratePerSecond: 20, burst: 10 };
    const keys = (i: number) => `client-${i}`;
    const quiet = storm(options, 20, keys);
    for (const perSecond of [60, 150, 1_000]) {
      const attacked = storm(options, 20, keys, { perSecond, fromMs: -1_000 });
      expect(attacked.lastMs).toBeLessThanOrEqual(quiet.lastMs * 1.2);
      // About one pass per (keys waiting) / rate: a small share, not the 20/s it asks for.
      expect(attacked.floodAdmittedAfterStart).toBeLessThanOrEqual(Math.ceil(attacked.lastMs / 1000) * 4);
    }
  });

  it("lets a crowd behind one key use the whole rate when nobody else is asking", () => {
    const options = { ratePerSecond: 20, burst: 5 };
    for (const clients of [40, 200]) {
      const unkeyed = storm(options, clients, () => undefined);
      const oneKey = storm(options, clients, () => "203.0.113.7");
      expect(oneKey.lastMs).toBeLessThanOrEqual(unkeyed.lastMs * 1.15);
      expect(oneKey.attemptsPerClient).toBeLessThanOrEqual(unkeyed.attemptsPerClient + 0.2);
    }
  });

  it("decides without a key exactly as before keys existed (the storm simulator's model)", () => {
    const keyed = new AdmissionController({ ratePerSecond: 10, burst: 2 }, 0);
    const plain = new AdmissionController({ ratePerSecond: 10, burst: 2 }, 0);
    for (let t = 0; t < 3_000; t += 7) keyed.decide(t, `k${t % 5}`);
    const after = new AdmissionController({ ratePerSecond: 10, burst: 2 }, 3_000, keyed.snapshot());
    const reference = new AdmissionController({ ratePerSecond: 10, burst: 2 }, 3_000, keyed.snapshot());
    for (let t = 3_000; t < 4_000; t += 3) expect(after.decide(t)).toEqual(reference.decide(t));
    expect(plain.trackedKeys).toBe(0);
  });
});

describe("the key table", () => {
  it("never holds more than maxKeys however many keys arrive, and forgets a key with nothing pending at once", () => {
    const controller = new AdmissionController({ ratePerSecond: 100, burst: 1, maxKeys: 500 }, 0);
    for (let i = 0; i < 100_000; i++) controller.decide(i / 100, `attacker-${i}`);
    expect(controller.trackedKeys).toBeLessThanOrEqual(500);
    const idle = new AdmissionController({ ratePerSecond: 100, burst: 100 }, 0);
    for (let i = 0; i < 1_000; i++) idle.decide(i * 1_000, `visitor-${i}`);
    // Admitted keys are paced for one spacing only; then nothing of them is kept.
    expect(idle.trackedKeys).toBeLessThanOrEqual(1);
  });

  it("never evicts a waiting key to make room for newcomers: a full table sends newcomers to one shared record", () => {
    const controller = new AdmissionController(
      { ratePerSecond: 10, burst: 1, spreadMs: 1_000, maxKeys: 100 },
      0,
    );
    controller.decide(0, "first");
    const victim = refusal(controller, 0, "victim");
    for (let i = 0; i < 10_000; i++) controller.decide(1, `sybil-${i}`);
    expect(controller.trackedKeys).toBe(100);
    // The victim's record survived: arriving early, it is booked behind its own appointment (no shared cost).
    const before = controller.refusedByKey;
    const again = refusal(controller, 2, "victim");
    expect(controller.refusedByKey).toBe(before + 1);
    expect(again.retryAfterMs).toBeGreaterThan(victim.retryAfterMs - 2);
  });

  it("keeps every hint inside maxHintMs and the table inside maxKeys for any arrivals", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 30 })), {
          maxLength: 400,
        }),
        fc.integer({ min: 1, max: 20 }),
        (arrivals, maxKeys) => {
          const controller = new AdmissionController(
            { ratePerSecond: 5, burst: 2, maxHintMs: 3_000, maxBookAheadMs: 2_000, maxKeys },
            0,
          );
          let now = 0;
          for (const [gap, key] of arrivals) {
            now += gap;
            const decision = controller.decide(now, `k${key}`);
            if (!decision.admit) {
              expect(decision.hint.retryAfterMs).toBeGreaterThanOrEqual(1);
              expect(decision.hint.retryAfterMs + (decision.hint.spreadMs ?? 0)).toBeLessThanOrEqual(3_000);
            }
            expect(controller.trackedKeys).toBeLessThanOrEqual(maxKeys);
          }
        },
      ),
    );
  });

  it.each<[string, AdmissionOptions, RegExp]>([
    [
      "keyBurst below one",
      { ratePerSecond: 10, keyBurst: 0.5 },
      /^AdmissionController: keyBurst must be a finite number >= 1; got 0.5$/,
    ],
    ["maxKeys 0", { ratePerSecond: 10, maxKeys: 0 }, /maxKeys must be an integer >= 1; got 0/],
    ["fractional maxKeys", { ratePerSecond: 10, maxKeys: 1.5 }, /maxKeys .* got 1.5/],
  ])("rejects %s with a RangeError naming the option", (_name, options, message) => {
    expect(() => new AdmissionController(options, 0)).toThrow(RangeError);
    expect(() => new AdmissionController(options, 0)).toThrow(message);
  });
});

describe("addressKey", () => {
  it.each([
    ["203.0.113.9", "203.0.113.9"],
    ["::ffff:203.0.113.9", "203.0.113.9"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::ff", "2001:db8:1:2::/64"],
    ["2001:DB8::1", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    [undefined, "unknown"],
  ])("keys %s as %s", (address, key) => {
    expect(addressKey(address)).toBe(key);
  });

  it("gives every address of one /64 the same key, so one host cannot spread itself over 2^64 keys", () => {
    const keys = new Set(
      Array.from({ length: 100 }, (_, i) => addressKey(`2001:db8:aa:bb:${i.toString(16)}::${i}`)),
    );
    expect(keys).toEqual(new Set(["2001:db8:aa:bb::/64"]));
  });
});

describe("socketIoAdmission per engine.io connection", () => {
  function fakeSocket(conn: object, namespace = "/", address = "198.51.100.1") {
    const listeners: Array<() => void> = [];
    return {
      socket: {
        conn,
        nsp: { name: namespace },
        handshake: { address },
        once: (_event: "disconnect", listener: () => void) => listeners.push(listener),
      },
      disconnect: () => {
        for (const listener of listeners) listener();
      },
    };
  }

  it("admits 30 CONNECTs of one connection once, refusing the other 29 as duplicates at no cost", () => {
    const admission = socketIoAdmission({ ratePerSecond: 10, clock: new VirtualClock(0) });
    const conn = { close: () => {} };
    const results: unknown[] = [];
    for (let i = 0; i < 30; i++) admission(fakeSocket(conn).socket, (err) => results.push(err));
    expect(results[0]).toBeUndefined();
    expect(results.slice(1).every((err) => err instanceof DuplicateConnectError)).toBe(true);
    expect([admission.controller.admitted, admission.controller.refused]).toEqual([1, 0]);
  });

  it("lets an admitted connection join another namespace, and re-join one it left, without a new token", () => {
    const admission = socketIoAdmission({ ratePerSecond: 1, burst: 1, clock: new VirtualClock(0) });
    const conn = { close: () => {} };
    const results: unknown[] = [];
    const main = fakeSocket(conn, "/");
    admission(main.socket, (err) => results.push(err));
    admission(fakeSocket(conn, "/chat").socket, (err) => results.push(err));
    main.disconnect();
    admission(fakeSocket(conn, "/").socket, (err) => results.push(err));
    expect(results).toEqual([undefined, undefined, undefined]);
    expect(admission.controller.admitted).toBe(1);
    // Another connection from the same address finds no token left.
    admission(fakeSocket({ close: () => {} }).socket, (err) => results.push(err));
    expect(results.at(-1)).toBeInstanceOf(OverloadedError);
  });

  it("keys by the operator's key function, and falls back to the address when it throws or returns junk", () => {
    const seen: string[] = [];
    const admission = socketIoAdmission({
      ratePerSecond: 10,
      clock: new VirtualClock(0),
      key: (handshake) => {
        const id = handshake.auth?.user;
        if (id === "boom") throw new Error("bad token");
        seen.push(String(id));
        return id === "long" ? "x".repeat(10_000) : (id as string | undefined);
      },
    });
    for (const user of ["alice", "boom", "long", undefined]) {
      const socket = { conn: {}, handshake: { address: "192.0.2.1", auth: { user } } };
      expect(() => admission(socket, () => {})).not.toThrow();
    }
    expect(seen).toEqual(["alice", "long", "undefined"]);
    expect(() => socketIoAdmission({ ratePerSecond: 1, key: "ip" as never })).toThrow(
      /^socketIoAdmission: key must be a function; got /,
    );
  });
});

describe("wsAdmission keys", () => {
  const wss = { handleUpgrade: () => {}, emit: () => true };

  it("rejects a key that is not a function, naming it", () => {
    expect(() => wsAdmission({ ratePerSecond: 1, wss, key: "x-forwarded-for" as never })).toThrow(
      /^wsAdmission: key must be a function; got /,
    );
  });

  it("falls back to the remote address when the key function throws or returns junk, and never throws itself", () => {
    const keys = ["alice", undefined, "x".repeat(257)];
    let call = 0;
    const admission = wsAdmission({
      ratePerSecond: 1,
      burst: 1,
      keyBurst: 1,
      refuseWith: "http-503",
      clock: new VirtualClock(0),
      key: () => {
        call++;
        if (call === 2) throw new Error("bad header");
        return keys[call - 1];
      },
    });
    const socket = { destroyed: true, on: () => {}, once: () => {}, end: () => {} };
    const request = { socket: { remoteAddress: "::ffff:192.0.2.7" }, headers: {} };
    const admitted: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      expect(() =>
        admitted.push(admission(request as never, socket as never, Buffer.alloc(0), () => {})),
      ).not.toThrow();
    }
    // "alice" takes the only token; the other three share the address's key "192.0.2.7".
    expect(admitted).toEqual([true, false, false, false]);
    // One shared key: the second booked a slot, the third and fourth came before it and were booked on it.
    expect(admission.controller.refusedByKey).toBe(2);
  });
});
