/**
 * The presence hub for `resilient-reconnect/server`: rosters per space, one answer per sync, batched
 * broadcasts, a grace period for dropped members, and adapters for `ws` and Socket.IO. Node only.
 */
export {
  attachPresenceToSocketIo,
  attachPresenceToWs,
  type PresenceSocketIoServerLike,
  type PresenceSocketIoSocketLike,
  type PresenceWsServerLike,
  type PresenceWsSocketLike,
  presenceSocketIoConnection,
  presenceWsConnection,
} from "./adapters.js";
export { PresenceHub, type PresenceHubStats } from "./hub.js";
export {
  HUB_DEFAULTS,
  PRESENCE_CLOSE,
  type PresenceAuthorize,
  type PresenceConnection,
  type PresenceGrant,
  type PresenceHubOptions,
  resolveHubOptions,
  type SyncRequest,
} from "./hub-options.js";
export {
  LIVENESS_DEFAULTS,
  PRESENCE_CLOSE_SILENT,
  type PresenceLivenessOptions,
} from "./liveness.js";
export {
  type ApplyOptions,
  type Awaitable,
  DEFAULT_MAX_LOG_ENTRIES,
  InMemoryRosterStore,
  type InMemoryRosterStoreOptions,
  isSharedRosterStore,
  type RosterEvent,
  type RosterHead,
  type RosterRead,
  RosterRefusal,
  type RosterStore,
  type SharedRosterStore,
  type WatchOptions,
} from "./store.js";
