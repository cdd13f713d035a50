/**
 * What the end of a connection means, decided in one pure function: which errors to report, which hint (if
 * any) to obey, and whether to stop instead of retrying. The socket then emits and asks the planner.
 */
import {
  ConnectionRefusedError,
  HintError,
  type ResilientReconnectError,
  TransportError,
} from "../errors.js";
import { carriesHint, type RetryHint } from "../policy/hints.js";
import type { CloseInfo } from "../transports/types.js";

export interface CloseOutcome {
  /** Errors to emit, in order. */
  readonly errors: ResilientReconnectError[];
  /** The server's hint, when it gave a usable one. */
  readonly hint: RetryHint | undefined;
  /** Stop retrying (a refusal without hint, a deliberate close) instead of asking the planner. */
  readonly stop: boolean;
}

/** Longest piece of a server's close reason or error message quoted in an error message. */
const MAX_REASON = 256;

export function closeOutcome(
  info: CloseInfo | undefined,
  error: ResilientReconnectError | undefined,
  options: { readonly retryOnRefusal: boolean; readonly reconnectOnServerClose: boolean },
): CloseOutcome {
  const kind = info?.kind ?? "client";
  const reading = carriesHint(info?.hint) ? info?.hint : undefined;
  const hint = reading?.hint;
  // A hostile server may send a megabyte of reason (a Socket.IO error message); errors carry a bounded part.
  const reason = info?.reason ?? "";
  const detail =
    reason === "" ? "" : `: ${reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason}`;
  // A refusal that tried to carry a hint (even a malformed one) is temporary: it falls back to backoff.
  const refused = kind === "refused" && reading === undefined && !options.retryOnRefusal;
  const errors: ResilientReconnectError[] = [];
  if (error !== undefined) errors.push(error);
  if (reading?.problem !== undefined) errors.push(new HintError(reading.problem));
  if (refused) {
    const status = info?.code === undefined ? {} : { status: info.code };
    errors.push(
      new ConnectionRefusedError(`server refused the connection${detail}`, { cause: info?.error, ...status }),
    );
  }
  if ((kind === "error" || kind === "closed") && info?.error !== undefined && hint === undefined) {
    const what = kind === "error" ? "connection failed" : "connection broke";
    const system = systemCause(info.error);
    const message =
      system === undefined
        ? `${what}${detail}`
        : `${what}: ${system}${detail === "" ? "" : ` (${detail.slice(2)})`}`;
    errors.push(new TransportError(message, { cause: info.error }));
  }
  // The rule: a close that carried a hint reading — a usable hint or a problem (a drain notice with a bad
  // delay) — is the server steering, never final; only a refusal or deliberate close without one stops.
  const deliberate = kind === "deliberate" && !options.reconnectOnServerClose && reading === undefined;
  return { errors, hint, stop: refused || deliberate };
}

/** Where a transport keeps the error underneath its own: `cause`, `ws`'s ErrorEvent `error`, engine.io's
 * `description` (the WebSocket's ErrorEvent) and `context` (the polling request, whose `statusText` is the
 * Node error). */
const CAUSE_KEYS = ["cause", "error", "description", "context", "statusText"] as const;
/** A Node system error code (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`...). */
const SYSTEM_CODE = /^E[A-Z0-9_]{1,31}$/;
/** Longest address quoted (an IPv6 address with zone, or a host name). */
const MAX_ADDRESS = 64;

/**
 * The system error under a transport's error, as `CODE address:port` (e.g. `ECONNREFUSED 127.0.0.1:9`):
 * the first thing a reader needs, which otherwise sits two or three `cause`s deep. Bounded: a few levels,
 * short strings; a getter that throws is skipped.
 */
function systemCause(error: unknown): string | undefined {
  let level: unknown[] = [error];
  for (let depth = 0; depth < 4 && level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const item of level) {
      if (item === null || typeof item !== "object") continue;
      const found = read(item as Record<string, unknown>);
      if (found !== undefined) return found;
      for (const key of CAUSE_KEYS) {
        try {
          const inner: unknown = (item as Record<string, unknown>)[key];
          if (inner !== item) next.push(inner);
        } catch {
          // A getter that throws hides nothing we could quote.
        }
      }
    }
    level = next;
  }
  return undefined;
}

function read(item: Record<string, unknown>): string | undefined {
  try {
    const { code, address, port } = item;
    if (typeof code !== "string" || !SYSTEM_CODE.test(code)) return undefined;
    if (typeof address !== "string" || address.length === 0 || address.length > MAX_ADDRESS) return code;
    return Number.isInteger(port) ? `${code} ${address}:${port as number}` : `${code} ${address}`;
  } catch {
    return undefined;
  }
}
