/**
 * The leader's side of a {@link SharedSocket}: the one real socket, and the bookkeeping that keeps forwarding
 * honest. A follower's message is acknowledged only once the socket really sent it — one the socket merely
 * queued stays the follower's until the queue is flushed on open, so it survives the leader's tab closing
 * (the follower re-sends it to the next leader) — and a message the socket dropped is reported back, with
 * the socket's reason. Each (tab, id) is taken once per leader term, however often it is re-sent.
 */

import { listen } from "./emitter.js";
import type { DropEvent, SendResult, SocketState } from "./events.js";
import type { ResilientSocket } from "./resilient-socket.js";
import type { SendWire, Wire } from "./shared-wire.js";

/**
 * Senders remembered per term. Any script can post sends with made-up tab ids: past this the sender heard
 * from least recently is forgotten (a tab that re-sends after that could be taken twice — as a script reading
 * the channel could post its message again anyway).
 */
const MAX_SENDERS = 1_000;

/** Where a message came from: a follower's (tab, id), or `undefined` for this tab's own. */
type Origin = { readonly from: string; readonly id: number } | undefined;

export interface RelayHost {
  post(message: Wire): void;
  /** One of this tab's own messages was dropped by the socket. */
  dropped(event: DropEvent): void;
  /** The socket's state changed (`closed` included: the host decides what that means). */
  state(state: SocketState): void;
  message(data: unknown): void;
}

export class Relay {
  /** The highest id taken from each tab this term (a tab's ids arrive in order), least recent first. */
  private readonly taken = new Map<string, number>();
  /** Messages the socket queued, oldest first, until the queue is flushed or the socket drops them. */
  private queued: { readonly origin: Origin; readonly data: unknown }[] = [];
  /** Drops reported while a send() of ours runs: sorted out once it returns. */
  private during: DropEvent[] | undefined;
  private detached = false;
  private readonly off: (() => void)[];

  /**
   * @param epoch this leader term, whose lock this tab holds: followers tag their sends with it (sends of any
   * other term are ignored), and everything the leader posts carries it.
   */
  constructor(
    readonly socket: ResilientSocket,
    private readonly host: RelayHost,
    readonly epoch: string,
  ) {
    this.off = [
      listen(socket, "state", (state) => {
        if (this.detached) return;
        host.state(state);
        this.announce();
      }),
      // A wait rescheduled without a state change still moves nextAttemptAt.
      listen(socket, "retry", () => this.announce()),
      listen(socket, "message", (data) => {
        if (this.detached) return;
        host.post({ t: "message", data, epoch: this.epoch });
        host.message(data);
      }),
      listen(socket, "open", () => this.flushed()),
      listen(socket, "drop", (event) => this.dropped(event)),
    ];
  }

  /**
   * Tells every tab the state, this term and when the socket's next attempt is — while paused (offline,
   * hidden), the moment its policy planned, so a successor taking over still obeys a server's hint.
   */
  announce(): void {
    if (this.detached) return;
    const state = this.socket.state;
    if (state === "closed") return;
    const stats = this.socket.stats();
    const nextAttemptAt = stats.nextAttemptAt ?? stats.plannedAt;
    this.host.post(
      nextAttemptAt === undefined
        ? { t: "state", epoch: this.epoch, state }
        : { t: "state", epoch: this.epoch, state, nextAttemptAt },
    );
  }

  /** A follower's send: taken once, only for this term. */
  take({ from, id, epoch, data }: SendWire): void {
    if (this.detached || epoch !== this.epoch || id <= (this.taken.get(from) ?? 0)) return;
    // Re-inserted, so the map's first key is the sender heard from least recently.
    this.taken.delete(from);
    this.taken.set(from, id);
    if (this.taken.size > MAX_SENDERS) this.taken.delete(this.taken.keys().next().value as string);
    this.deliver(data, { from, id });
  }

  /** Hands a message to the socket and tells its sender what became of it. */
  deliver(data: unknown, origin?: Origin): SendResult {
    const during: DropEvent[] = [];
    this.during = during;
    let result: SendResult;
    try {
      result = this.socket.send(data);
    } finally {
      this.during = undefined;
    }
    if (result === "dropped") {
      let at = during.length - 1;
      while (at >= 0 && !Object.is(during[at]?.data, data)) at--;
      const [own] = at >= 0 ? during.splice(at, 1) : [];
      this.report(origin, own ?? { data, reason: "overflow" });
    }
    // Older queued messages the socket discarded to make room.
    for (const event of during) this.dropped(event);
    if (result === "queued") this.queued.push({ origin, data });
    else if (result === "sent" && origin !== undefined)
      this.host.post({ t: "ack", to: origin.from, id: origin.id, epoch: this.epoch });
    return result;
  }

  /** Stops listening to the socket. Returns this tab's own messages it still held, oldest first. */
  detach(): unknown[] {
    this.detached = true;
    for (const off of this.off.splice(0)) off();
    const own = this.queued.filter((entry) => entry.origin === undefined).map((entry) => entry.data);
    this.queued = [];
    return own;
  }

  /** `open` comes after the socket flushed its queue: what is no longer in it was sent. */
  private flushed(): void {
    if (this.detached || this.socket.stats().queue.messages > 0) return;
    const sent = this.queued;
    this.queued = [];
    for (const { origin } of sent)
      if (origin !== undefined)
        this.host.post({ t: "ack", to: origin.from, id: origin.id, epoch: this.epoch });
  }

  private dropped(event: DropEvent): void {
    if (this.detached) return;
    if (this.during !== undefined) {
      this.during.push(event);
      return;
    }
    // Closed under the leader, which steps down: these wait for the next leader, at their senders.
    if (event.reason === "closed") return;
    // The socket drops the oldest first; with equal messages the oldest equal one is as good as any.
    const at = this.queued.findIndex((entry) => Object.is(entry.data, event.data));
    const entry = this.queued[at];
    if (entry === undefined) return;
    this.queued.splice(at, 1);
    this.report(entry.origin, event);
  }

  private report(origin: Origin, event: DropEvent): void {
    if (origin === undefined) this.host.dropped(event);
    else
      this.host.post({ t: "drop", to: origin.from, id: origin.id, reason: event.reason, epoch: this.epoch });
  }
}
