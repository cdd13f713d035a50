/**
 * The client's copy of a space's roster: the other members and their states at a known (epoch, revision).
 * Applying a snapshot or a run of changes returns what changed, member by member, so the caller can emit
 * events after the roster is consistent again.
 */
import { utf8Length } from "../protocol/json-guard.js";
import type { PresenceChange, SnapshotMessage, StateRecord } from "../protocol/presence/messages.js";

/** Another member of the space, as last seen. */
export interface Member<S = StateRecord> {
  /** The member's id (its `member` option). */
  readonly id: string;
  /** Its state as last synced: one value per slice it set. */
  readonly state: Readonly<S>;
}

/** One member-level change: who, and which slices changed (every slice of the state for a join). */
export interface MemberChange<S = StateRecord> {
  readonly kind: "join" | "leave" | "update";
  readonly member: Member<S>;
  readonly slices: readonly string[];
}

/** What happened when changes were offered to the roster. */
export type ApplyOutcome = "applied" | "stale" | "gap" | "epoch";

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function changedSlices(before: StateRecord, after: StateRecord): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((name) => !same(before[name], after[name]));
}

const freeze = (state: Record<string, unknown>): StateRecord => Object.freeze(state);

/** The roster's bounds: most members, most bytes of state (UTF-8 JSON of each state plus its id). */
export interface RosterBounds {
  readonly maxMembers: number;
  readonly maxBytes: number;
}

const sizeOf = (id: string, state: StateRecord): number => id.length + utf8Length(JSON.stringify(state));

export class RosterView<S = StateRecord> {
  private readonly byId = new Map<string, Member<S>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  private currentEpoch: string | undefined;
  private currentRev: number | undefined;
  /** Joins and updates left out for the bounds. */
  overflow = 0;

  /** `self` is never listed: the own state is the caller's, not the server's echo of it. */
  constructor(
    private readonly self: string,
    private readonly bounds: RosterBounds = {
      maxMembers: Number.POSITIVE_INFINITY,
      maxBytes: Number.POSITIVE_INFINITY,
    },
  ) {}

  get epoch(): string | undefined {
    return this.currentEpoch;
  }

  get revision(): number | undefined {
    return this.currentRev;
  }

  /** The members, read-only. */
  get members(): ReadonlyMap<string, Member<S>> {
    return this.byId;
  }

  /** Replaces the roster with a snapshot; returns the joins, leaves and updates that makes. */
  applySnapshot(snapshot: SnapshotMessage): MemberChange<S>[] {
    const out: MemberChange<S>[] = [];
    const next = new Map<string, StateRecord>();
    for (const { id, state } of snapshot.members) if (id !== this.self) next.set(id, state);
    for (const [id, member] of this.byId) {
      if (!next.has(id)) {
        this.drop(id);
        out.push({ kind: "leave", member, slices: [] });
      }
    }
    for (const [id, state] of next) out.push(...this.put(id, { ...state }));
    this.currentEpoch = snapshot.epoch;
    this.currentRev = snapshot.rev;
    return out;
  }

  /**
   * Applies changes `from` → `rev` of `epoch` on top of the current revision: changes already seen are
   * skipped (`stale` when all are), a run that starts past the current revision is a `gap`, another
   * epoch is `epoch` — in both of those nothing is applied and the caller must sync again.
   */
  applyChanges(
    epoch: string,
    from: number,
    rev: number,
    changes: readonly PresenceChange[],
    out: MemberChange<S>[],
  ): ApplyOutcome {
    const current = this.currentRev;
    if (current === undefined || epoch !== this.currentEpoch) return "epoch";
    if (rev <= current) return "stale";
    if (from > current) return "gap";
    for (const change of changes.slice(current - from)) {
      if (change.id === this.self) continue;
      if (change.op === "leave") {
        const member = this.byId.get(change.id);
        if (member === undefined) continue;
        this.drop(change.id);
        out.push({ kind: "leave", member, slices: [] });
      } else if (change.op === "join") {
        out.push(...this.put(change.id, { ...change.state }));
      } else {
        const before = (this.byId.get(change.id)?.state ?? {}) as StateRecord;
        const after: Record<string, unknown> = { ...before };
        for (const [name, value] of Object.entries(change.state)) {
          if (value === null) delete after[name];
          else after[name] = value;
        }
        out.push(...this.put(change.id, after));
      }
    }
    this.currentRev = rev;
    return "applied";
  }

  private drop(id: string): void {
    this.byId.delete(id);
    this.bytes -= this.sizes.get(id) ?? 0;
    this.sizes.delete(id);
  }

  /**
   * Sets a member's whole state; a join when new, an update naming the changed slices, or nothing. A join
   * or growth past the bounds is left out (counted in `overflow`): a hostile server cannot grow the roster
   * without bound, and an honest one only loses members past a documented size.
   */
  private put(id: string, state: Record<string, unknown>): MemberChange<S>[] {
    const previous = this.byId.get(id);
    const size = sizeOf(id, state);
    const was = this.sizes.get(id) ?? 0;
    const full = previous === undefined && this.byId.size >= this.bounds.maxMembers;
    if (full || this.bytes - was + size > this.bounds.maxBytes) {
      this.overflow++;
      return [];
    }
    const member: Member<S> = Object.freeze({ id, state: freeze(state) as unknown as Readonly<S> });
    const slices =
      previous === undefined ? Object.keys(state) : changedSlices(previous.state as StateRecord, state);
    if (previous !== undefined && slices.length === 0) return [];
    this.byId.set(id, member);
    this.sizes.set(id, size);
    this.bytes += size - was;
    return [{ kind: previous === undefined ? "join" : "update", member, slices }];
  }
}
