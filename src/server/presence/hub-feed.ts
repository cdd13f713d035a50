/**
 * A hub on a shared store broadcasts the store's changes, not its own: every node's changes reach every hub
 * through `watch`, in revision order per space, and each hub sends them to its own connections in its
 * batches (one diff per member per batch, as on one node). Here is how a hub follows that stream: where it
 * is in each space (`known`), what it does with a change it already has, a gap, a new epoch, or a lost
 * stream (it answers its connections afresh: one snapshot each).
 */
import type { PresenceChange } from "../../presence/protocol.js";
import type { PresenceConnection } from "./hub-options.js";
import type { Binding, Space } from "./hub-state.js";
import type { RosterEvent, RosterHead } from "./store.js";

/** Changes held per space before the hub has read where the roster is; past it the space is re-read. */
export const MAX_EARLY_CHANGES = 1_024;

/** What the feed needs from the hub. */
export interface FeedHost {
  readonly spaces: ReadonlyMap<string, Space>;
  /** The binding of `connection` in space `name`, if it is still there. */
  binding(connection: PresenceConnection, name: string): Binding | undefined;
  /** Starts the space's batch timer if it is not running. */
  schedule(name: string): void;
  /** Another node may have taken `member` over: check, and if so let the seat go without a leave. */
  checkOwner(name: string, member: string): void;
}

/** Takes one change into the space's batch if it is the next one; false when the hub lost track. */
function take(space: Space, epoch: string, rev: number, change: PresenceChange): boolean {
  const known = space.known;
  if (known === undefined) return true;
  if (epoch !== known.epoch || rev > known.rev + 1) return false;
  if (rev <= known.rev) return true;
  if (space.pending.length === 0) {
    space.pendingFrom = known.rev;
    space.pendingEpoch = epoch;
  }
  space.pending.push(change);
  known.rev = rev;
  return true;
}

/**
 * The hub lost track of `space` (a gap, a new epoch, a lost stream): what it holds for the batch is dropped
 * and every connection there gets one snapshot at the next flush.
 */
export function resync(host: FeedHost, name: string, space: Space): void {
  space.known = undefined;
  space.early = [];
  space.pending = [];
  for (const seat of space.seats.values()) {
    const binding = seat.connection === undefined ? undefined : host.binding(seat.connection, name);
    if (seat.connection !== undefined && binding !== undefined) space.awaiting.set(seat.connection, binding);
  }
  host.schedule(name);
}

/** The hub has read `head` for `space` (an answer, a snapshot): it follows the stream from there. */
export function setKnown(host: FeedHost, name: string, space: Space, head: RosterHead): void {
  if (space.known !== undefined && space.known.epoch === head.epoch) return;
  space.known = { epoch: head.epoch, rev: head.rev };
  const early = space.early;
  space.early = [];
  for (const held of early) {
    if (!take(space, held.epoch, held.rev, held.change)) {
      resync(host, name, space);
      return;
    }
  }
}

/** Handles one event of the shared store. */
export function follow(host: FeedHost, event: RosterEvent, nodeId: string): void {
  if (event.type === "reset") {
    for (const [name, space] of host.spaces) resync(host, name, space);
    return;
  }
  const space = host.spaces.get(event.space);
  if (space === undefined) return;
  if (event.type === "owner") {
    if (event.owner !== nodeId && space.seats.has(event.member)) host.checkOwner(event.space, event.member);
    return;
  }
  if (space.known === undefined) {
    if (space.early.length < MAX_EARLY_CHANGES) space.early.push(event);
    else resync(host, event.space, space);
  } else if (!take(space, event.epoch, event.rev, event.change)) resync(host, event.space, space);
  host.schedule(event.space);
  const id = event.change.id;
  if (event.owner !== undefined && event.owner !== nodeId && space.seats.has(id))
    host.checkOwner(event.space, id);
}
