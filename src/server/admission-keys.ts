/**
 * What admission remembers per key (an identity or an address, from the operator's `key` function), so that
 * one key cannot take the capacity of the others. Pure: time comes in as `nowMs`.
 *
 * Each key has its own schedule of appointments and its own pace. A refusal books the key a slot; a client
 * of the key that comes back before the key's first slot is due (a client ignoring its hint, or a new
 * client behind the same address) is booked the key's next slot, one spacing after its last — on the key's
 * own schedule, at no cost to the shared bucket and without moving anybody else's appointment. Only a
 * client arriving when a slot of its key is due, or a key without slots, is decided on the shared bucket, and
 * at most once per spacing (with a burst of `keyBurst`: a generic cell rate algorithm). The spacing is
 * (keys remembered) / `ratePerSecond`: a key alone — a whole office behind one NAT after a restart — gets the
 * full rate; with K keys waiting each gets about 1 / K of it, however fast it asks.
 *
 * The table is bounded (`maxKeys`). A record that holds nothing any more — no slot pending, its pace caught
 * up — is as good as no record and is dropped at once; only such records are ever dropped, so filling the
 * table with fresh keys cannot wipe a flooder's schedule or an honest client's appointment. When the table
 * is full of live records, every further key shares one overflow record (they compete among themselves as
 * one key, not with the keys already known).
 * @see https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm
 * @see https://en.wikipedia.org/wiki/Fair_queuing
 */

/** One key's record. Mutated in place by the controller. */
export interface KeyRecord {
  /** Slots booked and not yet claimed; they lie evenly between `firstAtMs` and `lastAtMs`. */
  slots: number;
  /** When the key's first pending slot is due: arriving before it is early. */
  firstAtMs: number;
  /** The key's last pending slot: the next one is booked a spacing after it. */
  lastAtMs: number;
  /** The window each slot was given (ms): a slot unclaimed past its window is forgotten. */
  windowMs: number;
  /** Theoretical arrival time of the key's next pass to the shared bucket (GCRA). */
  paceAtMs: number;
}

/** Longest key kept (characters): a longer one (or one that is not a non-empty string) shares the overflow record. */
export const MAX_KEY_LENGTH = 256;

/** How often (ms) a full table is swept for records that hold nothing any more; between sweeps newcomers overflow. */
const SWEEP_EVERY_MS = 1_000;

/** Forgets the slots whose window is over: their clients went elsewhere (or never meant to come back). */
function expire(record: KeyRecord, nowMs: number): void {
  while (record.slots > 0 && nowMs > record.firstAtMs + record.windowMs) claimFirst(record);
}

/** Takes the key's first pending slot off its schedule. */
export function claimFirst(record: KeyRecord): void {
  record.slots--;
  if (record.slots === 0) record.firstAtMs = record.lastAtMs;
  else record.firstAtMs += (record.lastAtMs - record.firstAtMs) / record.slots;
}

/** Books `atMs` as the key's next slot (callers keep slots in order: never before `lastAtMs`). */
export function book(record: KeyRecord, atMs: number, windowMs: number): void {
  if (record.slots === 0) record.firstAtMs = atMs;
  record.lastAtMs = atMs;
  record.windowMs = windowMs;
  record.slots++;
}

/** The bounded table of key records (see the module comment): never more than `maxKeys` records. */
export class KeyTable {
  private readonly records = new Map<string, KeyRecord>();
  private readonly overflow: KeyRecord;
  private lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly maxKeys: number,
    nowMs: number,
  ) {
    this.overflow = this.fresh(nowMs);
  }

  /** Records held (the overflow record not counted): never more than `maxKeys`. */
  get size(): number {
    return this.records.size;
  }

  /** True when `key` shares the overflow record because the table was full when it first came. */
  isOverflow(record: KeyRecord): boolean {
    return record === this.overflow;
  }

  /** The record of `key`, refilled to `nowMs`: its own, a new one, or the shared overflow record. */
  get(key: string, nowMs: number): KeyRecord {
    this.tidy(nowMs);
    if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      expire(this.overflow, nowMs);
      return this.overflow;
    }
    let record = this.records.get(key);
    if (record === undefined) {
      if (this.records.size >= this.maxKeys) this.sweep(nowMs);
      if (this.records.size >= this.maxKeys) record = this.overflow;
      else {
        record = this.fresh(nowMs);
        this.records.set(key, record);
      }
    }
    expire(record, nowMs);
    return record;
  }

  /** Drops `key`'s record if it holds nothing (called after each decision, so idle keys cost no memory). */
  release(key: string, record: KeyRecord, nowMs: number): void {
    if (record !== this.overflow && this.idle(record, nowMs)) this.records.delete(key);
  }

  private fresh(nowMs: number): KeyRecord {
    return { slots: 0, firstAtMs: nowMs, lastAtMs: nowMs, windowMs: 0, paceAtMs: nowMs };
  }

  /** A record equal to a fresh one: no slot pending and its pace caught up. */
  private idle(record: KeyRecord, nowMs: number): boolean {
    expire(record, nowMs);
    return record.slots === 0 && record.paceAtMs <= nowMs;
  }

  /**
   * Looks at the two records that have gone longest unexamined: drops them when idle, else moves them to
   * the back. Two per decision forget a paced-out key soon after it goes idle, so the count of keys (which
   * sets every key's spacing) follows the keys actually waiting, at O(1) per decision.
   */
  private tidy(nowMs: number): void {
    for (let i = 0; i < 2; i++) {
      const next = this.records.entries().next();
      if (next.done === true) return;
      const [key, record] = next.value;
      this.records.delete(key);
      if (!this.idle(record, nowMs)) this.records.set(key, record);
    }
  }

  /** O(maxKeys), at most once a second, and only while the table is full. */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < SWEEP_EVERY_MS) return;
    this.lastSweepMs = nowMs;
    for (const [key, record] of this.records) if (this.idle(record, nowMs)) this.records.delete(key);
  }
}

/**
 * The default admission key for a remote address: an IPv4 address as it is (an IPv4-mapped IPv6 address
 * too), an IPv6 address by its /64 prefix — one host or home network is usually given a whole /64, so keying
 * by the full address would hand one machine 2^64 keys. Anything else (undefined, unparsable) is returned as
 * given, or `"unknown"`.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address.length === 0) return "unknown";
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (!address.includes(":")) return address.slice(0, MAX_KEY_LENGTH);
  const bare = address.split("%")[0] as string;
  const halves = bare.split("::");
  if (halves.length > 2) return bare.slice(0, MAX_KEY_LENGTH);
  const head = (halves[0] as string).split(":").filter((part) => part.length > 0);
  const tail = halves.length === 2 ? (halves[1] as string).split(":").filter((part) => part.length > 0) : [];
  const groups =
    halves.length === 2
      ? [...head, ...Array(Math.max(0, 8 - head.length - tail.length)).fill("0"), ...tail]
      : head;
  const prefix = groups.slice(0, 4).map((group) => group.toLowerCase().replace(/^0+(?=.)/, ""));
  while (prefix.length < 4) prefix.push("0");
  return `${prefix.join(":")}::/64`;
}
