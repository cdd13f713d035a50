/**
 * `resilient-reconnect/server` — Node-only helpers for the server side: admission control that answers with
 * hints (a Socket.IO middleware, the `ws` upgrade path), graceful drain for deploys, the presence hub. Never imported by the
 * root (browser) entry; imports neither `ws` nor `socket.io` at runtime (the servers are passed in).
 */
export {
  AdmissionController,
  type AdmissionDecision,
  type AdmissionOptions,
  type AdmissionState,
  drainSchedule,
  type ResolvedAdmissionOptions,
  resolveAdmissionOptions,
} from "./admission.js";
export { addressKey, MAX_KEY_LENGTH } from "./admission-keys.js";
export {
  type AdmissionSchedule,
  DEFAULT_MAX_PENDING_DECISIONS,
  PENDING_FULL_HINT,
} from "./admission-schedule.js";
export {
  type AttemptKind,
  attemptCost,
  DEFAULT_RESUME_COST,
  type ReconnectBudget,
  type ReconnectBudgetOptions,
  reconnectBudget,
} from "./budget.js";
export {
  type DedupeClaim,
  type DedupeReceiver,
  type DedupeResult,
  type DedupeStore,
  Deduplicator,
  type DeduplicatorOptions,
  deliveryAck,
  type MemoryDedupeStore,
  type MemoryDedupeStoreOptions,
  memoryDedupeStore,
} from "./dedupe.js";
export {
  type DrainOptions,
  type DrainSummary,
  drainSocketIo,
  drainWs,
  type SocketIoNamespaceLike,
  type SocketIoServerLike,
  type SocketIoSocketLike,
  type WebSocketServerClientsLike,
} from "./drain.js";
export * from "./presence/index.js";
export {
  DuplicateConnectError,
  OVERLOADED,
  OverloadedError,
  type SocketIoAdmission,
  type SocketIoAdmissionOptions,
  type SocketIoHandshakeLike,
  type SocketIoScheduledAdmission,
  type SocketIoScheduledAdmissionOptions,
  socketIoAdmission,
} from "./socket-io.js";
export {
  hintCloseReason,
  MAX_CLOSE_REASON_BYTES,
  retryAfterSeconds,
  type ServerWebSocketLike,
  type WebSocketServerLike,
  type WsAdmission,
  type WsAdmissionOptions,
  type WsRefusal,
  type WsScheduledAdmission,
  type WsScheduledAdmissionOptions,
  wsAdmission,
} from "./ws.js";
