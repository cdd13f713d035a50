/**
 * In-process figures of one PresenceHub holding a space of N members (no sockets: connections are sinks
 * that count what they are sent, so the figures are the hub's own cost, not the network's). The hub runs
 * on a virtual clock; a batch is flushed by advancing it by `batchMs`.
 *
 * - memory: heap after GC (needs `--expose-gc`) with N members synced, minus the heap before, per member;
 * - broadcast: CPU time of one update fanned out to the N − 1 others (1 update per batch), and of a batch
 *   of 100 updates from 100 members (one diff of 100 changes to everyone);
 * - cold syncs: CPU time of N syncs without a revision (each answered with a snapshot), into an empty
 *   space (a restarted server) and into a full one whose members are all in their grace period (every
 *   page reloaded), at 100 syncs per batch and all N in one batch.
 */
import { VirtualClock } from "../../src/env.js";
import { encodePresence, type StateRecord } from "../../src/protocol/presence/messages.js";
import { type PresenceConnection, PresenceHub } from "../../src/server/presence/index.js";

const SPACE = "office";
const BATCH_MS = 50;
const ROOMS = ["lobby", "kitchen", "meeting-1", "meeting-2", "focus", "garden"];
const EMOJI = ["🙂", "☕", "🎧", "🚀", "🌱", "🍕", "👋", "💡"];

/** A connection that counts what it is sent and keeps nothing. */
class Sink implements PresenceConnection {
  messages = 0;
  bytes = 0;
  constructor(readonly id: string) {}
  send(text: string): void {
    this.messages++;
    this.bytes += text.length;
  }
}

/** A member's state as a typical app would have it: room, emoji, position. */
export function stateOf(i: number): StateRecord {
  return {
    room: ROOMS[i % ROOMS.length],
    emoji: EMOJI[i % EMOJI.length],
    layout: { x: (i % 100) * 12, y: Math.floor(i / 100) * 12 },
  };
}

const memberId = (i: number) => `member-${i}`;

function syncText(i: number, epoch: string | null = null, rev: number | null = null): string {
  return encodePresence({
    type: "sync",
    v: 1,
    space: SPACE,
    member: memberId(i),
    epoch,
    rev,
    state: stateOf(i),
  });
}

