/** The hub's per-space bookkeeping and its stats type. */
import type { TimerHandle } from "../../env.js";
import type { PresenceChange } from "../../presence/protocol.js";
import type { PresenceCounters } from "../../presence/validate.js";
import type { PresenceConnection } from "./hub-options.js";

/** A connection's place in one space: who it is there, and the last revision it was sent. */
export interface Binding {
  readonly member: string;
  seen: number;
}

export interface Seat {
  connection: PresenceConnection | undefined;
  grace: TimerHandle | undefined;
}

export interface Space {
  readonly seats: Map<string, Seat>;
  pending: PresenceChange[];
  pendingFrom: number;
  pendingEpoch: string;
  flush: TimerHandle | undefined;
  /** A snapshot was encoded for this space in the current batch; further ones wait for the flush. */
  snapshotInBatch: boolean;
  /** Syncs waiting for the batch's one shared snapshot. */
  readonly awaiting: Map<PresenceConnection, Binding>;
}

/** Counters, for dashboards and tests. */
export interface PresenceHubStats {
  readonly spaces: number;
  readonly connections: number;
  /** Members in a grace period (connection gone, not yet announced as leaving). */
  readonly away: number;
  readonly answers: { readonly snapshot: number; readonly catchup: number };
  /** Batches broadcast, and diff messages sent in them. */
  readonly broadcasts: { readonly batches: number; readonly messages: number };
  /** Syncs refused (unauthorized, too many spaces) and updates/leaves from connections not in the space. */
  readonly refused: number;
  readonly unbound: number;
  readonly inbound: Readonly<PresenceCounters>;
}
