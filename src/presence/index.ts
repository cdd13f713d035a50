/**
 * `resilient-reconnect/presence` — presence sync over any ResilientSocket: rooms, emoji, layout and custom
 * slices restored with one message up and one down per reconnect; over a SharedSocket, one member for all the
 * browser's tabs (`SharedPresence`). Browser-safe (no Node built-ins).
 * @packageDocumentation
 */

export type {
  PresenceChange,
  PresenceLimits,
  StateRecord,
} from "../protocol/presence/messages.js";
export {
  type AnySlice,
  type BuiltInState,
  type CustomState,
  DEFAULT_SLICE_BYTES,
  defineSlice,
  EMOJI_MAX_LENGTH,
  emojiSlice,
  LAYOUT_LIMIT,
  type LayoutPosition,
  layoutSlice,
  type PresenceState,
  roomSlice,
  type SliceDefinition,
  type SliceOptions,
  type SliceValue,
} from "../protocol/presence/slices.js";
export type { PresenceCounters } from "../protocol/presence/validate.js";
export type {
  MemberEvent,
  OwnEvent,
  PresenceEvents,
  PresencePhase,
  PresenceStats,
  SharedPresenceEvents,
  SyncEvent,
} from "./events.js";
export type { PresenceOptions } from "./options.js";
export {
  Presence,
  type PresenceSocket,
} from "./presence.js";
export type { Member } from "./roster.js";
export {
  SharedPresence,
  type SharedPresenceSocket,
} from "./shared-presence.js";
