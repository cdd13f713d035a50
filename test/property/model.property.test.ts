/**
 * Model-based test (fast-check commands): random sequences of server events (accept, refuse, hint, drop,
 * hang, restart, network loss without any page event), page signals (offline/online, hidden/visible under
 * `whenHidden: "pause"`, pagehide/pageshow, dispatched on stand-ins for window and document) and user calls
 * (send, close, connect) against the in-process fake transport on the virtual clock, with and without
 * at-least-once delivery, starting online or offline. After every step:
 * - at most one live connection;
 * - no attempt (a transport connect() call, one that throws included) while the breaker is open;
 * - no attempt while the page is offline, hidden or frozen — except the one a user's connect() forces from
 *   `paused` (navigator.onLine can lie); `paused` only then, never a retry timer running meanwhile;
 * - leaving a pause (online, visible, pageshow) arms exactly one attempt at
 *   now + min(max(planned − now, u × resumeJitterMs), maxDelayMs), u the socket's own draw at that moment
 *   and planned the moment the policy had asked for — never an immediate, synchronized reconnect, never
 *   sooner than planned — and the next attempt does not start earlier;
 * - nothing sent after `close()`;
 * - the queue within its bounds;
 * - with delivery on, sequence numbers on the wire never decrease within a connection (a drop listener that
 *   sends again, as apps do, must not overtake a message already numbered);
 * - every message sent is delivered, still queued, or reported dropped (after `close()`: delivered — acked,
 *   with delivery on — or dropped, nothing in between);
 * - after close() the page's targets have no listener left.
 * FC_RUNS sets the number of runs (default 200).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  atLeastOnce,
  type ConnectionHandlers,
  type DropReason,
  decorrelatedJitter,
  ResilientSocket,
  type SignalTarget,
  type SocketState,
  seededRandom,
  type TransportContext,
  VirtualClock,
} from "../../src/index.js";
import type { DeliveryMessage } from "../../src/internals.js";
import { deliveryAck } from "../../src/server/index.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const MAX_MESSAGES = 5;
const MAX_BYTES = 200;
const MAX_DELAY_MS = 120_000;

/** A stand-in for `window` or `document` that can tell how many listeners are left. */
class FakeTarget implements SignalTarget {
  private readonly listeners = new Map<string, Set<(event: Event) => void>>();
  addEventListener(type: string, listener: (event: Event) => void): void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener);
    this.listeners.set(type, set);
  }
  removeEventListener(type: string, listener: (event: Event) => void): void {
    this.listeners.get(type)?.delete(listener);
  }
  get listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
  dispatch(type: string): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener(new Event(type));
  }
}

class FakeDocument extends FakeTarget {
  visibilityState: "visible" | "hidden" = "visible";
}

/** Every connect() call counts as an attempt, including one that throws (the network is down). */
class CountingTransport extends FakeTransport {
  onConnect: () => void = () => {};
  override connect(handlers: ConnectionHandlers, context: TransportContext) {
    this.onConnect();
    return super.connect(handlers, context);
  }
}

/** What the browser says, as the test made it say it. */
interface Page {
  readonly window: FakeTarget;
  readonly document: FakeDocument;
  readonly navigator: { onLine: boolean };
  readonly resumeJitterMs: number;
  offline: boolean;
  hidden: boolean;
  frozen: boolean;
}

interface Real {
  readonly clock: VirtualClock;
  readonly transport: CountingTransport;
  readonly socket: ResilientSocket;
  readonly reliable: boolean;
  readonly page: Page;
  readonly dropped: Map<number, DropReason>;
  /** Broken invariants seen inside listeners, where a throw would not reach fast-check. */
  readonly violations: string[];
  sent: number;
  closed: boolean;
  /** Transport connect() calls so far. */
  connectCalls: number;
  /** Connect calls made when the breaker last opened; undefined while it is not open. */
  attemptsWhenOpened: number | undefined;
  /** When the open breaker lets its probe through; undefined while it is not open. */
  reopensAt: number | undefined;
  /** The last uniform draw the socket made. */
  lastDraw: number;
  /** Inside a user's connect() from `paused`: the one attempt the page signals let through. */
  forcing: boolean;
  /** Inside the dispatch of `pagehide`. */
  hiding: boolean;
  /** The hint (ms) of the close the server is making right now, if it gave one. */
  closeHintMs: number | undefined;
  /** The moment the policy asked for (exact), or a moment it cannot be earlier than (not exact). */
  planned: { at: number; exact: boolean } | undefined;
  /** After a pause ended: no attempt before this moment. */
  notBefore: number | undefined;
  /** Highest sequence number acknowledged. */
  ackedUpTo: number;
  /** Wire messages transmitted when close() was called. */
  transmittedAtClose: number;
  /** Sends listeners may still make in this step (0: listeners do not send). */
  resends: number;
  /** Sends listeners may make per step. */
  readonly resendsPerStep: number;
}

