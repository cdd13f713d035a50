/**
 * How the hub writes to its store. With one node (no `watch`) a change goes into the space's batch as soon
 * as the store took it. With a shared store the hub writes and waits to hear the change back through
 * `watch`, in revision order with every other node's; a sync is one call that writes the whole state and
 * claims the member (no revision at all when nothing changed), and an update is one call that the owning
 * node merges into the state it keeps of its members.
 */
import type { PresenceChange, StateRecord } from "../../presence/protocol.js";
import type { ResolvedHubOptions } from "./hub-options.js";
import { type Space, statePatch } from "./hub-state.js";
import { type Step, wait } from "./steps.js";
import type { ApplyOptions, SharedRosterStore } from "./store.js";

/** What the writes need from the hub. */
export interface WriteHost {
  readonly options: ResolvedHubOptions;
  readonly shared: SharedRosterStore | undefined;
  /** The space, created when missing. */
  space(name: string): Space;
  schedule(name: string): void;
  /** Another node owns `member` now: its seat here goes without a leave. */
  moved(name: string, member: string): void;
}

/** Applies one change (and, on one node, puts it in the batch). */
export function* change(
  host: WriteHost,
  name: string,
  change: PresenceChange,
  options: ApplyOptions = {},
): Step {
  const { store } = host.options;
  if (host.shared !== undefined) {
    const rev = yield* wait(store.apply(name, change, options));
    if (rev === undefined && change.op !== "leave") host.moved(name, change.id);
    return;
  }
  const space = host.space(name);
  if (space.pending.length === 0) {
    const head = yield* wait(store.head(name));
    space.pendingFrom = head.rev;
    space.pendingEpoch = head.epoch;
  }
  yield* wait(store.apply(name, change));
  space.pending.push(change);
  host.schedule(name);
}

/** Records the slices of `next` that differ from `before` (with `whole`, slices missing from it clear). */
function* patch(
  host: WriteHost,
  name: string,
  member: string,
  before: StateRecord,
  next: StateRecord,
  whole: boolean,
): Step {
  const slices = statePatch(before, next, whole);
  if (slices !== undefined) yield* change(host, name, { op: "update", id: member, state: slices });
}

/** A sync's whole state: the slices that changed, or a join when the member is new and `join` is set. */
export function* syncState(
  host: WriteHost,
  name: string,
  member: string,
  state: StateRecord,
  join: boolean,
): Step {
  if (host.shared !== undefined) {
    yield* change(host, name, { op: "join", id: member, state }, { claim: true, state });
    return;
  }
  const before = yield* wait(host.options.store.member(name, member));
  if (before !== undefined) yield* patch(host, name, member, before, state, true);
  else if (join) yield* change(host, name, { op: "join", id: member, state });
}

/** One member's updates of a batch, merged into one change. */
export function* mergedUpdate(
  host: WriteHost,
  name: string,
  member: string,
  state: Record<string, unknown>,
): Step {
  if (host.shared !== undefined) {
    yield* change(host, name, { op: "update", id: member, state });
    return;
  }
  const before = yield* wait(host.options.store.member(name, member));
  if (before !== undefined) yield* patch(host, name, member, before, state, false);
}
