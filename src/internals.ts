/**
 * `resilient-reconnect/internals` — the parts the library is built from, for tools and tests that drive them
 * directly (the storm lab runs the same planner as the socket): the reconnect planner, the circuit breaker's
 * state, the defaults objects, the wire formats' encoders and decoders (reconnect budget, at-least-once
 * envelope, presence protocol and its validation).
 *
 * **Unstable**: anything here may change or go in any release, minor and patch included. An app needs none
 * of it — `ResilientSocket`, `Presence` and the server helpers cover what apps do; pin an exact version if
 * you import from here.
 * @packageDocumentation
 */

export {
  DELIVERY_TAG,
  type DeliveryAck,
  type DeliveryMessage,
  type DeliveryTracker,
  readAck,
} from "./client/delivery.js";
export { defaultQueueOptions } from "./client/queue.js";
export { systemClock, systemRandom } from "./env.js";
export { type Admission, type BreakerState, defaultCircuitBreakerOptions } from "./policy/circuit-breaker.js";
export {
  type AttemptDecision,
  type Decision,
  PAGE_ACTIVE,
  type PageState,
  type PlannedRetry,
  type PlannerOptions,
  type PlannerState,
  ReconnectPlanner,
  type RetryDecision,
} from "./policy/planner.js";
export { resolvePlannerOptions } from "./policy/planner-options.js";
export { PresenceCore } from "./presence/presence.js";
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
export { FORBIDDEN_KEYS, hasUnsafeText, UNSAFE_TEXT, utf8Length } from "./protocol/json-guard.js";
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
  type PresenceMessage,
  type RefusedMessage,
  resolveLimits,
  type SnapshotMessage,
  type StatePatch,
  type SyncMessage,
  type UpdateMessage,
  type UpMessage,
} from "./protocol/presence/messages.js";
export {
  BUILT_IN_SLICES,
  ID_PATTERN,
  isId,
  SLICE_NAME,
  type SliceProblem,
  SliceRegistry,
} from "./protocol/presence/slices.js";
export { type Decoded, decodeDown, decodeUp, newCounters } from "./protocol/presence/validate.js";
