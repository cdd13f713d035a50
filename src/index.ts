/**
 * resilient-reconnect — reconnecting real-time clients that never amplify an outage.
 * Root entry: browser-safe (no Node built-ins, no socket.io-client).
 * @packageDocumentation
 */

export type { DebugDetail, DebugLogger, DebugWaitCause } from "./client/debug.js";
export {
  type AtLeastOnceOptions,
  atLeastOnce,
  DELIVERY_TAG,
  type DeliveryAck,
  type DeliveryMessage,
  type DeliveryTracker,
  readAck,
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
export type { HeartbeatOptions, ResilientSocketOptions } from "./client/options.js";
export type {
  HiddenPolicy,
  PageSignalsOptions,
  SignalTarget,
  VisibilitySource,
} from "./client/page-signals.js";
export { type DropReason, defaultQueueOptions, type QueueOptions } from "./client/queue.js";
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
  systemClock,
  systemRandom,
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
  type Decision,
  PAGE_ACTIVE,
  type PageState,
  type PlannedRetry,
  type PlannerOptions,
  type PlannerState,
  ReconnectPlanner,
  type RetryCause,
  type RetryDecision,
} from "./policy/planner.js";
export { resolvePlannerOptions } from "./policy/planner-options.js";
export { parseRetryAfter } from "./policy/retry-after.js";
export {
  BUDGET_EVENT,
  type BudgetPayload,
  type BudgetReading,
  encodeBudgetFrame,
  isBudgetFrame,
  MAX_BUDGET_VALID_MS,
  MIN_BUDGET_WINDOW_MS,
  readBudget,
  readBudgetFrame,
} from "./protocol/budget.js";
export type {
  CloseInfo,
  CloseKind,
  Connection,
  ConnectionHandlers,
  Transport,
  TransportContext,
} from "./transports/types.js";
