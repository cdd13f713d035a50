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
import type { RetryHint } from "../policy/hints.js";
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
  const reading = info?.hint?.hint !== undefined || info?.hint?.problem !== undefined ? info.hint : undefined;
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
    errors.push(new TransportError(`${what}${detail}`, { cause: info.error }));
  }
  // The rule: a close that carried a hint reading — a usable hint or a problem (a drain notice with a bad
  // delay) — is the server steering, never final; only a refusal or deliberate close without one stops.
  const deliberate = kind === "deliberate" && !options.reconnectOnServerClose && reading === undefined;
  return { errors, hint, stop: refused || deliberate };
}
