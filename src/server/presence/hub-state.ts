/** The hub's per-connection and per-space bookkeeping, and its stats type. */
import type { TimerHandle } from "../../env.js";
import type { PresenceChange, StateRecord } from "../../presence/protocol.js";
import type { PresenceCounters } from "../../presence/validate.js";
import type { PresenceConnection } from "./hub-options.js";

/** A connection's place in one space: who it is there, and the last revision it was sent. */
export interface Binding {
  readonly member: string;
  seen: number;
  /** The space's batch in which this binding was last answered (one answer per batch). */
  answered: number;
  /** Since when this connection has been too slow to be sent anything here (`undefined`: it is not). */
  behindSince: number | undefined;
}

/** What the hub knows of one connection that sent presence. */
export interface Conn {
  readonly bindings: Map<string, Binding>;
  /** Identity for the per-identity limits when `authorize` names none: the connection itself. */
  readonly key: string;
  tokens: number;
  refilledAt: number;
  /** Messages dropped in a row for the rate. */
  excess: number;
}

export interface Seat {
  connection: PresenceConnection | undefined;
  grace: TimerHandle | undefined;
  identity: string;
}

export interface Space {
  readonly seats: Map<string, Seat>;
  pending: PresenceChange[];
  pendingFrom: number;
  pendingEpoch: string;
  /** Updates received this batch, merged per member (the latest value of each slice wins). */
  readonly merged: Map<string, Record<string, unknown>>;
  flush: TimerHandle | undefined;
  /** Counts flushes; a binding answered in the current batch is not answered again before the next. */
  batch: number;
  /** A snapshot was encoded for this space in the current batch; further ones wait for the flush. */
  snapshotInBatch: boolean;
  /** Syncs waiting for the batch's one shared snapshot. */
  readonly awaiting: Map<PresenceConnection, Binding>;
  /** Connections too slow to be sent anything; each gets one snapshot once it drains. */
  readonly behind: Map<PresenceConnection, Binding>;
  /**
   * With a shared store: the epoch and revision up to which this hub has taken the store's changes into
   * `pending` (`undefined` until it has read the roster, or after it lost track: it then answers afresh).
   */
  known: { epoch: string; rev: number } | undefined;
  /** With a shared store: changes told before `known` was read, replayed once it is (bounded). */
  early: { epoch: string; rev: number; change: PresenceChange }[];
}

/** Counters, for dashboards and tests. */
export interface PresenceHubStats {
  readonly spaces: number;
  /** Connections that sent presence and are not closed. */
  readonly connections: number;
  /** Seats in the hub, live and in their grace period. */
  readonly seats: number;
  /** Members in a grace period (connection gone, not yet announced as leaving). */
  readonly away: number;
  readonly answers: { readonly snapshot: number; readonly catchup: number };
  /** Batches broadcast, and diff messages sent in them. */
  readonly broadcasts: { readonly batches: number; readonly messages: number };
  /** Syncs refused (unauthorized, not owned, too many spaces or seats, hub full). */
  readonly refused: number;
  /** Updates/leaves from connections not in the space. */
  readonly unbound: number;
  /** Messages dropped unread for the rate limit. */
  readonly limited: number;
  /** Messages not sent to a connection over `highWaterBytes` (it gets one snapshot once it drains). */
  readonly coalesced: number;
  /** Seats that left early to make room (per identity or hub-wide), before their grace period ended. */
  readonly evicted: number;
  /** Connections told another connection took their member's seat. */
  readonly displaced: number;
  /** Store calls that failed (a store on the network unreachable); the work waits for it or is dropped. */
  readonly storeErrors: number;
  /** Connections cut, by cause. */
  readonly cut: {
    /** Over the message rate `cutAfterExcess` times in a row (close 4008). */
    readonly flood: number;
    /** Behind `highWaterBytes` for `maxBehindMs` (close 4009). */
    readonly slow: number;
  };
  readonly inbound: Readonly<PresenceCounters>;
}

/** A space with nobody in it yet. */
export function newSpace(): Space {
  return {
    seats: new Map(),
    pending: [],
    pendingFrom: 0,
    pendingEpoch: "",
    merged: new Map(),
    flush: undefined,
    batch: 0,
    snapshotInBatch: false,
    awaiting: new Map(),
    behind: new Map(),
    known: undefined,
    early: [],
  };
}

const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * The slices of `next` that differ from `before` (with `whole`, slices missing from `next` clear), or
 * `undefined` when nothing changed.
 */
export function statePatch(
  before: StateRecord,
  next: StateRecord,
  whole: boolean,
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  let changed = false;
  for (const [slice, value] of Object.entries(next)) {
    if (value === null ? Object.hasOwn(before, slice) : !same(before[slice], value)) {
      patch[slice] = value;
      changed = true;
    }
  }
  if (whole) {
    for (const slice of Object.keys(before)) {
      if (Object.hasOwn(next, slice)) continue;
      patch[slice] = null;
      changed = true;
    }
  }
  return changed ? patch : undefined;
}

/**
 * Token bucket of one connection: `maxMessagesPerSecond`, up to `messageBurst` saved. A clock set back
 * refills nothing (and does not make the bucket owe).
 */
export function takeToken(
  conn: Conn,
  now: number,
  limits: { readonly maxMessagesPerSecond: number; readonly messageBurst: number },
): boolean {
  const elapsed = Math.max(0, now - conn.refilledAt);
  conn.tokens = Math.min(limits.messageBurst, conn.tokens + (elapsed * limits.maxMessagesPerSecond) / 1_000);
  conn.refilledAt = now;
  if (conn.tokens < 1) return false;
  conn.tokens--;
  return true;
}

/** A roster with the updates merged for the next batch applied (they are accepted already). */
export function withMerged(
  members: Iterable<readonly [string, StateRecord]>,
  merged: ReadonlyMap<string, Record<string, unknown>>,
): Map<string, StateRecord> {
  const roster = new Map(members);
  for (const [member, patch] of merged) {
    const before = roster.get(member);
    if (before === undefined) continue;
    const state: Record<string, unknown> = { ...before };
    for (const [slice, value] of Object.entries(patch)) {
      if (value === null) delete state[slice];
      else state[slice] = value;
    }
    roster.set(member, state);
  }
  return roster;
}
