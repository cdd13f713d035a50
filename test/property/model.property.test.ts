/**
 * Model-based test (fast-check commands): random sequences of server events (accept, refuse, hint, drop,
 * hang, restart, network loss) and user calls (send, close, connect) against the in-process fake transport
 * on the virtual clock, with and without at-least-once delivery. After every step:
 * - at most one live connection;
 * - no attempt while the breaker is open;
 * - nothing sent after `close()`;
 * - the queue within its bounds;
 * - with delivery on, sequence numbers on the wire never decrease within a connection (a drop listener that
 *   sends again, as apps do, must not overtake a message already numbered);
 * - every message sent is delivered, still queued, or reported dropped (after `close()`: delivered — acked,
 *   with delivery on — or dropped, nothing in between).
 * FC_RUNS sets the number of runs (default 200).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  atLeastOnce,
  type DeliveryMessage,
  type DropReason,
  decorrelatedJitter,
  ResilientSocket,
  seededRandom,
  VirtualClock,
} from "../../src/index.js";
import { deliveryAck } from "../../src/server/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const MAX_MESSAGES = 5;
const MAX_BYTES = 200;

interface Real {
  readonly clock: VirtualClock;
  readonly transport: FakeTransport;
  readonly socket: ResilientSocket;
  readonly reliable: boolean;
  readonly dropped: Map<number, DropReason>;
  sent: number;
  closed: boolean;
  offline: boolean;
  /** Attempts made when the breaker last opened; undefined while it is not open. */
  attemptsWhenOpened: number | undefined;
  /** Highest sequence number acknowledged. */
  ackedUpTo: number;
  /** Wire messages transmitted when close() was called. */
  transmittedAtClose: number;
  /** Sends listeners may still make in this step (0: listeners do not send). */
  resends: number;
  /** Sends listeners may make per step. */
  readonly resendsPerStep: number;
}

/** No model state is needed beyond the real system's observable one. */
type Model = Record<string, never>;

const sid = "model";

function payload(wire: unknown): number | undefined {
  if (typeof wire === "number") return wire;
  if (wire !== null && typeof wire === "object") return (wire as DeliveryMessage).data as number;
  return undefined;
}

/** Messages the server has received (at least once). */
function received(real: Real): Set<number> {
  const seen = new Set<number>();
  for (const attempt of real.transport.attempts)
    for (const wire of attempt.sent) {
      const n = payload(wire);
      if (n !== undefined) seen.add(n);
    }
  return seen;
}

function transmitted(real: Real): number {
  return real.transport.attempts.reduce((n, attempt) => n + attempt.sent.length, 0);
}

function live(real: Real) {
  const current = real.transport.attempts.at(-1);
  return current !== undefined && !current.closedByClient ? current : undefined;
}

class Step implements fc.Command<Model, Real> {
  constructor(
    private readonly name: string,
    private readonly act: (real: Real) => void,
  ) {}
  check(): boolean {
    return true;
  }
  run(_model: Model, real: Real): void {
    real.resends = real.resendsPerStep;
    this.act(real);
    checkInvariants(real);
  }
  toString(): string {
    return this.name;
  }
}

function checkInvariants(real: Real): void {
  const { transport, socket } = real;
  expect(transport.live).toBeLessThanOrEqual(1);
  if (real.attemptsWhenOpened !== undefined) expect(transport.attempts.length).toBe(real.attemptsWhenOpened);
  if (real.closed) expect(transmitted(real)).toBe(real.transmittedAtClose);
  if (real.reliable)
    for (const attempt of transport.attempts)
      attempt.sent.forEach((wire, i) => {
        if (i > 0)
          expect((wire as DeliveryMessage).seq).toBeGreaterThan((attempt.sent[i - 1] as DeliveryMessage).seq);
      });
  const { queue } = socket.stats();
  expect(queue.messages).toBeLessThanOrEqual(MAX_MESSAGES);
  expect(queue.bytes).toBeLessThanOrEqual(MAX_BYTES);
  const seen = received(real);
  let unaccounted = 0;
  for (let n = 0; n < real.sent; n++) if (!seen.has(n) && !real.dropped.has(n)) unaccounted++;
  // Neither received nor reported dropped: it must still be waiting in the queue.
  expect(unaccounted).toBeLessThanOrEqual(queue.messages);
}

/** The server's side of an event on the live connection (or attempt). */
function onLive(name: string, when: "connecting" | "open" | "any", act: (real: Real) => void) {
  return new Step(name, (real) => {
    const state = real.socket.state;
    const ok = when === "any" ? state === "connecting" || state === "open" : state === when;
    if (live(real) !== undefined && ok) act(real);
  });
}

const accept = onLive("accept", "connecting", (real) => live(real)?.open());

