/**
 * One style of option checking everywhere (src/options-check.ts): every public constructor and factory, given
 * one bad value, throws `<Where>: <option> must be <rule>; got <value>` (TypeError for a wrong type,
 * RangeError for a value out of range), and an unknown key reads `<Where>: unknown option "<key>"`, with the
 * closest known key when one is near.
 */
import { describe, expect, it } from "vitest";
import {
  atLeastOnce,
  CircuitBreaker,
  customBackoff,
  decorrelatedJitter,
  fullJitter,
  ResilientSocket,
  SharedSocket,
  VirtualClock,
  waveJitter,
} from "../../src/index.js";
import { resolveLimits } from "../../src/internals.js";
import { defineSlice, Presence } from "../../src/presence/index.js";
import {
  AdmissionController,
  attachPresenceToSocketIo,
  attachPresenceToWs,
  attemptCost,
  Deduplicator,
  drainSchedule,
  drainWs,
  InMemoryRosterStore,
  memoryDedupeStore,
  PresenceHub,
  reconnectBudget,
  socketIoAdmission,
  wsAdmission,
} from "../../src/server/index.js";
import { io, socketIoTransport } from "../../src/socket-io.js";
import { governedWebSocket, ResilientWebSocket, webSocketTransport } from "../../src/websocket.js";
import { FakeTransport } from "../helpers/fake-transport.js";

const transport = new FakeTransport(() => 0);
const socket = (options: object) =>
  new ResilientSocket({ transport, autoConnect: false, ...options } as never);
const locks = { request: () => Promise.resolve(), query: () => Promise.resolve({}) };

