/**
 * The one answer to a sync: a catch-up diff since the revision the client had (same epoch, the log still
 * reaches back, and it is no longer than the roster), else a snapshot — at most one snapshot encoded per
 * space per batch; later syncs of the batch share the next one.
 */
import {
  encodePresence,
  type PresenceChange,
  type StateRecord,
  type SyncMessage,
} from "../../presence/protocol.js";
import { type BatchHost, snapshotText } from "./hub-batch.js";
import { setKnown } from "./hub-feed.js";
import type { PresenceConnection } from "./hub-options.js";
import type { Binding, Space } from "./hub-state.js";
import { deliver, isSlow } from "./outbox.js";
import { type Step, wait } from "./steps.js";
import type { RosterHead } from "./store.js";

/** Answers `message` (a sync already applied) on `connection`, bound as `binding` in `space`. */
export function* answer(
  host: BatchHost,
  space: Space,
  connection: PresenceConnection,
  binding: Binding,
  message: SyncMessage,
): Step {
  const { store } = host.options;
  const name = message.space;
  if (binding.behindSince !== undefined || isSlow(connection, host.options.highWaterBytes)) {
    host.markBehind(name, space, connection, binding);
    return;
  }
  const since =
    message.epoch !== null && message.rev !== null ? { epoch: message.epoch, rev: message.rev } : undefined;
  let changes: readonly PresenceChange[] | undefined;
  let head: RosterHead;
  let members: readonly (readonly [string, StateRecord])[] | undefined;
  if (host.shared !== undefined) {
    // One consistent read: a head and changes read apart could disagree while other nodes write.
    const read = yield* wait(host.shared.read(name, since, !space.snapshotInBatch));
    ({ head, changes, members } = read);
    setKnown(host.feed, name, space, head);
  } else {
    head = yield* wait(store.head(name));
    if (since !== undefined && since.epoch === head.epoch) {
      changes = yield* wait(store.changesSince(name, since.rev));
      if (changes !== undefined && changes.length > (yield* wait(store.size(name)))) changes = undefined;
    }
  }
  binding.seen = head.rev;
  if (changes !== undefined && since !== undefined) {
    host.answers.catchup++;
    const { epoch, rev } = head;
    deliver(
      connection,
      encodePresence({ type: "catchup", space: name, epoch, from: since.rev, rev, changes }),
    );
    return;
  }
  // A snapshot costs O(members) to encode; in a restart storm every sync needs one, which is O(N²) over
  // the storm. So at most one is encoded per space per batch: later syncs of the batch share the next.
  host.schedule(name);
  if (space.snapshotInBatch) {
    space.awaiting.set(connection, binding);
    return;
  }
  space.snapshotInBatch = true;
  host.answers.snapshot++;
  members ??= [...(yield* wait(store.members(name)))];
  deliver(connection, snapshotText(name, head, members));
}
