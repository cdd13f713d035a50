/**
 * Server hints: how a server tells a client *when* to come back. One shape, {@link RetryHint}, from four
 * wire forms (documented in the README, "Server hints"):
 * - HTTP `Retry-After` on a refused WebSocket handshake (where the runtime can see it),
 * - WebSocket close 1012 (Service Restart) / 1013 (Try Again Later) with a JSON reason,
 * - Socket.IO middleware `next(err)` with `err.data` (client `connect_error`),
 * - a drain notice (Socket.IO event {@link DRAIN_EVENT}) sent before a server-side disconnect.
 *
 * Everything here is pure, and hostile input is bounded: negative, NaN or non-numeric delays give no hint;
 * delays past the ceiling are cut to it; oversized or malformed payloads are ignored. Each outcome says why.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1 (close codes), IANA registry for 1012/1013
 */
import { describe } from "../describe.js";
import { finiteNonNegative, ownValue } from "../protocol/budget.js";
import { CLOSE_SERVICE_RESTART, CLOSE_TRY_AGAIN_LATER, type HintPayload } from "../protocol/hints.js";
import { parseRetryAfter } from "./retry-after.js";

export {
  CLOSE_SERVICE_RESTART,
  CLOSE_TRY_AGAIN_LATER,
  DRAIN_EVENT,
  type HintPayload,
} from "../protocol/hints.js";

/** Where a hint came from. */
export type HintSource = "retry-after" | "close-code" | "connect-error" | "drain";

/** A server's instruction to come back no sooner than `delayMs`, spread over the next `spreadMs`. */
export interface RetryHint {
  /** Which wire form it came from; see {@link HintSource}. */
  readonly source: HintSource;
  /** Wait at least this long (ms), already bounded by the ceiling. */
  readonly delayMs: number;
  /** Window after `delayMs` the client picks a random moment in; `undefined` when the server gave none. */
  readonly spreadMs: number | undefined;
  /** Close code (close-code hints) or HTTP status (retry-after hints). */
  readonly code?: number;
}

/** The result of reading a hint: the hint, if any, and what was wrong with the input, if anything. */
export interface HintReading {
  /** The hint, bounded by the ceiling the reader was given; absent when the input carried none. */
  readonly hint?: RetryHint;
  /** Set when the input was malformed, hostile or clamped (for an `error` event); absent when fine or absent. */
  readonly problem?: string;
}

/** Default ceiling on what a server may ask: 10 minutes. A hostile server must not park clients for a year. */
export const DEFAULT_MAX_HINT_MS = 600_000;
/** The ceiling transports read hints with: none — they hand hints over as sent; the planner bounds them. */
export const NO_CEILING = Number.POSITIVE_INFINITY;
/** Longest close reason / payload text considered (the WebSocket close reason limit is 123 bytes). */
const MAX_TEXT = 512;

const NONE: HintReading = {};

/** True when a reading carries something: a usable hint or a problem (both make a close non-final). */
export function carriesHint(reading: HintReading | undefined): reading is HintReading {
  return reading?.hint !== undefined || reading?.problem !== undefined;
}

/**
 * Builds a bounded hint from a delay and a spread. Invalid delays give no hint; oversized ones are cut to
 * `maxHintMs`; an invalid spread is treated as absent; delay + spread never exceeds `maxHintMs`.
 */
export function boundHint(
  source: HintSource,
  delayMs: unknown,
  spreadMs: unknown,
  maxHintMs: number,
  code?: number,
): HintReading {
  if (!finiteNonNegative(delayMs)) {
    return {
      problem: `${source} hint ignored: delay must be a finite number >= 0; got ${describe(delayMs)}`,
    };
  }
  let problem: string | undefined;
  let delay = delayMs;
  if (delay > maxHintMs) {
    problem = `${source} hint of ${delay} ms cut to the ${maxHintMs} ms ceiling`;
    delay = maxHintMs;
  }
  let spread: number | undefined;
  if (finiteNonNegative(spreadMs)) spread = Math.min(spreadMs, maxHintMs - delay);
  else if (spreadMs !== undefined)
    problem ??= `${source} hint spread ignored: expected a finite number >= 0; got ${describe(spreadMs)}`;
  // `code` and `problem` are undefined where there is none (as `spreadMs`).
  return { hint: { source, delayMs: delay, spreadMs: spread, code }, problem };
}

