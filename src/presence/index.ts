/**
 * `resilient-reconnect/presence` — presence sync over any ResilientSocket: rooms, emoji, layout and custom
 * slices restored with one message up and one down per reconnect; over a SharedSocket, one member for all the
 * browser's tabs (`SharedPresence`). Browser-safe (no Node built-ins).
 * @packageDocumentation
 */

export { FORBIDDEN_KEYS, hasUnsafeText, UNSAFE_TEXT, utf8Length } from "../protocol/json-guard.js";
export {
  type ChangesMessage,
  CLIENT_LIMITS,
  type DisplacedMessage,
  type DownMessage,
  encodePresence,
  HUB_LIMITS,
  isPresenceMessage,
  type LeaveMessage,
  type MessageProblem,
  PRESENCE_KEY,
  PRESENCE_PREFIX,
  PROTOCOL_VERSION,
  type PresenceChange,
  type PresenceLimits,
  type PresenceMessage,
  type RefusedMessage,
  resolveLimits,
  type SnapshotMessage,
  type StatePatch,
  type StateRecord,
  type SyncMessage,
  type UpdateMessage,
  type UpMessage,
} from "../protocol/presence/messages.js";
export {
  type AnySlice,
  BUILT_IN_SLICES,
  type BuiltInState,
  type CustomState,
  DEFAULT_SLICE_BYTES,
  defineSlice,
  EMOJI_MAX_LENGTH,
  emojiSlice,
  ID_PATTERN,
  isId,
  LAYOUT_LIMIT,
  type LayoutPosition,
  layoutSlice,
  type PresenceState,
  roomSlice,
  SLICE_NAME,
  type SliceDefinition,
  type SliceOptions,
  type SliceProblem,
  SliceRegistry,
  type SliceValue,
} from "../protocol/presence/slices.js";
export {
  type Decoded,
  decodeDown,
  decodeUp,
  newCounters,
  type PresenceCounters,
} from "../protocol/presence/validate.js";
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
export { Presence, PresenceCore, type PresenceSocket } from "./presence.js";
export type { Member } from "./roster.js";
export { SharedPresence, type SharedPresenceSocket } from "./shared-presence.js";
