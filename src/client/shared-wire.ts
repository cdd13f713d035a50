/**
 * SharedSocket's BroadcastChannel protocol: the message shapes, and the one function that admits a message
 * from the channel. Any same-origin script can post on the channel, so nothing is trusted: a message with an
 * unknown `t`, a state that is not a leader's, an id that is not a positive integer or a drop reason we do
 * not know is ignored whole. What the leader says (`state`, `message`, `ack`, `drop`) carries its term's
 * `epoch`: a tab takes a new term only once the lock manager proves it (`shared-term.ts`), and the rest only
 * from the term it follows (an `ack` or `drop`, from the term the message was handed to).
 */
import type { SocketState } from "./events.js";
import type { DropReason } from "./queue.js";

/** A state a leader announces: every {@link SocketState} but `closed` (a leader's socket never is, for long). */
export type LeaderState = Exclude<SocketState, "closed">;

/** A follower's message for the leader's socket, tagged with the leader term it was sent to. */
export interface SendWire {
  readonly t: "send";
  readonly from: string;
  readonly id: number;
  readonly epoch: string;
  readonly data: unknown;
}

/** The leader's state; a new `epoch` is a new leader (followers re-send what it has not acknowledged). */
export interface StateWire {
  readonly t: "state";
  readonly epoch: string;
  readonly state: LeaderState;
  /** When the leader's socket makes its next attempt (clock ms), if one is scheduled. */
  readonly nextAttemptAt?: number;
}

export type Wire =
  | SendWire
  | StateWire
  | { readonly t: "ack"; readonly to: string; readonly id: number; readonly epoch: string }
  | {
      readonly t: "drop";
      readonly to: string;
      readonly id: number;
      readonly reason: DropReason;
      readonly epoch: string;
    }
  | { readonly t: "message"; readonly data: unknown; readonly epoch: string }
  | { readonly t: "broadcast"; readonly data: unknown }
  | { readonly t: "leaving"; readonly epoch: string }
  | { readonly t: "connect" }
  | { readonly t: "hello" };

const LEADER_STATES: readonly string[] = [
  "idle",
  "connecting",
  "open",
  "waiting",
  "circuit-open",
  "paused",
  "stopped",
] satisfies LeaderState[];

const DROP_REASONS: readonly string[] = [
  "overflow",
  "too-large",
  "expired",
  "closed",
  "disconnected",
  "unsendable",
] satisfies DropReason[];

/** The message, if it is a well-formed one; `undefined` for anything else. */
export function parseWire(raw: unknown): Wire | undefined {
  if (raw === null || typeof raw !== "object") return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.t) {
    case "send":
      return text(m.from) && count(m.id) && text(m.epoch) ? (m as unknown as Wire) : undefined;
    case "state":
      return text(m.epoch) &&
        typeof m.state === "string" &&
        LEADER_STATES.includes(m.state) &&
        (m.nextAttemptAt === undefined || Number.isFinite(m.nextAttemptAt))
        ? (m as unknown as Wire)
        : undefined;
    case "ack":
      return text(m.to) && count(m.id) && text(m.epoch) ? (m as unknown as Wire) : undefined;
    case "drop":
      return text(m.to) &&
        count(m.id) &&
        text(m.epoch) &&
        typeof m.reason === "string" &&
        DROP_REASONS.includes(m.reason)
        ? (m as unknown as Wire)
        : undefined;
    case "leaving":
    case "message":
      return text(m.epoch) ? (m as unknown as Wire) : undefined;
    case "broadcast":
    case "connect":
    case "hello":
      return m as unknown as Wire;
    default:
      return undefined;
  }
}

/**
 * Whether a message means something else once a term check answers, for a tab following `followed`: what
 * another term says, and a broadcast (a new leader's come in order with its messages). Not the followed
 * term's own messages, nor acks and drops (each settles against the term its message was handed to).
 */
export function waitsForTerm(message: Wire, followed: string | undefined): boolean {
  if (message.t === "broadcast") return true;
  if (message.t === "state" || message.t === "message" || message.t === "leaving")
    return message.epoch !== followed;
  return false;
}

function text(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 200;
}

function count(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}