/**
 * Reads a {@link HintPayload} out of an unknown value (Socket.IO `err.data`, a drain notice, a parsed close
 * reason). Only own properties of a plain object are read, so `__proto__` tricks change nothing.
 */
export function readHintPayload(
  data: unknown,
  source: HintSource,
  maxHintMs = DEFAULT_MAX_HINT_MS,
  code?: number,
): HintReading {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return NONE;
  if (!Object.hasOwn(data, "retryAfterMs")) return NONE;
  return boundHint(source, ownValue(data, "retryAfterMs"), ownValue(data, "spreadMs"), maxHintMs, code);
}

/**
 * Reads a Socket.IO refusal's `err.data` (client `connect_error`). No data at all (`undefined` or `null`) is no
 * hint: the refusal is an auth refusal. Any other data is the server steering, so it is never taken as a final
 * refusal: it gives the hint, or — a bad delay, a string, an object without an own `retryAfterMs` — a problem
 * (`BAD_HINT`, normal backoff). One buggy deploy must not stop every client until reload.
 */
export function readRefusalHint(data: unknown, maxHintMs = DEFAULT_MAX_HINT_MS): HintReading {
  return data === undefined || data === null ? NONE : readDrainHint(data, maxHintMs, "connect-error");
}

/**
 * Reads a drain notice ({@link DRAIN_EVENT}). Its arrival alone says the server is draining, so whatever its
 * payload it gives the hint or a problem, never nothing: the disconnect that follows is retried (per the hint,
 * or on normal backoff with `BAD_HINT`), never taken as a deliberate close. `source` `connect-error`: the
 * same reading of a refusal's data ({@link readRefusalHint}).
 */
export function readDrainHint(
  payload: unknown,
  maxHintMs = DEFAULT_MAX_HINT_MS,
  source: HintSource = "drain",
): HintReading {
  const reading = readHintPayload(payload, source, maxHintMs);
  return reading === NONE
    ? {
        problem: `${source} hint ignored: expected an object with an own retryAfterMs; got ${describe(payload)}`,
      }
    : reading;
}

/**
 * Reads a WebSocket close. Only 1012 and 1013 carry hints; their reason is JSON `{"retryAfterMs":…,
 * "spreadMs":…}` (under the 123-byte limit). Any other reason text gives no hint.
 */
export function readCloseHint(code: number, reason: string, maxHintMs = DEFAULT_MAX_HINT_MS): HintReading {
  if (code !== CLOSE_SERVICE_RESTART && code !== CLOSE_TRY_AGAIN_LATER) return NONE;
  if (typeof reason !== "string" || reason.length === 0) return NONE;
  if (reason.length > MAX_TEXT)
    return { problem: `close ${code} reason ignored: ${reason.length} characters` };
  const trimmed = reason.trim();
  if (!trimmed.startsWith("{")) return NONE;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return { problem: `close ${code} reason ignored: not valid JSON` };
  }
  const reading = readHintPayload(parsed, "close-code", maxHintMs, code);
  // A JSON reason on 1012/1013 is meant as a hint; one without an own `retryAfterMs` (`__proto__` tricks,
  // a misspelt field) is reported rather than silently ignored.
  if (reading === NONE) return { problem: `close ${code} reason ignored: JSON without an own retryAfterMs` };
  return reading;
}

/** Reads an HTTP `Retry-After` header from a refused handshake (status 429 or 503, or any status). */
export function readRetryAfterHint(
  value: string | null | undefined,
  nowMs: number,
  status?: number,
  maxHintMs = DEFAULT_MAX_HINT_MS,
): HintReading {
  if (value === undefined || value === null) return NONE;
  const delay = parseRetryAfter(value, nowMs);
  if (delay === undefined) return { problem: `Retry-After ignored: malformed value ${describe(value)}` };
  return boundHint("retry-after", delay, undefined, maxHintMs, status);
}
