/**
 * The opt-in debug log (`debug` option): each decision the socket takes, as one line of text and the same
 * facts as an object. Free when off: the socket calls `this.debug?.({ ... })`, and an optional call evaluates
 * neither its argument nor any string when there is no logger — nothing is built or allocated.
 */
import type { SocketState } from "./events.js";

/** Why the socket waits: the policy's cause (`breaker` for an open circuit breaker) or a paused page. */
export type DebugWaitCause = "backoff" | "hint" | "budget" | "breaker" | "paused";

/** One decision, as the `debug` function's second argument. `event` says which kind. */
export type DebugDetail =
  | {
      /** A connection attempt starts. */
      readonly event: "attempt";
      /** Attempts since construction (1 for the first). */
      readonly attempt: number;
      /** Where it connects (the transport's resolved URL); undefined when the transport does not say. */
      readonly url: string | undefined;
      /** The attempt is the circuit breaker's half-open probe. */
      readonly probe: boolean;
    }
  | {
      /** An attempt or a connection ended. */
      readonly event: "outcome";
      /** How: the transport's close kind (`error`, `closed`, `deliberate`, `refused`) or `client` (a timeout,
       * a dead heartbeat, a transport that threw). */
      readonly kind: string;
      /** WebSocket close code or HTTP status, when there was one. */
      readonly code: number | undefined;
      /** The first error reported for it (its message says what happened), if any. */
      readonly error: string | undefined;
      /** The server's hint read from it, if any. */
      readonly hint:
        | {
            /** Where the hint came from (`retry-after`, `close-code`, `connect-error`, `drain`). */
            readonly source: string;
            /** The wait it asked for (ms), as sent (the planner bounds it). */
            readonly delayMs: number;
          }
        | undefined;
    }
  | {
      /** The socket waits before its next attempt (`paused`: until the page is back). */
      readonly event: "wait";
      /** The wait in ms (0 when paused). */
      readonly delayMs: number;
      /** Why: what set the wait, or `paused`. */
      readonly cause: DebugWaitCause;
    }
  | {
      /** The socket's state changed. */
      readonly event: "state";
      /** The state now. */
      readonly state: SocketState;
      /** The state before. */
      readonly previous: SocketState;
    }
  | {
      /** The circuit breaker changed state. */
      readonly event: "circuit";
      /** `closed`, `open` or `half-open`. */
      readonly state: string;
      /** When an open breaker lets its probe through (clock ms). */
      readonly reopensAt: number | undefined;
    };

/** A debug log sink: `line` is the decision as one line of text, `detail` the same facts as an object. */
export type DebugLogger = (line: string, detail: DebugDetail) => void;

/** What the socket calls: the detail only; the line is made here, and only when a logger was given. */
export type DebugSink = (detail: DebugDetail) => void;

/** The prefix `debug: true` writes in front of each line it hands to `console.debug`. */
export const DEBUG_PREFIX = "[resilient-reconnect]";

/** Resolves the `debug` option: undefined (off, the default), or the sink that formats and hands on. */
export function debugSink(value: boolean | DebugLogger | undefined): DebugSink | undefined {
  if (value === undefined || value === false) return undefined;
  const log: DebugLogger =
    value === true ? (line, detail) => globalThis.console?.debug(`${DEBUG_PREFIX} ${line}`, detail) : value;
  return (detail) => {
    try {
      log(lineOf(detail), detail);
    } catch {
      // A logger that throws must not change what the socket does.
    }
  };
}

const round = Math.round;

function lineOf(d: DebugDetail): string {
  switch (d.event) {
    case "attempt":
      return `attempt ${d.attempt}${d.probe ? " (breaker probe)" : ""} to ${d.url}`;
    case "outcome": {
      const { code, error, hint } = d;
      return `ended: ${d.kind}${code ? ` ${code}` : ""}${error ? ` (${error})` : ""}${hint ? `; hint: ${hint.source} ${round(hint.delayMs)} ms` : ""}`;
    }
    case "wait":
      return `wait ${d.cause === "paused" ? "until the page is back" : `${round(d.delayMs)} ms`} (${d.cause})`;
    case "state":
      return `state ${d.previous} -> ${d.state}`;
    default:
      return `breaker ${d.state}${d.reopensAt ? ` until ${round(d.reopensAt)}` : ""}`;
  }
}
