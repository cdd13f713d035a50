/**
 * `resilient-reconnect/server` — Node-only helpers for the server side: admission control that answers with
 * hints, graceful drain for deploys. Never imported by the root (browser) entry.
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
