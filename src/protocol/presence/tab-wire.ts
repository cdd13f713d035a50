/**
 * SharedPresence's messages between the tabs of one browser (carried by `SharedSocket.broadcast`), and the one
 * function that admits them. Any same-origin script can post on the channel, so nothing is trusted: a
 * message of another shape or for another space is ignored whole, and each slice of an `own` message is
 * checked again (stamp, slice, size) before it is merged.
 *
 * - `{ presence: "hello", space }` — a tab asks the leader for the member's state and the roster.
 * - `{ presence: "own", space, state: { slice: [value | null, time, tab] }, whole?: true, member? }` — stamped
 *   own-state slices (`null`: cleared); `whole` (with the member id) is a leader's entire state.
 * - `{ presence: "roster", space, text }` — the leader's roster, as presence snapshot text.
 */
import { isRecord, own } from "../json-guard.js";
import { PRESENCE_PREFIX } from "./messages.js";
import { isId } from "./slices.js";

/** One stamped slice: its value (`null` when cleared), the stamp's time, and the tab that set it. */
export type OwnEntry = readonly [value: unknown, time: number, tab: string];

export type TabMessage =
  | { readonly presence: "hello"; readonly space: string }
  | {
      readonly presence: "own";
      readonly space: string;
      readonly state: Readonly<Record<string, unknown>>;
      readonly whole?: true;
      readonly member?: string;
    }
  | { readonly presence: "roster"; readonly space: string; readonly text: string };

const SNAPSHOT_PREFIX = `${PRESENCE_PREFIX}"snapshot"`;

/** The message, if it is a well-formed one for `space`; `undefined` for anything else. */
export function readTabMessage(raw: unknown, space: string, maxSlices: number): TabMessage | undefined {
  if (!isRecord(raw) || own(raw, "space") !== space) return undefined;
  switch (own(raw, "presence")) {
    case "hello":
      return { presence: "hello", space };
    case "roster": {
      const text = own(raw, "text");
      return typeof text === "string" && text.startsWith(SNAPSHOT_PREFIX)
        ? { presence: "roster", space, text }
        : undefined;
    }
    case "own": {
      const state = own(raw, "state");
      const whole = own(raw, "whole");
      const member = own(raw, "member");
      if (!isRecord(state) || Object.keys(state).length > maxSlices) return undefined;
      if (whole === undefined && member === undefined) return { presence: "own", space, state };
      return whole === true && isId(member) ? { presence: "own", space, state, whole, member } : undefined;
    }
    default:
      return undefined;
  }
}

/** One slice of an `own` message, if its shape is right (the value itself is checked by the slice). */
export function readEntry(entry: unknown): OwnEntry | undefined {
  if (!Array.isArray(entry) || entry.length !== 3) return undefined;
  const [value, time, tab] = entry as unknown[];
  return Number.isSafeInteger(time) &&
    (time as number) >= 0 &&
    typeof tab === "string" &&
    tab.length > 0 &&
    tab.length <= 128
    ? [value, time as number, tab]
    : undefined;
}