const commands = [
  // Weighted (listed thrice): most runs must spend time open, or sends, flushes and acks go untested.
  fc.constant(accept),
  fc.constant(accept),
  fc.constant(accept),
  fc.option(fc.nat({ max: 120_000 }), { nil: undefined }).map((hintMs) =>
    onLive(`refuse(${hintMs})`, "connecting", (real) =>
      live(real)?.close({
        kind: hintMs === undefined ? "refused" : "error",
        ...(hintMs === undefined
          ? {}
          : { hint: { hint: { source: "retry-after", delayMs: hintMs, spreadMs: 0 } } }),
      }),
    ),
  ),
  fc.nat({ max: 900_000 }).map((hintMs) =>
    onLive(`hint(${hintMs})`, "any", (real) =>
      live(real)?.close({
        kind: "closed",
        code: 1013,
        hint: { hint: { source: "close-code", delayMs: hintMs, spreadMs: 1_000 } },
      }),
    ),
  ),
  fc.constant(onLive("drop", "open", (real) => live(real)?.close({ kind: "closed", code: 1006 }))),
  fc.constant(onLive("restart", "open", (real) => live(real)?.close({ kind: "closed", code: 1012 }))),
  fc.constant(
    onLive("ack", "open", (real) => {
      if (!real.reliable) return;
      // Acknowledges everything up to the highest sequence number the server has received.
      const seqs = real.transport.attempts.flatMap((a) => a.sent.map((w) => (w as DeliveryMessage).seq));
      real.ackedUpTo = Math.max(real.ackedUpTo, ...seqs);
      live(real)?.message(deliveryAck(sid, real.ackedUpTo));
    }),
  ),
  fc.constant(new Step("hang", (real) => real.clock.advance(25_000))),
  fc.nat({ max: 200_000 }).map((ms) => new Step(`advance(${ms})`, (real) => real.clock.advance(ms))),
  fc.boolean().map(
    (offline) =>
      new Step(offline ? "offline" : "online", (real) => {
        real.offline = offline;
        real.transport.throwOnConnect = offline ? new Error("network unreachable") : undefined;
        if (offline) live(real)?.close({ kind: "error", code: 1006 });
      }),
  ),
  fc.constant(
    new Step("send", (real) => {
      const n = real.sent++;
      const result = real.socket.send(n);
      if (real.closed) expect(result).toBe("dropped");
      // After close() nobody listens any more: the return value is the report.
      if (result === "dropped" && !real.dropped.has(n)) real.dropped.set(n, "closed");
    }),
  ),
  fc.constant(new Step("connect", (real) => real.socket.connect())),
  fc.constant(
    new Step("close", (real) => {
      if (!real.closed) real.transmittedAtClose = transmitted(real);
      real.closed = true;
      void real.socket.close();
    }),
  ),
];

function setup(seed: number, reliable: boolean): Real {
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
    queue: { maxMessages: MAX_MESSAGES, maxBytes: MAX_BYTES, ttlMs: 60_000 },
    ...(reliable ? { delivery: atLeastOnce({ sessionId: sid, maxUnacked: 2 }) } : {}),
  });
  const real: Real = {
    clock,
    transport,
    socket,
    reliable,
    dropped: new Map(),
    sent: 0,
    closed: false,
    offline: false,
    attemptsWhenOpened: undefined,
    ackedUpTo: 0,
    transmittedAtClose: 0,
    resends: 0,
    resendsPerStep: seed % 2 === 0 ? 3 : 0,
  };
  // Half the runs send from listeners too, as apps do: from `drop` (re-entrant, in the middle of a flush or a
  // send) and on `open` (before the queued messages are flushed), a few times per step.
  const sendFromListener = () => {
    if (real.resends <= 0 || real.closed) return;
    real.resends--;
    const n = real.sent++;
    if (socket.send(n) === "dropped" && !real.dropped.has(n)) real.dropped.set(n, "closed");
  };
  socket.on("drop", ({ data, reason }) => {
    real.dropped.set(data as number, reason);
    sendFromListener();
  });
  socket.on("state", (state) => state === "open" && sendFromListener());
  socket.on("circuit", ({ state }) => {
    real.attemptsWhenOpened = state === "open" ? transport.attempts.length : undefined;
  });
  socket.on("retry", ({ delayMs }) => expect(delayMs).toBeLessThanOrEqual(120_000));
  socket.connect();
  return real;
}

describe("ResilientSocket against a model of hostile servers and users", () => {
  it("keeps every invariant after every step, and accounts for every message once closed", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.boolean(),
        fc.commands(commands, { maxCommands: 60 }),
        (seed, reliable, cmds) => {
          const real = setup(seed, reliable);
          fc.modelRun(() => ({ model: {} as Model, real }), cmds);
          if (!real.closed) {
            real.transmittedAtClose = transmitted(real);
            real.closed = true;
            void real.socket.close();
          }
          checkInvariants(real);
          const seen = received(real);
          for (let n = 0; n < real.sent; n++) {
            // Closed: every message reached the server or was reported dropped; with delivery on, every message
            // was acknowledged (sequence number n + 1) or reported dropped — nothing left in between.
            expect(seen.has(n) || real.dropped.has(n)).toBe(true);
            if (real.reliable) expect(n + 1 <= real.ackedUpTo || real.dropped.has(n)).toBe(true);
          }
          expect(real.clock.pendingTimers()).toBe(0);
          expect(real.transport.live).toBe(0);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 200) },
    );
  });
});
