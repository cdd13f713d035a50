/**
 * Seat accounting for the hub-wide and per-identity limits. A seat held in its grace period counts like a
 * live one (else connect, sync, drop, repeat fills the hub with absent members); when a limit is reached
 * the longest-away seat makes room, so churn evicts churn instead of locking out the present.
 */

/** A seat in its grace period, in the order its connections went away. */
export interface AwaySeat {
  readonly space: string;
  readonly member: string;
  readonly identity: string;
}

interface Holder {
  seats: number;
  readonly away: Map<string, AwaySeat>;
}

/** The key of a seat (ids never contain a newline). */
export const seatKey = (space: string, member: string): string => `${space}\n${member}`;

export class SeatLedger {
  private count = 0;
  private readonly awayAll = new Map<string, AwaySeat>();
  private readonly holders = new Map<string, Holder>();

  constructor(
    private readonly maxSeats: number,
    private readonly maxPerIdentity: number,
  ) {}

  /** Seats held, live and away. */
  get seats(): number {
    return this.count;
  }

  /** Seats in their grace period. */
  get away(): number {
    return this.awayAll.size;
  }

  /**
   * The away seats that must leave before `identity` can take one more seat (oldest first), or why it
   * cannot: `too-many-seats` (its own limit, none of its seats away) or `hub-full`.
   */
  makeRoom(identity: string): AwaySeat[] | "too-many-seats" | "hub-full" {
    const out: AwaySeat[] = [];
    const holder = this.holders.get(identity);
    if (holder !== undefined && holder.seats >= this.maxPerIdentity) {
      const oldest = holder.away.values().next();
      if (oldest.done === true) return "too-many-seats";
      out.push(oldest.value);
    }
    if (this.count - out.length >= this.maxSeats) {
      for (const seat of this.awayAll.values()) {
        if (seat === out[0]) continue;
        out.push(seat);
        return out;
      }
      return "hub-full";
    }
    return out;
  }

  /** The longest-away seats, oldest first. */
  oldestAway(): IterableIterator<AwaySeat> {
    return this.awayAll.values();
  }

  /** `identity` took a new seat. */
  add(identity: string): void {
    this.count++;
    const holder = this.holders.get(identity);
    if (holder === undefined) this.holders.set(identity, { seats: 1, away: new Map() });
    else holder.seats++;
  }

  /** A seat left (whether live or away). */
  release(identity: string, key: string): void {
    this.back(identity, key);
    this.count--;
    const holder = this.holders.get(identity);
    if (holder === undefined) return;
    holder.seats--;
    if (holder.seats <= 0) this.holders.delete(identity);
  }

  /** A seat's connection went away: the seat is now the newest away seat. */
  leave(key: string, seat: AwaySeat): void {
    this.awayAll.delete(key);
    this.awayAll.set(key, seat);
    const holder = this.holders.get(seat.identity);
    holder?.away.delete(key);
    holder?.away.set(key, seat);
  }

  /** A seat in its grace period is taken again. */
  back(identity: string, key: string): void {
    this.awayAll.delete(key);
    this.holders.get(identity)?.away.delete(key);
  }
}

/**
 * A space whose every seat is away (the trail of grace-period churn), among the spaces of the 64
 * longest-away seats: dropping it makes room at `maxSpaces` without touching anyone present.
 */
export function abandonedSpace(
  ledger: SeatLedger,
  spaces: ReadonlyMap<string, { readonly seats: ReadonlyMap<string, { readonly connection: unknown }> }>,
): string | undefined {
  let looked = 0;
  for (const away of ledger.oldestAway()) {
    if (++looked > 64) return undefined;
    const seats = spaces.get(away.space)?.seats;
    if (seats === undefined) continue;
    let live = false;
    for (const seat of seats.values()) {
      if (seat.connection === undefined) continue;
      live = true;
      break;
    }
    if (!live) return away.space;
  }
  return undefined;
}
