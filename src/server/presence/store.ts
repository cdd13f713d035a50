/**
 * Where the hub keeps rosters: per space, the members' states, a revision that only grows, and a bounded log
 * of the latest changes (so a client that was briefly away catches up with a diff; one that was away longer
 * gets a snapshot). An interface, so a shared store can back many hub nodes later; the in-memory store is
 * the one for a single node.
 *
 * An epoch names one life of a space's roster: a roster created afresh (a restarted server, a space that
 * emptied) gets a new epoch, so a client's old revision can never be mistaken for a revision of the new one.
 */
import { type Random, systemRandom } from "../../env.js";
import { functionOption, numberOption, objectOption, rejectUnknown } from "../../options-check.js";
import type { PresenceChange, StateRecord } from "../../protocol/presence/messages.js";

/** A roster's position: its epoch and the revision within it. */
export interface RosterHead {
  /** Identifies this roster's history; a new epoch (a restart, a lost store) makes clients take a snapshot. */
  readonly epoch: string;
  /** The revision: one more per change applied in this epoch. */
  readonly rev: number;
}

/** Storage of rosters, one per space. Synchronous: the hub applies a change and answers in one step. */
export interface RosterStore {
  /** The roster's epoch and revision; creates an empty roster with a fresh epoch when the space has none. */
  head(space: string): RosterHead;
  /** One member's state, or `undefined`. */
  member(space: string, id: string): StateRecord | undefined;
  /** Every member and state. */
  members(space: string): Iterable<readonly [string, StateRecord]>;
  /** Number of members. */
  size(space: string): number;
  /** Applies one change and logs it; returns the new revision (the old one + 1). */
  apply(space: string, change: PresenceChange): number;
  /**
   * The changes after revision `rev`, oldest first, or `undefined` when the log no longer reaches back that
   * far (or `rev` is ahead of the roster): the caller then sends a snapshot.
   */
  changesSince(space: string, rev: number): readonly PresenceChange[] | undefined;
  /** Forgets a space (its next use starts a new epoch). */
  drop(space: string): void;
}

/** Options of {@link InMemoryRosterStore}. */
export interface InMemoryRosterStoreOptions {
  /** Changes kept per space for catch-up diffs. Default 256. */
  maxLogEntries?: number;
  /** Randomness for epochs. Default `Math.random`. */
  random?: Random;
}

interface Roster {
  readonly epoch: string;
  rev: number;
  readonly members: Map<string, StateRecord>;
  log: PresenceChange[];
}

/** Default number of changes kept per space. */
export const DEFAULT_MAX_LOG_ENTRIES = 256;

/**
 * Rosters in this process's memory.
 * @throws RangeError when `maxLogEntries` is not an integer >= 0; TypeError when `random` is not a function.
 */
export class InMemoryRosterStore implements RosterStore {
  private readonly rosters = new Map<string, Roster>();
  private readonly maxLog: number;
  private readonly random: Random;
  private epochs = 0;

  constructor(options: InMemoryRosterStoreOptions = {}) {
    const where = "InMemoryRosterStore";
    rejectUnknown(where, objectOption(where, "options", options), ["maxLogEntries", "random"]);
    this.maxLog = numberOption(where, "maxLogEntries", options.maxLogEntries, DEFAULT_MAX_LOG_ENTRIES, {
      integer: true,
    });
    this.random = functionOption(where, "random", options.random, systemRandom);
  }

  head(space: string): RosterHead {
    const { epoch, rev } = this.roster(space);
    return { epoch, rev };
  }

  member(space: string, id: string): StateRecord | undefined {
    return this.rosters.get(space)?.members.get(id);
  }

  members(space: string): Iterable<readonly [string, StateRecord]> {
    return this.rosters.get(space)?.members ?? [];
  }

  size(space: string): number {
    return this.rosters.get(space)?.members.size ?? 0;
  }

  apply(space: string, change: PresenceChange): number {
    const roster = this.roster(space);
    if (change.op === "leave") roster.members.delete(change.id);
    else if (change.op === "join") roster.members.set(change.id, change.state);
    else {
      const next: Record<string, unknown> = { ...roster.members.get(change.id) };
      for (const [name, value] of Object.entries(change.state)) {
        if (value === null) delete next[name];
        else next[name] = value;
      }
      roster.members.set(change.id, next);
    }
    if (this.maxLog > 0) {
      roster.log.push(change);
      // Trim in halves, not one by one: amortised O(1) per change at the cost of up to 1.5× the entries.
      if (roster.log.length >= this.maxLog * 1.5) roster.log = roster.log.slice(-this.maxLog);
    }
    roster.rev++;
    return roster.rev;
  }

  changesSince(space: string, rev: number): readonly PresenceChange[] | undefined {
    const roster = this.rosters.get(space);
    if (roster === undefined || rev > roster.rev) return undefined;
    const behind = roster.rev - rev;
    if (behind > Math.min(roster.log.length, this.maxLog)) return undefined;
    return behind === 0 ? [] : roster.log.slice(-behind);
  }

  drop(space: string): void {
    this.rosters.delete(space);
  }

  private roster(space: string): Roster {
    let roster = this.rosters.get(space);
    if (roster === undefined) {
      const epoch = `${Math.floor(this.random() * 2 ** 32).toString(36)}-${(++this.epochs).toString(36)}`;
      roster = { epoch, rev: 0, members: new Map(), log: [] };
      this.rosters.set(space, roster);
    }
    return roster;
  }
}