/** [call, the exact message, the error class]: one bad value per public constructor or factory. */
const cases: [string, () => unknown, string, typeof TypeError | typeof RangeError][] = [
  [
    "ResilientSocket",
    () => socket({ maxDelayMs: -1 }),
    "ResilientSocket: maxDelayMs must be a finite number > 0 and <= 2147483647; got -1",
    RangeError,
  ],
  [
    "ResilientSocket (nested)",
    () => socket({ queue: { maxMessages: "10" } }),
    'ResilientSocket: queue.maxMessages must be an integer; got "10"',
    TypeError,
  ],
  [
    "ResilientSocket (breaker)",
    () => socket({ circuitBreaker: { failureRatio: 2 } }),
    "ResilientSocket: circuitBreaker.failureRatio must be a number in (0, 1]; got 2",
    RangeError,
  ],
  [
    "ResilientSocket (signals)",
    () => socket({ signals: { whenHidden: "sleep" } }),
    'ResilientSocket: signals.whenHidden must be "keep", "slow" or "pause"; got "sleep"',
    RangeError,
  ],
  [
    "ResilientSocket (debug)",
    () => socket({ debug: "yes" }),
    'ResilientSocket: debug must be a boolean or a function; got "yes"',
    TypeError,
  ],
  [
    "ResilientWebSocket",
    () =>
      new ResilientWebSocket("ws://127.0.0.1:1", undefined, {
        connectTimeoutMs: 0,
        WebSocket: class {} as never,
      }),
    "ResilientWebSocket: connectTimeoutMs must be a finite number > 0 and <= 2147483647; got 0",
    RangeError,
  ],
  [
    "io",
    () => io("http://127.0.0.1:1", { stableAfterMs: Number.NaN, autoConnect: false }),
    "io: stableAfterMs must be a finite number >= 0 and <= 2147483647; got NaN",
    RangeError,
  ],
  [
    "io (queue)",
    () => io("http://127.0.0.1:1", { queue: { ttlMs: -1 }, autoConnect: false }),
    "io: queue.ttlMs must be a number >= 0; got -1",
    RangeError,
  ],
  [
    "webSocketTransport",
    () =>
      webSocketTransport({
        url: "ws://127.0.0.1:1",
        binaryType: "text" as never,
        WebSocket: class {} as never,
      }),
    'webSocketTransport: binaryType must be "arraybuffer" or "blob"; got "text"',
    RangeError,
  ],
  [
    "socketIoTransport",
    () => socketIoTransport({ url: "http://127.0.0.1:1", io: 5 as never }),
    "socketIoTransport: io must be a function; got 5",
    TypeError,
  ],
  [
    "governedWebSocket",
    () => governedWebSocket({ releaseAfterMs: 0 }),
    "governedWebSocket: releaseAfterMs must be a finite number > 0; got 0",
    RangeError,
  ],
  [
    "CircuitBreaker",
    () => new CircuitBreaker({ openMs: -1 }),
    "CircuitBreaker: openMs must be a finite number > 0; got -1",
    RangeError,
  ],
  [
    "decorrelatedJitter",
    () => decorrelatedJitter({ baseMs: 0 }),
    "decorrelatedJitter: baseMs must be a finite number > 0; got 0",
    RangeError,
  ],
  [
    "fullJitter",
    () => fullJitter({ baseMs: 100, capMs: 10 }),
    "fullJitter: capMs must be >= baseMs (100); got 10",
    RangeError,
  ],
  [
    "waveJitter",
    () => waveJitter({ compactAttempts: 31 }),
    "waveJitter: compactAttempts must be an integer >= 1 and <= 30; got 31",
    RangeError,
  ],
  [
    "waveJitter",
    () => waveJitter({ compactMaxMs: -1 }),
    "waveJitter: compactMaxMs must be a finite number >= 0; got -1",
    RangeError,
  ],
  [
    "customBackoff",
    () => customBackoff("fn" as never),
    'customBackoff: fn must be a function; got "fn"',
    TypeError,
  ],
  [
    "atLeastOnce",
    () => atLeastOnce({ maxUnacked: 0 }),
    "atLeastOnce: maxUnacked must be an integer >= 1; got 0",
    RangeError,
  ],
  [
    "SharedSocket",
    () => new SharedSocket({ name: "", create: () => socket({}), locks } as never),
    'SharedSocket: name must be a non-empty string; got ""',
    TypeError,
  ],
  [
    "Presence",
    () => new Presence(socket({}), { space: "s", maxUpdatesPerSecond: 0 }),
    "Presence: maxUpdatesPerSecond must be a finite number > 0; got 0",
    RangeError,
  ],
  [
    "Presence (limits)",
    () => new Presence(socket({}), { space: "s", limits: { maxDepth: 0 } }),
    "Presence: limits.maxDepth must be an integer >= 1; got 0",
    RangeError,
  ],
  [
    "defineSlice",
    () => defineSlice("mood", { validate: (v): v is string => typeof v === "string", maxBytes: 1.5 }),
    'defineSlice("mood"): maxBytes must be an integer >= 1; got 1.5',
    RangeError,
  ],
  [
    "resolveLimits",
    () => resolveLimits({ maxMessageBytes: 1, maxSlices: 1, maxDepth: 1, maxEntries: 1 }, { maxEntries: -1 }),
    "resolveLimits: limits.maxEntries must be an integer >= 0; got -1",
    RangeError,
  ],
  [
    "AdmissionController",
    () => new AdmissionController({ ratePerSecond: 10, refusalCost: 2 }, 0),
    "AdmissionController: refusalCost must be a finite number >= 0 and <= 1; got 2",
    RangeError,
  ],
  [
    "wsAdmission",
    () => wsAdmission({ ratePerSecond: 0, refuseWith: "http-503" }),
    "wsAdmission: ratePerSecond must be a finite number > 0; got 0",
    RangeError,
  ],
  [
    "socketIoAdmission",
    () => socketIoAdmission({ ratePerSecond: 10, key: "ip" as never }),
    'socketIoAdmission: key must be a function; got "ip"',
    TypeError,
  ],
  [
    "drainSchedule",
    () => drainSchedule(1.5, 1_000),
    "drainSchedule: count must be an integer >= 0; got 1.5",
    RangeError,
  ],
  [
    "drainWs",
    () => drainWs({ clients: new Set() } as never, { windowMs: -5 }),
    "drainWs: windowMs must be a finite number >= 0; got -5",
    RangeError,
  ],
  [
    "reconnectBudget",
    () => reconnectBudget({ ratePerSecond: 10, headroom: 0, population: () => 1 }),
    "reconnectBudget: headroom must be a finite number >= 1 and <= 100; got 0",
    RangeError,
  ],
  [
    "attemptCost",
    () => attemptCost("resume", 2),
    "attemptCost: resumeCost must be a finite number > 0 and <= 1; got 2",
    RangeError,
  ],
  [
    "Deduplicator",
    () => new Deduplicator({ maxPending: 0 }),
    "Deduplicator: maxPending must be an integer >= 1; got 0",
    RangeError,
  ],
  [
    "memoryDedupeStore",
    () => memoryDedupeStore(0),
    "memoryDedupeStore: maxSessions must be an integer >= 1; got 0",
    RangeError,
  ],
  [
    "PresenceHub",
    () => new PresenceHub({ graceMs: -1 }),
    "PresenceHub: graceMs must be a finite number >= 0; got -1",
    RangeError,
  ],
  [
    "InMemoryRosterStore",
    () => new InMemoryRosterStore({ maxLogEntries: 0.5 }),
    "InMemoryRosterStore: maxLogEntries must be an integer >= 0; got 0.5",
    RangeError,
  ],
  [
    "attachPresenceToWs",
    () => attachPresenceToWs(new PresenceHub(), {} as never),
    "attachPresenceToWs: wss must be a ws WebSocketServer; got an object",
    TypeError,
  ],
  [
    "attachPresenceToSocketIo",
    () => attachPresenceToSocketIo(new PresenceHub(), { on() {} } as never, ""),
    'attachPresenceToSocketIo: event must be a non-empty event name; got ""',
    RangeError,
  ],
];

