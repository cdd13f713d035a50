/**
 * resilient-reconnect — reconnecting real-time clients that never amplify an outage.
 * Root entry: browser-safe (no Node built-ins, no socket.io-client).
 * @packageDocumentation
 */

export type { DebugDetail, DebugLogger, DebugWaitCause } from "./client/debug.js";
export {
  type AtLeastOnceOptions,
  atLeastOnce,
} from "./client/delivery.js";
export type {
  CircuitEvent,
  CloseEvent,
  DropEvent,
  OpenEvent,
  ResilientSocketEvents,
  RetryEvent,
  SendResult,
  SocketState,
  SocketStats,
} from "./client/events.js";
export type {
  MessageSocket,
  MessageSocketEvents,
  SharedMessageSocket,
  SharedMessageSocketEvents,
} from "./client/message-socket.js";
export type {
  HeartbeatOptions,
  ResilientSocketOptions,
} from "./client/options.js";
export type {
  HiddenPolicy,
  PageSignalsOptions,
  SignalTarget,
  VisibilitySource,
} from "./client/page-signals.js";
export type {
  DropReason,
  QueueOptions,
} from "./client/queue.js";
export { ResilientSocket } from "./client/resilient-socket.js";
export type {
  BroadcastChannelLike,
  LockManagerLike,
  SharedRole,
  SharedSocketEvents,
  SharedSocketOptions,
} from "./client/shared-options.js";
export { SharedSocket } from "./client/shared-socket.js";
export {
  type Clock,
  type Random,
  seededRandom,
  type TimerHandle,
  VirtualClock,
} from "./env.js";
export {
  ConnectionRefusedError,
  type ErrorCode,
  HintError,
  ListenerError,
  ResilientReconnectError,
  RetriesExhaustedError,
  SocketCreateError,
  TimeoutError,
  TransportError,
} from "./errors.js";
export {
  type BackoffFunction,
  type BackoffInput,
  type BackoffOptions,
  type BackoffStrategy,
  customBackoff,
  DEFAULT_BASE_MS,
  DEFAULT_CAP_MS,
  decorrelatedJitter,
  equalJitter,
  exponentialNoJitter,
  fullJitter,
  WAVE_BASE_MS,
  type WaveJitterOptions,
  waveJitter,
} from "./policy/backoff.js";
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
} from "./policy/circuit-breaker.js";
export {
  CLOSE_SERVICE_RESTART,
  CLOSE_TRY_AGAIN_LATER,
  DEFAULT_MAX_HINT_MS,
  DRAIN_EVENT,
  type HintPayload,
  type HintReading,
  type HintSource,
  type RetryHint,
  readCloseHint,
  readHintPayload,
  readRetryAfterHint,
} from "./policy/hints.js";
export type { RetryCause } from "./policy/planner.js";
export { parseRetryAfter } from "./policy/retry-after.js";
export type {
  CloseInfo,
  CloseKind,
  Connection,
  ConnectionHandlers,
  Transport,
  TransportContext,
} from "./transports/types.js";
