/**
 * Liveness of raw `ws` connections at the presence hub. A laptop that sleeps, or a phone that leaves
 * coverage, sends no close: its TCP connection stays open on the server for as long as the kernel keeps it
 * (hours), and its member stays "present" (the class of liveblocks issue 679). The hub therefore pings a
 * connection that has been silent for `pingIntervalMs` (a WebSocket ping frame, which every browser and
 * `ws` client answers by itself) and ends it when nothing at all arrives within `pingTimeoutMs` after that.
 * Any inbound frame counts as a sign of life (a message, a pong, a ping), so a busy connection is never
 * pinged. The ended connection's seats go to their grace period like any other drop.
 *
 * Socket.IO needs none of this: engine.io pings every connection itself (`pingInterval` 25 s, `pingTimeout`
 * 20 s by default) and disconnects those that do not answer, which the Socket.IO adapter already sees.
 */

import { type Clock, systemClock, type TimerHandle } from "../../env.js";
import { badOption, numberOption, objectOption, rejectUnknown } from "../../options-check.js";

/** Close code of a connection ended for not answering pings (4000–4999 is the application range). */
export const PRESENCE_CLOSE_SILENT = 4010;

/** Defaults of {@link PresenceLivenessOptions}; the same timing as engine.io's own ping. */
export const LIVENESS_DEFAULTS = {
  /** A connection silent this long (ms) is pinged. */
  pingIntervalMs: 25_000,
  /** A pinged connection that sends nothing within this (ms) is ended. */
  pingTimeoutMs: 20_000,
} as const;

/** Options of the liveness check of `attachPresenceToWs` / `presenceWsConnection`. */
export interface PresenceLivenessOptions {
  /**
   * A connection from which nothing has arrived for this long (ms) is sent a ping. Default 25 000 (engine.io's
   * `pingInterval`). 0 turns liveness checks off.
   */
  pingIntervalMs?: number;
  /**
   * A pinged connection from which nothing arrives within this (ms) is ended: close
   * {@link PRESENCE_CLOSE_SILENT} is written and the socket destroyed at once (a peer that does not answer
   * pings would not finish a close handshake either). Default 20 000 (engine.io's `pingTimeout`). Must be
   * at least 1 when pings are on. A silent connection is ended at most `pingIntervalMs + pingTimeoutMs`
   * after the last frame it sent.
   */
  pingTimeoutMs?: number;
  /** Timers and the time of the last frame. Default: the system clock (a virtual one in tests). */
  clock?: Clock;
}

/** The checked options; `pingIntervalMs` 0 = off. */
export interface ResolvedLiveness {
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly clock: Clock;
}

/** The members of a server-side `ws` WebSocket the liveness check uses. */
export interface LivenessSocketLike {
  /** Sends a ping frame. Without it the connection is not checked. */
  ping?(): void;
  close?(code: number, reason: string): void;
  terminate?(): void;
  on(event: "message" | "pong" | "ping", listener: () => void): unknown;
  off(event: "message" | "pong" | "ping", listener: () => void): unknown;
}

const WHERE = "attachPresenceToWs";
const MAX_TIMER = { max: 2_147_483_647 };

/**
 * Checks the liveness options.
 * @throws RangeError naming `pingIntervalMs` or `pingTimeoutMs`; TypeError for a bad `options` or `clock`,
 * or an unknown option.
 */
export function resolveLiveness(options: PresenceLivenessOptions = {}): ResolvedLiveness {
  rejectUnknown(WHERE, objectOption(WHERE, "options", options), ["pingIntervalMs", "pingTimeoutMs", "clock"]);
  const clock = options.clock ?? systemClock;
  if (typeof clock?.setTimeout !== "function" || typeof clock.clearTimeout !== "function")
    badOption(WHERE, "clock", "an object with now(), setTimeout() and clearTimeout()", clock);
  const pingIntervalMs = numberOption(
    WHERE,
    "pingIntervalMs",
    options.pingIntervalMs,
    LIVENESS_DEFAULTS.pingIntervalMs,
    MAX_TIMER,
  );
  const pingTimeoutMs = numberOption(
    WHERE,
    "pingTimeoutMs",
    options.pingTimeoutMs,
    LIVENESS_DEFAULTS.pingTimeoutMs,
    {
      ...MAX_TIMER,
      min: 1,
    },
  );
  return { pingIntervalMs, pingTimeoutMs, clock };
}

/** What one watch did, for tests and dashboards. */
export interface LivenessWatch {
  /** Stops the watch: its listeners are removed and its timer cleared. */
  stop(): void;
  /** Pings sent so far. */
  readonly pings: number;
  /** Times its timer was armed so far (at most twice per interval, however many frames arrive). */
  readonly arms: number;
}

/**
 * Watches one connection. One timer per connection, armed only when it fires (at most twice per
 * `pingIntervalMs`, plus once per ping): an inbound frame only records the time, so a flood of pongs or
 * messages costs one clock read each and no timer work.
 */
export function watchLiveness(ws: LivenessSocketLike, liveness: ResolvedLiveness): LivenessWatch {
  const { pingIntervalMs: interval, pingTimeoutMs: timeout, clock } = liveness;
  let lastHeard = clock.now();
  let pingedAt: number | undefined;
  let timer: TimerHandle | undefined;
  let stopped = false;
  const counts = { pings: 0, arms: 0 };
  const heard = () => {
    lastHeard = clock.now();
  };
  const arm = (delayMs: number) => {
    counts.arms++;
    timer = clock.setTimeout(check, delayMs);
    (timer as { unref?: () => void }).unref?.();
  };
  const end = () => {
    stop();
    try {
      ws.close?.(PRESENCE_CLOSE_SILENT, "presence: no answer to ping");
    } catch {
      // Already closing: terminate below ends it all the same.
    }
    ws.terminate?.();
  };
  function check(): void {
    timer = undefined;
    if (stopped) return;
    const now = clock.now();
    if (pingedAt !== undefined && lastHeard >= pingedAt) pingedAt = undefined;
    if (pingedAt !== undefined) {
      if (now - pingedAt >= timeout) end();
      else arm(pingedAt + timeout - now);
      return;
    }
    const silentFor = now - lastHeard;
    if (silentFor < interval) {
      arm(interval - silentFor);
      return;
    }
    pingedAt = now;
    counts.pings++;
    try {
      ws.ping?.();
    } catch {
      // A socket closing under us: its close event stops this watch.
    }
    arm(timeout);
  }
  function stop(): void {
    if (stopped) return;
    stopped = true;
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    ws.off("message", heard);
    ws.off("pong", heard);
    ws.off("ping", heard);
  }
  if (interval > 0 && typeof ws.ping === "function") {
    ws.on("message", heard);
    ws.on("pong", heard);
    ws.on("ping", heard);
    arm(interval);
  } else stopped = true;
  return {
    stop,
    get pings() {
      return counts.pings;
    },
    get arms() {
      return counts.arms;
    },
  };
}