/** [call, the exact message]: an unknown key (a typo, usually) on every constructor that takes an object. */
const unknown: [string, () => unknown, string][] = [
  [
    "ResilientSocket",
    () => socket({ maxDelayMS: 1 }),
    'ResilientSocket: unknown option "maxDelayMS" (did you mean "maxDelayMs"?)',
  ],
  [
    "ResilientSocket (nested)",
    () => socket({ queue: { maxMessage: 1 } }),
    'ResilientSocket: unknown option "queue.maxMessage" (did you mean "queue.maxMessages"?)',
  ],
  [
    "ResilientSocket (far from any)",
    () => socket({ retries: 3 }),
    'ResilientSocket: unknown option "retries"',
  ],
  [
    "ResilientWebSocket",
    () =>
      new ResilientWebSocket("ws://127.0.0.1:1", undefined, {
        autoconnect: false,
        WebSocket: class {} as never,
      } as never),
    'ResilientWebSocket: unknown option "autoconnect" (did you mean "autoConnect"?)',
  ],
  [
    "io",
    () => io("http://127.0.0.1:1", { heartbeat: {}, autoConnect: false } as never),
    'io: unknown option "heartbeat"',
  ],
  [
    "webSocketTransport",
    () =>
      webSocketTransport({
        url: "ws://127.0.0.1:1",
        protocol: "chat",
        WebSocket: class {} as never,
      } as never),
    'webSocketTransport: unknown option "protocol" (did you mean "protocols"?)',
  ],
  [
    "socketIoTransport",
    () => socketIoTransport({ url: "http://127.0.0.1:1", opts: {} } as never),
    'socketIoTransport: unknown option "opts"',
  ],
  [
    "CircuitBreaker",
    () => new CircuitBreaker({ openMS: 1 } as never),
    'CircuitBreaker: unknown option "openMS" (did you mean "openMs"?)',
  ],
  [
    "decorrelatedJitter",
    () => decorrelatedJitter({ base: 1 } as never),
    'decorrelatedJitter: unknown option "base"',
  ],
  [
    "atLeastOnce",
    () => atLeastOnce({ sessionID: "a" } as never),
    'atLeastOnce: unknown option "sessionID" (did you mean "sessionId"?)',
  ],
  [
    "SharedSocket",
    () => new SharedSocket({ name: "n", create: () => socket({}), locks, maxPendng: 1 } as never),
    'SharedSocket: unknown option "maxPendng" (did you mean "maxPending"?)',
  ],
  [
    "Presence",
    () => new Presence(socket({}), { space: "s", membr: "m" } as never),
    'Presence: unknown option "membr" (did you mean "member"?)',
  ],
  [
    "AdmissionController",
    () => new AdmissionController({ ratePerSecond: 10, bursts: 5 } as never, 0),
    'AdmissionController: unknown option "bursts" (did you mean "burst"?)',
  ],
  [
    "wsAdmission",
    () => wsAdmission({ ratePerSecond: 10, refuseWith: "http-503", ratePerSec: 5 } as never),
    'wsAdmission: unknown option "ratePerSec" (did you mean "ratePerSecond"?)',
  ],
  [
    "socketIoAdmission",
    () => socketIoAdmission({ ratePerSecond: 10, keys: () => "k" } as never),
    'socketIoAdmission: unknown option "keys" (did you mean "key"?)',
  ],
  [
    "PresenceHub",
    () => new PresenceHub({ graceMS: 1 } as never),
    'PresenceHub: unknown option "graceMS" (did you mean "graceMs"?)',
  ],
  [
    "InMemoryRosterStore",
    () => new InMemoryRosterStore({ maxLog: 1 } as never),
    'InMemoryRosterStore: unknown option "maxLog"',
  ],
  [
    "memoryDedupeStore",
    () => memoryDedupeStore(10, { maxSessionPerOwner: 1 } as never),
    'memoryDedupeStore: unknown option "maxSessionPerOwner" (did you mean "maxSessionsPerOwner"?)',
  ],
  [
    "drainWs",
    () => drainWs({ clients: new Set() } as never, { window: 1 } as never),
    'drainWs: unknown option "window" (did you mean "windowMs"?)',
  ],
  [
    "defineSlice",
    () => defineSlice("mood", { validate: (v: unknown): v is string => true, maxbytes: 1 } as never),
    'defineSlice("mood"): unknown option "maxbytes" (did you mean "maxBytes"?)',
  ],
];

describe("one wording for a bad option value", () => {
  for (const [where, call, message, type] of cases) {
    it(`${where} names itself, the option, the rule and the value`, () => {
      expect(call).toThrow(new type(message));
      try {
        call();
      } catch (error) {
        expect((error as Error).constructor).toBe(type);
      }
    });
  }
});

describe("one wording for an unknown option", () => {
  for (const [where, call, message] of unknown) {
    it(`${where} names the key and the closest known one, if any`, () => {
      expect(call).toThrow(new TypeError(message));
    });
  }

  it("suggests nothing and does bounded work for a hostile 10,000-character key", () => {
    const key = "x".repeat(10_000);
    const started = performance.now();
    expect(() => socket({ [key]: 1 })).toThrow(/^ResilientSocket: unknown option "x{40}…"$/);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe("the virtual clock is accepted as a clock", () => {
  it("so the clock check is no stricter than the Clock interface", () => {
    expect(() => socket({ clock: new VirtualClock(0) })).not.toThrow();
  });
});
