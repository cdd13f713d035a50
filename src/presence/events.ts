/** The typed events and stats of {@link Presence}. */

import type { PresenceCounters } from "../protocol/presence/validate.js";
import type { Member } from "./roster.js";

/**
 * - `offline`: the socket is not open; local changes only update own state (the next sync carries them).
 * - `syncing`: the sync is sent, its answer not yet received; diffs arriving now are held.
 * - `synced`: the roster is current; local changes are sent as coalesced updates.
 * - `displaced`: another connection synced as this member (another tab, another device, an impostor); the
 *   server sends this one nothing more, so the roster is no longer current. The next (re)connect, or
 *   {@link Presence.rejoin}, syncs again (and displaces the other).
 * - `detached`: {@link Presence.detach} was called. Final.
 */
export type PresencePhase = "offline" | "syncing" | "synced" | "displaced" | "detached";

/** A member joined, left, or changed slices. */
export interface MemberEvent<S> {
  /** The member as it is now (for a leave: as it was last seen). */
  readonly member: Member<S>;
  /** The slices that changed: every slice of the state for a join, none for a leave. */
  readonly slices: readonly string[];
}

/** The roster is current again after a sync answer. */
export interface SyncEvent {
  /** The answer was a snapshot (else a catch-up diff since the revision this client had). */
  readonly full: boolean;
  /** The roster's epoch: changes when the server's roster starts over (a restart); revisions count within it. */
  readonly epoch: string;
  /** The roster revision now applied (the server counts one per change in the space). */
  readonly revision: number;
  /** Other members in the roster now. */
  readonly members: number;
}

/** Event map of {@link Presence}. Member events of one answer or diff come first, then `sync`. */
export interface PresenceEvents<S> {
  /** The roster is current again (after a sync answer: every connection, and after a gap). */
  sync: (event: SyncEvent) => void;
  /** A member appeared in the roster (joined the space, or was there when this client synced). */
  join: (event: MemberEvent<S>) => void;
  /** A member left the space, or its grace period after a disconnect ran out on the server. */
  leave: (event: MemberEvent<S>) => void;
  /** A member changed slices of its state (`slices` says which). */
  update: (event: MemberEvent<S>) => void;
  /** The server refused this member's sync or update (`reason` is the server's). */
  refused: (event: { readonly reason: string }) => void;
  /** Another connection took this member's seat; phase is now `displaced` (see {@link PresencePhase}). */
  displaced: (event: DisplacedEvent) => void;
}

/** The server told this connection another one synced as the same member in the space. */
export interface DisplacedEvent {
  /** The space the seat was taken in. */
  readonly space: string;
}

/** Counters, for dashboards and tests. */
export interface PresenceStats {
  /** The phase now; see {@link PresencePhase}. */
  readonly phase: PresencePhase;
  /** Sync messages sent (one per connection, plus one per detected gap). */
  readonly syncs: number;
  /** Update messages sent. */
  readonly updates: number;
  /** Syncs sent again because a diff left a gap, came from another epoch, or too many were held. */
  readonly resyncs: number;
  /** Diffs held before a sync answer since construction. */
  readonly held: number;
  /** Joins and updates left out because the roster was at `maxMembers` or `maxRosterBytes`. */
  readonly overflow: number;
  /** What was received, accepted, dropped and skipped. */
  readonly inbound: Readonly<PresenceCounters>;
}

/** Own state changed in another tab (with `SharedPresence`, every tab's own state is the one member's). */
export interface OwnEvent {
  /** The slices whose value changed (set or cleared). */
  readonly slices: readonly string[];
}

/** Event map of `SharedPresence`: those of {@link Presence}, and `own`. */
export interface SharedPresenceEvents<S> extends PresenceEvents<S> {
  /** Another tab changed the member's own state (this tab's `state` already shows it). */
  own: (event: OwnEvent) => void;
}