/** No model state is needed beyond the real system's observable one and the page's signals. */
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

/** Why the page forbids attempts now (offline, hidden under "pause", in the back/forward cache), or "". */
function pauseReason({ page }: Real): string {
  return [page.offline && "offline", page.hidden && "hidden", page.frozen && "frozen"]
    .filter(Boolean)
    .join("+");
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
  expect(real.violations.join("; ")).toBe("");
  expect(transport.live).toBeLessThanOrEqual(1);
  if (real.attemptsWhenOpened !== undefined) expect(real.connectCalls).toBe(real.attemptsWhenOpened);
  if (real.closed) expect(transmitted(real)).toBe(real.transmittedAtClose);
  if (real.reliable)
    for (const attempt of transport.attempts)
      attempt.sent.forEach((wire, i) => {
        if (i > 0)
          expect((wire as DeliveryMessage).seq).toBeGreaterThan((attempt.sent[i - 1] as DeliveryMessage).seq);
      });
  const stats = socket.stats();
  const { queue } = stats;
  expect(queue.messages).toBeLessThanOrEqual(MAX_MESSAGES);
  expect(queue.bytes).toBeLessThanOrEqual(MAX_BYTES);
  const seen = received(real);
  let unaccounted = 0;
  for (let n = 0; n < real.sent; n++) if (!seen.has(n) && !real.dropped.has(n)) unaccounted++;
  // Neither received nor reported dropped: it must still be waiting in the queue.
  expect(unaccounted).toBeLessThanOrEqual(queue.messages);
  const state = socket.state;
  // Paused exactly while the page forbids attempts: not stuck once it allows them again, and no retry timer
  // running (it would fire an attempt) while it forbids them.
  if (state === "paused") expect(pauseReason(real)).not.toBe("");
  if (pauseReason(real) !== "") expect(state).not.toMatch(/^(waiting|circuit-open)$/);
  // While waiting the policy's moment is the armed one (a silent re-arm of the breaker included).
  if ((state === "waiting" || state === "circuit-open") && stats.nextAttemptAt !== undefined)
    real.planned = { at: stats.nextAttemptAt, exact: true };
  if (real.closed) {
    expect(real.page.window.listenerCount).toBe(0);
    expect(real.page.document.listenerCount).toBe(0);
  }
}

/** The server's side of an event on the live connection (or attempt). */
function onLive(name: string, when: "connecting" | "open" | "any", act: (real: Real) => void) {
  return new Step(name, (real) => {
    const state = real.socket.state;
    const ok = when === "any" ? state === "connecting" || state === "open" : state === when;
    if (live(real) !== undefined && ok) act(real);
  });
}

/** Closes the live connection with a hint, telling the model how long the policy must wait at least. */
function closeWithHint(real: Real, hintMs: number | undefined, close: () => void): void {
  real.closeHintMs = hintMs;
  try {
    close();
  } finally {
    real.closeHintMs = undefined;
  }
}

const accept = onLive("accept", "connecting", (real) => live(real)?.open());

/** A page event: the model's view of the page changes first, then the event is dispatched. */
function pageEvent(name: string, act: (page: Page) => void) {
  return new Step(name, (real) => {
    real.hiding = name === "pagehide";
    try {
      act(real.page);
    } finally {
      real.hiding = false;
    }
  });
}

/**
 * Whether a page event enters its pause (offline, hidden, pagehide) rather than leaving it: one time in four.
 * Even odds would keep two of the three reasons on most of the time, and pauses would rarely end.
 */
const goesIn = fc.nat({ max: 3 }).map((n) => n === 0);

