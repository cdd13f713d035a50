/**
 * The end of a hub batch, per space: the batch's merged updates become changes, connections waiting for a
 * snapshot (a sync in a busy batch, a slow reader that drained, a hub that lost track of a shared store)
 * get the batch's one snapshot, and every other connected member that lacks the batch's changes gets its
 * one diff text. One snapshot encoding and one diff encoding per space per batch, whatever the crowd.
 */
import { encodePresence, type StateRecord } from "../../presence/protocol.js";
import { type FeedHost, setKnown } from "./hub-feed.js";
import { PRESENCE_CLOSE, type PresenceConnection, type ResolvedHubOptions } from "./hub-options.js";
import type { Binding, Space } from "./hub-state.js";
import { deliver, isSlow } from "./outbox.js";
import { type Step, wait } from "./steps.js";
import type { RosterHead, SharedRosterStore } from "./store.js";

/** What a batch needs from its hub. */
export interface BatchHost {
  readonly options: ResolvedHubOptions;
  readonly spaces: ReadonlyMap<string, Space>;
  readonly shared: SharedRosterStore | undefined;
  readonly feed: FeedHost;
  readonly answers: { snapshot: number; catchup: number };
  readonly broadcasts: { batches: number; messages: number };
  readonly count: { storeErrors: number };
  /** The binding of `connection` in space `name`, if it is still there. */
  binding(connection: PresenceConnection, name: string): Binding | undefined;
  /** Applies one member's merged update of the batch (one change, or none when nothing changed). */
  update(name: string, member: string, patch: Record<string, unknown>): Step;
  markBehind(name: string, space: Space, connection: PresenceConnection, binding: Binding): void;
  cut(connection: PresenceConnection, code: number, reason: string): void;
  schedule(name: string): void;
}

/** The one snapshot text of a space for a batch. */
export function snapshotText(
  name: string,
  head: RosterHead,
  members: Iterable<readonly [string, StateRecord]>,
): string {
  const list = [...members].map(([id, state]) => ({ id, state }));
  return encodePresence({ type: "snapshot", space: name, epoch: head.epoch, rev: head.rev, members: list });
}

/** The roster for one snapshot: head and members (in one consistent read on a shared store). */
export function* readSnapshot(
  host: BatchHost,
  name: string,
  space: Space,
): Step<{ head: RosterHead; members: readonly (readonly [string, StateRecord])[] }> {
  if (host.shared !== undefined) {
    const read = yield* wait(host.shared.read(name, undefined, true));
    setKnown(host.feed, name, space, read.head);
    return { head: read.head, members: read.members ?? [] };
  }
  const { store } = host.options;
  const head = yield* wait(store.head(name));
  return { head, members: [...(yield* wait(store.members(name)))] };
}

/** Ends the batch of space `name`. */
export function* flush(host: BatchHost, name: string): Step {
  const space = host.spaces.get(name);
  if (space === undefined) return;
  for (const [member, patch] of [...space.merged]) {
    space.merged.delete(member);
    try {
      yield* host.update(name, member, patch);
    } catch {
      host.count.storeErrors++;
    }
  }
  space.flush = undefined;
  space.snapshotInBatch = false;
  space.batch++;
  const slow = (connection: PresenceConnection) => isSlow(connection, host.options.highWaterBytes);
  let snapshot: string | undefined;
  let rev = 0;
  function* catchUp(connection: PresenceConnection, binding: Binding): Step {
    if (snapshot === undefined) {
      const read = yield* readSnapshot(host, name, space as Space);
      rev = read.head.rev;
      snapshot = snapshotText(name, read.head, read.members);
    }
    binding.seen = rev;
    binding.behindSince = undefined;
    host.answers.snapshot++;
    deliver(connection, snapshot);
  }
  try {
    for (const [connection, binding] of [...space.awaiting]) {
      // Only if the connection is still that member here (not gone, not re-synced elsewhere).
      if (host.binding(connection, name) !== binding) space.awaiting.delete(connection);
      else if (slow(connection)) {
        space.awaiting.delete(connection);
        host.markBehind(name, space, connection, binding);
      } else {
        yield* catchUp(connection, binding);
        space.awaiting.delete(connection);
      }
    }
    const now = host.options.clock.now();
    for (const [connection, binding] of [...space.behind]) {
      if (host.binding(connection, name) !== binding) space.behind.delete(connection);
      else if (!slow(connection)) {
        yield* catchUp(connection, binding);
        space.behind.delete(connection);
      } else if (now - (binding.behindSince ?? now) >= host.options.maxBehindMs) {
        host.cut(connection, PRESENCE_CLOSE.slow, "presence: not reading");
      }
    }
  } catch {
    // The store is unreachable: who waits for a snapshot still waits, and the next batch tries again.
    host.count.storeErrors++;
    host.schedule(name);
  }
  if (host.spaces.get(name) === space) broadcast(host, name, space, slow);
  // A connection still behind is looked at again next batch, changes or not.
  if (space.behind.size > 0) host.schedule(name);
}

function broadcast(
  host: BatchHost,
  name: string,
  space: Space,
  slow: (connection: PresenceConnection) => boolean,
): void {
  const changes = space.pending;
  space.pending = [];
  if (changes.length === 0) return;
  const from = space.pendingFrom;
  const rev = from + changes.length;
  const text = encodePresence({ type: "diff", space: name, epoch: space.pendingEpoch, from, rev, changes });
  host.broadcasts.batches++;
  for (const seat of space.seats.values()) {
    const connection = seat.connection;
    const binding = connection === undefined ? undefined : host.binding(connection, name);
    // A member whose sync answer already covered this batch is not sent it again.
    if (connection === undefined || binding === undefined || binding.seen >= rev) continue;
    if (binding.behindSince !== undefined) continue;
    if (slow(connection)) {
      host.markBehind(name, space, connection, binding);
      continue;
    }
    binding.seen = rev;
    host.broadcasts.messages++;
    deliver(connection, text);
  }
}
