/**
 * Server hints on the wire: the close codes, the drain event's name and the JSON payload a server sends to
 * tell clients when to come back. The server writes them (`resilient-reconnect/server`); the client reads
 * them (`policy/hints.ts` turns them into a bounded `RetryHint`). Wire format: docs/server-hints.md.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1 (close codes), IANA registry for 1012/1013
 */

/** Close code 1012, Service Restart. */
export const CLOSE_SERVICE_RESTART = 1012;
/** Close code 1013, Try Again Later. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** The Socket.IO event a draining server emits (payload: a {@link HintPayload}) before disconnecting. */
export const DRAIN_EVENT = "resilient:drain";

/** The JSON wire shape of a hint, in close reasons, `connect_error` data and drain notices. */
export interface HintPayload {
  /** Come back no sooner than this many milliseconds from now. */
  retryAfterMs: number;
  /** Optional window (ms) after `retryAfterMs` to pick a random moment in. */
  spreadMs?: number;
}
