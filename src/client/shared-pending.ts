/**
 * A follower tab's messages that no leader's socket has sent yet, in order: what a new leader gets again, what
 * `close()` reports as dropped. Each remembers the leader term it was last handed to — only that term's
 * `ack` or `drop` settles it — and since when it waits: one not settled within `timeoutMs` is given up (a
 * `drop`, reason `expired`), so a `"forwarded"` never hangs for ever, whatever the channel says or does not
 * say. The wait counts from `send()`, and again from each hand-over to a new term: the new leader's socket
 * queues it then, and its queue's `ttlMs` (kept below `timeoutMs`) must report an expiry first — a clock
 * started before a takeover would give up messages that socket still sends. One timer at most, for the
 * message that waits longest.
 */
import type { Clock, TimerHandle } from "../env.js";

interface Entry {
  readonly data: unknown;
  /** Since when it waits: its `send()`, or its hand-over to the term it was last handed to. */
  at: number;
  /** The term it was last handed to, if any. */
  epoch: string | undefined;
}

export class PendingSends {
  private readonly entries = new Map<number, Entry>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly expired: (data: unknown) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  add(id: number, data: unknown): void {
    this.entries.set(id, { data, at: this.clock.now(), epoch: undefined });
    this.arm();
  }

  /** The messages not yet handed to term `epoch`, in order, for handing to its leader. */
  notHandedTo(epoch: string): number[] {
    const ids: number[] = [];
    for (const [id, entry] of this.entries) if (entry.epoch !== epoch) ids.push(id);
    return ids;
  }

  data(id: number): unknown {
    return this.entries.get(id)?.data;
  }

  /** Marks `id` handed to the leader of term `epoch`; handed to a new term, it waits afresh. */
  handed(id: number, epoch: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.epoch === epoch) return;
    entry.epoch = epoch;
    entry.at = this.clock.now();
    // Its deadline moved later: the timer set for it fires early and is set again for what is left.
  }

  /** Removes `id` if it was handed to term `epoch` (an `ack` or `drop` of another term settles nothing). */
  settle(id: number, epoch: string): { readonly data: unknown } | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.epoch !== epoch) return undefined;
    this.entries.delete(id);
    if (this.entries.size === 0) this.disarm();
    return entry;
  }

  /** Forgets `id` (it could not be posted). */
  delete(id: number): void {
    this.entries.delete(id);
    if (this.entries.size === 0) this.disarm();
  }

  /** Empties the list (this tab leads now, or closes): the messages, oldest first. */
  takeAll(): unknown[] {
    const all = [...this.entries.values()].map((entry) => entry.data);
    this.entries.clear();
    this.disarm();
    return all;
  }

  private arm(): void {
    if (this.timer !== undefined || this.entries.size === 0) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const entry of this.entries.values()) oldest = Math.min(oldest, entry.at);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.expire();
      },
      Math.max(0, oldest + this.timeoutMs - this.clock.now()),
    );
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    const now = this.clock.now();
    const gone: unknown[] = [];
    // Hand-overs restart some waits, so the longest waiting is not always the first: every entry is looked at.
    for (const [id, entry] of this.entries) {
      if (entry.at + this.timeoutMs > now) continue;
      this.entries.delete(id);
      gone.push(entry.data);
    }
    this.arm();
    // Listeners run last: one may send (adding) or close (emptying) without upsetting the walk above.
    for (const data of gone) this.expired(data);
  }
}
