/**
 * The roster's channel: every change and ownership move, published by the scripts that made them (inside
 * the same atomic step, so the order on the channel is the order of the revisions), read by every node.
 *
 * Pub/sub rather than a stream: the diff log in Redis is the record (a node that missed messages reads it
 * or a snapshot, like a client), so the channel only has to be fast and ordered, and pub/sub costs no
 * per-node cursor and no trimming. What pub/sub loses (a subscriber's connection drops) the store notices
 * (the connection closed) and turns into a `reset`: every hub answers its connections afresh.
 */
import type { PresenceChange } from "../../presence/protocol.js";
import type { RosterEvent } from "../presence/store.js";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

function change(value: unknown): PresenceChange | undefined {
  if (!isRecord(value) || typeof value.id !== "string") return undefined;
  if (value.op === "leave") return { op: "leave", id: value.id };
  if ((value.op === "join" || value.op === "update") && isRecord(value.state)) {
    return { op: value.op, id: value.id, state: value.state };
  }
  return undefined;
}

/** One channel message as a {@link RosterEvent}, or `undefined` for anything else (never throws). */
export function parseRosterMessage(text: string): RosterEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value.s !== "string") return undefined;
  if (value.t === "o") {
    if (typeof value.m !== "string" || typeof value.o !== "string") return undefined;
    return { type: "owner", space: value.s, member: value.m, owner: value.o };
  }
  const c = change(value.c);
  if (value.t !== "c" || c === undefined || typeof value.e !== "string") return undefined;
  if (typeof value.r !== "number" || !Number.isSafeInteger(value.r) || value.r < 1) return undefined;
  const event: RosterEvent = { type: "change", space: value.s, epoch: value.e, rev: value.r, change: c };
  return typeof value.o === "string" ? { ...event, owner: value.o } : event;
}