/** CPU microseconds (user + system) spent by `work`. */
function cpuMicros(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function collect(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined)
    throw new Error("memory figures need node --expose-gc (npm run bench:presence does it)");
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Space {
  hub: PresenceHub;
  clock: VirtualClock;
  sinks: Sink[];
}

/** A hub with `members` synced, `perBatch` syncs per batch; the CPU time it took. */
function fill(members: number, perBatch: number, graceMs = 30_000): Space & { micros: number } {
  const clock = new VirtualClock();
  const hub = new PresenceHub({ clock, batchMs: BATCH_MS, graceMs });
  const sinks: Sink[] = [];
  const texts = Array.from({ length: members }, (_, i) => syncText(i));
  const micros = cpuMicros(() => {
    for (let i = 0; i < members; i++) {
      const sink = new Sink(`c-${i}`);
      sinks.push(sink);
      hub.receive(sink, texts[i]);
      if ((i + 1) % perBatch === 0) clock.advance(BATCH_MS);
    }
    clock.advance(BATCH_MS);
  });
  return { hub, clock, sinks, micros };
}

export interface MemoryFigure {
  members: number;
  heapBytes: number;
  bytesPerMember: number;
}

/** Heap held by a hub with `members` synced members (connections included), per member. */
export function memory(members: number): MemoryFigure {
  const before = collect();
  const space = fill(members, 100);
  const after = collect();
  const heapBytes = after - before;
  // Keeps the hub reachable until the heap was read.
  space.hub.close();
  return { members, heapBytes, bytesPerMember: heapBytes / members };
}

export interface BroadcastFigure {
  members: number;
  updatesPerBatch: number;
  /** Median CPU time of one batch (receive the updates, encode one diff, send it to everyone). */
  microsPerBatch: number;
  microsPerUpdate: number;
  /** Per member that was sent the diff. */
  nanosPerRecipient: number;
  /** Characters of the diff text one member received (UTF-16 length, O(1) to count inside the timing). */
  diffBytes: number;
}

/** CPU time of broadcast batches in a full space: `rounds` batches of `updatesPerBatch` emoji changes. */
export function broadcast(members: number, updatesPerBatch: number, rounds: number): BroadcastFigure {
  if (rounds * updatesPerBatch >= members)
    throw new RangeError("broadcast: each member updates at most once");
  const { hub, clock, sinks } = fill(members, 500);
  const samples: number[] = [];
  let diffBytes = 0;
  // The last member never updates: it is the one whose received bytes are the diff's size.
  const probe = sinks[members - 1] as Sink;
  const batchesBefore = hub.stats().broadcasts.batches;
  for (let round = 0; round < rounds; round++) {
    const first = round * updatesPerBatch;
    // Member i's next emoji always differs from its current one, so every update is a real change.
    const texts = Array.from({ length: updatesPerBatch }, (_, k) =>
      encodePresence({
        type: "update",
        space: SPACE,
        state: { emoji: EMOJI[(first + k + 1) % EMOJI.length] },
      }),
    );
    const bytesBefore = probe.bytes;
    samples.push(
      cpuMicros(() => {
        for (let k = 0; k < updatesPerBatch; k++) hub.receive(sinks[first + k] as Sink, texts[k]);
        clock.advance(BATCH_MS);
      }),
    );
    diffBytes = probe.bytes - bytesBefore;
  }
  if (hub.stats().broadcasts.batches - batchesBefore !== rounds)
    throw new Error("broadcast: a round changed nothing");
  hub.close();
  const microsPerBatch = median(samples);
  return {
    members,
    updatesPerBatch,
    microsPerBatch,
    microsPerUpdate: microsPerBatch / updatesPerBatch,
    nanosPerRecipient: (microsPerBatch * 1_000) / members,
    diffBytes,
  };
}

export interface ColdSyncFigure {
  members: number;
  into: "empty space" | "full space";
  syncsPerBatch: number;
  /** CPU time of all the syncs and their batches. */
  totalMs: number;
  microsPerSync: number;
  bytesSent: number;
}

/** CPU time of `members` cold syncs (no revision: each answered with a snapshot). */
export function coldSyncs(
  members: number,
  syncsPerBatch: number,
  into: ColdSyncFigure["into"],
): ColdSyncFigure {
  if (into === "empty space") {
    const { hub, sinks, micros } = fill(members, syncsPerBatch);
    hub.close();
    return coldFigure(members, into, syncsPerBatch, micros, sinks);
  }
  // Every member's connection drops (grace period running), then every page reloads: cold syncs again.
  const { hub, clock, sinks: first } = fill(members, 500);
  for (const sink of first) hub.disconnect(sink);
  const texts = Array.from({ length: members }, (_, i) => syncText(i));
  const sinks = texts.map((_, i) => new Sink(`r-${i}`));
  const micros = cpuMicros(() => {
    for (let i = 0; i < members; i++) {
      hub.receive(sinks[i] as Sink, texts[i]);
      if ((i + 1) % syncsPerBatch === 0) clock.advance(BATCH_MS);
    }
    clock.advance(BATCH_MS);
  });
  if (hub.stats().away !== 0) throw new Error(`reload: ${hub.stats().away} members still away`);
  hub.close();
  return coldFigure(members, into, syncsPerBatch, micros, sinks);
}

function coldFigure(
  members: number,
  into: ColdSyncFigure["into"],
  syncsPerBatch: number,
  micros: number,
  sinks: readonly Sink[],
): ColdSyncFigure {
  return {
    members,
    into,
    syncsPerBatch,
    totalMs: micros / 1_000,
    microsPerSync: micros / members,
    bytesSent: sinks.reduce((sum, sink) => sum + sink.bytes, 0),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