const commands = [
  // Weighted (listed thrice): most runs must spend time open, or sends, flushes and acks go untested.
  fc.constant(accept),
  fc.constant(accept),
  fc.constant(accept),
  fc.option(fc.nat({ max: 120_000 }), { nil: undefined }).map((hintMs) =>
    onLive(`refuse(${hintMs})`, "connecting", (real) =>
      closeWithHint(real, hintMs, () =>
        live(real)?.close({
          kind: hintMs === undefined ? "refused" : "error",
          ...(hintMs === undefined
            ? {}
            : { hint: { hint: { source: "retry-after", delayMs: hintMs, spreadMs: 0 } } }),
        }),
      ),
    ),
  ),
  fc.nat({ max: 900_000 }).map((hintMs) =>
    onLive(`hint(${hintMs})`, "any", (real) =>
      closeWithHint(real, hintMs, () =>
        live(real)?.close({
          kind: "closed",
          code: 1013,
          hint: { hint: { source: "close-code", delayMs: hintMs, spreadMs: 1_000 } },
        }),
      ),
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
  // A network can fail without the browser noticing: attempts throw, the page still says online.
  fc.boolean().map(
    (down) =>
      new Step(down ? "network-down" : "network-up", (real) => {
        real.transport.throwOnConnect = down ? new Error("network unreachable") : undefined;
        if (down) live(real)?.close({ kind: "error", code: 1006 });
      }),
  ),
  // The browser's own signals (repeats included: a handler must not count on alternation).
  goesIn.map((offline) =>
    pageEvent(offline ? "offline" : "online", (page) => {
      page.offline = offline;
      page.navigator.onLine = !offline;
      page.window.dispatch(offline ? "offline" : "online");
    }),
  ),
  goesIn.map((hidden) =>
    pageEvent(hidden ? "hidden" : "visible", (page) => {
      page.hidden = hidden;
      page.document.visibilityState = hidden ? "hidden" : "visible";
      page.document.dispatch("visibilitychange");
    }),
  ),
  goesIn.map((hide) =>
    pageEvent(hide ? "pagehide" : "pageshow", (page) => {
      page.frozen = hide;
      page.window.dispatch(hide ? "pagehide" : "pageshow");
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
  fc.constant(
    new Step("connect", (real) => {
      // From `paused` the app overrides the page for one attempt, still through the breaker: one that holds
      // it back leaves its reopening as the moment planned, and the socket paused.
      real.forcing = real.socket.state === "paused";
      if (real.forcing) real.planned = { at: real.reopensAt ?? real.clock.now(), exact: false };
      try {
        real.socket.connect();
      } finally {
        real.forcing = false;
      }
    }),
  ),
];

/** Listed half as often as the others: a run closed early spends its remaining steps on a closed socket. */
const close = fc.constant(
  new Step("close", (real) => {
    if (!real.closed) real.transmittedAtClose = transmitted(real);
    real.closed = true;
    void real.socket.close();
  }),
);

interface Setup {
  readonly seed: number;
  readonly reliable: boolean;
  readonly startOffline: boolean;
  readonly resumeJitterMs: number;
}

function setup({ seed, reliable, startOffline, resumeJitterMs }: Setup): Real {
  const clock = new VirtualClock();
  const transport = new CountingTransport(() => clock.now());
  const page: Page = {
    window: new FakeTarget(),
    document: new FakeDocument(),
    navigator: { onLine: !startOffline },
    resumeJitterMs,
    offline: startOffline,
    hidden: false,
    frozen: false,
  };
  const draw = seededRandom(seed);
  const socket = new ResilientSocket({
    transport,
    clock,
    // The same seeded draws, each remembered: a resume's jitter is the draw the socket made just before.
    random: () => {
      real.lastDraw = draw();
      return real.lastDraw;
    },
    autoConnect: false,
    backoff: decorrelatedJitter({ baseMs: 100, capMs: 30_000 }),
    circuitBreaker: { consecutiveFailures: 3, openMs: 5_000, maxOpenMs: 40_000 },
    maxDelayMs: MAX_DELAY_MS,
    stableAfterMs: 1_000,
    connectTimeoutMs: 10_000,
    queue: { maxMessages: MAX_MESSAGES, maxBytes: MAX_BYTES, ttlMs: 60_000 },
    signals: {
      window: page.window,
      document: page.document,
      navigator: page.navigator,
      whenHidden: "pause",
      resumeJitterMs,
    },
    ...(reliable ? { delivery: atLeastOnce({ sessionId: sid, maxUnacked: 2 }) } : {}),
  });
  socket.on("error", () => {}); // errors are not what the model compares; unheard, each run would warn
  const real: Real = {
    clock,
    transport,
    socket,
    reliable,
    page,
    dropped: new Map(),
    violations: [],
    sent: 0,
    closed: false,
    connectCalls: 0,
    attemptsWhenOpened: undefined,
    reopensAt: undefined,
    lastDraw: Number.NaN,
    forcing: false,
    hiding: false,
    closeHintMs: undefined,
    planned: undefined,
    notBefore: undefined,
    ackedUpTo: 0,
    transmittedAtClose: 0,
    resends: 0,
    resendsPerStep: seed % 2 === 0 ? 3 : 0,
  };
  const violation = (what: string) => real.violations.push(`${what} (t=${clock.now()})`);
  transport.onConnect = () => {
    real.connectCalls++;
    const reason = pauseReason(real);
    if (reason !== "" && !real.forcing) violation(`attempt while ${reason}`);
    if (real.notBefore !== undefined && !real.forcing && clock.now() < real.notBefore)
      violation(`attempt before ${real.notBefore}, the earliest moment after the pause ended`);
    real.notBefore = undefined;
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
  socket.on("state", (state, previous) => {
    if (state === "paused") real.planned = plannedOnPause(real, previous);
    if (previous === "paused" && (state === "waiting" || state === "circuit-open")) checkResume(real);
  });
  socket.on("circuit", ({ state, reopensAt }) => {
    real.attemptsWhenOpened = state === "open" ? real.connectCalls : undefined;
    real.reopensAt = state === "open" ? reopensAt : undefined;
  });
  socket.on("retry", ({ delayMs }) => {
    if (delayMs > MAX_DELAY_MS) violation(`retry in ${delayMs} ms, beyond maxDelayMs`);
  });
  socket.connect();
  return real;
}

/**
 * What the socket keeps as the policy's moment when it pauses: the wait it was running (kept as it was),
 * now when nothing was planned (idle, stopped, or the connection let go on pagehide: the resume is the
 * jitter alone), or — a failure while the page forbids attempts — a decision the socket announces to nobody,
 * known only to be at least the server's hint and the breaker's reopening.
 */
function plannedOnPause(real: Real, previous: SocketState): Real["planned"] {
  const now = real.clock.now();
  if (previous === "waiting" || previous === "circuit-open") return real.planned;
  if (previous !== "connecting" && previous !== "open") return { at: now, exact: true };
  if (real.hiding) return { at: now, exact: true };
  // A hint is obeyed up to the ceiling; one at or past it is spread over the ceiling's last quarter.
  const hintMs = Math.min(real.closeHintMs ?? 0, 0.75 * MAX_DELAY_MS);
  return { at: Math.max(now + hintMs, real.reopensAt ?? now), exact: false };
}

/** A pause ended: the one attempt is armed after the socket's draw of the jitter, and never before planned. */
function checkResume(real: Real): void {
  const now = real.clock.now();
  const jitterMs = real.lastDraw * real.page.resumeJitterMs;
  const planned = real.planned ?? { at: now, exact: true };
  const earliest = now + Math.min(Math.max(planned.at - now, jitterMs), MAX_DELAY_MS);
  const armed = real.socket.stats().nextAttemptAt;
  const rule = `max(planned ${planned.at}, now ${now} + ${jitterMs} jitter)`;
  if (armed === undefined) real.violations.push(`no attempt armed after the pause ended (t=${now})`);
  else if (planned.exact ? armed !== earliest : armed < earliest)
    real.violations.push(`attempt armed at ${armed} after the pause ended, not ${rule} = ${earliest}`);
  real.notBefore = earliest;
}

const RUNS = Number(process.env.FC_RUNS ?? 200);

describe("ResilientSocket against a model of hostile servers, browser signals and users", () => {
  // About 5 ms a run here; the budget grows with FC_RUNS so a long hunt is not cut by the default timeout.
  it("keeps every invariant after every step, and accounts for every message once closed", {
    timeout: 15_000 + 20 * RUNS,
  }, () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer(),
          reliable: fc.boolean(),
          startOffline: fc.boolean(),
          resumeJitterMs: fc.integer({ min: 1, max: 10_000 }),
        }),
        fc.commands([...commands, ...commands, close], { maxCommands: 60, size: "medium" }),
        (options, cmds) => {
          const real = setup(options);
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
      { numRuns: RUNS },
    );
  });
});
