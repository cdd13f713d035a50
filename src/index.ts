/**
 * resilient-reconnect — reconnecting real-time clients that never amplify an outage.
 * Root entry: browser-safe (no Node built-ins, no socket.io-client).
 * @packageDocumentation
 */
export {
  ResilientSocket,
  type CircuitEvent,
  type CloseEvent,
  type DropEvent,
  type OpenEvent,
  type ResilientSocketEvents,
  type RetryEvent,
  type SendResult,
  type SocketState,
  type SocketStats,
} from "./client/resilient-socket.js";
export type { HeartbeatOptions, ResilientSocketOptions } from "./client/options.js";
export { type DropReason, type QueueOptions, defaultQueueOptions } from "./client/queue.js";
export {
  type Clock,
  type Random,
  type TimerHandle,
  VirtualClock,
  seededRandom,
  systemClock,
  systemRandom,
} from "./env.js";
export {
  ConnectionRefusedError,
  type ErrorCode,
  HintError,
  ResilientReconnectError,
  RetriesExhaustedError,
  TimeoutError,
  TransportError,
} from "./errors.js";
export {
  type BackoffFunction,
  type BackoffInput,
  type BackoffOptions,
  type BackoffStrategy,
  DEFAULT_BASE_MS,
  DEFAULT_CAP_MS,
  customBackoff,
  decorrelatedJitter,
  equalJitter,
  exponentialNoJitter,
  fullJitter,
} from "./policy/backoff.js";
export {
  type Admission,
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
  defaultCircuitBreakerOptions,
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
export {
  type AttemptDecision,
  type PlannerOptions,
  type PlannerState,
  ReconnectPlanner,
  type RetryCause,
  type RetryDecision,
} from "./policy/planner.js";
export { parseRetryAfter } from "./policy/retry-after.js";
export type { CloseInfo, CloseKind, Connection, ConnectionHandlers, Transport, TransportContext } from "./transports/types.js";
