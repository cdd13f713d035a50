/**
 * Presence over a `SharedSocket`: one member for every tab of the browser, as there is one connection. Only
 * the tab that leads (owns the real socket) talks presence to the server — one `sync` up and one answer down
 * per connection, as {@link Presence} does. The other tabs read the server's messages the leader relays to
 * them, and ask the leader for its roster when they are not in step with it (a tab opened late, a gap).
 *
 * Own state lives in every tab. Each change is stamped (the time, then the tab's id to break a tie) and
 * broadcast to the other tabs, which keep the newest stamp of each slice: every tab ends with the same
 * state whatever order the changes reach it in (last writer wins), and a tab that takes over the lead syncs
 * the member's whole state without asking anyone. The leader sends what changed as coalesced updates.
 * @see https://crdt.tech/ (a last-writer-wins register per slice)
 */

import { listen } from "../client/emitter.js";
import type { SharedMessageSocket, SharedMessageSocketEvents } from "../client/message-socket.js";
import { newId, type TimerHandle } from "../env.js";
import { badOption } from "../options-check.js";
import { utf8Length } from "../protocol/json-guard.js";
import { encodePresence, type UpMessage } from "../protocol/presence/messages.js";
import type { AnySlice, PresenceState } from "../protocol/presence/slices.js";
import { type OwnEntry, readEntry, readTabMessage, type TabMessage } from "../protocol/presence/tab-wire.js";
import type { SharedPresenceEvents } from "./events.js";
import type { PresenceOptions } from "./options.js";
import { PresenceCore } from "./presence.js";
import { RosterView } from "./roster.js";

/**
 * What {@link SharedPresence} takes: a `SharedSocket`.
 * @deprecated Use `SharedMessageSocket<unknown, string>`; this alias goes in the next major version.
 */
export type SharedPresenceSocket = SharedMessageSocket<unknown, string>;

/**
 * All tabs share the system clock, so a stamp further ahead of it than this is no tab's: refused, or it would
 * win every later change. Judged on the clock alone — never on the latest stamp seen, which a script posting
 * on the channel could walk forward a step at a time — and no tab stamps (or passes on a stamp) past it.
 */
const MAX_AHEAD_MS = 60_000;

type Stamp = readonly [time: number, tab: string];

const newer = (a: Stamp, b: Stamp | undefined): boolean =>
  b === undefined || a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/**
 * A stamp as it counts at `now`: one beyond the clock's reach (made before the clock was set back) counts as
 * none, so a change made now — stamped within reach — beats it in every tab.
 */
const live = (stamp: Stamp | undefined, now: number): Stamp | undefined =>
  stamp === undefined || stamp[0] > now + MAX_AHEAD_MS ? undefined : stamp;

/** A stamp as it is passed on at `now`: within the clock's reach, where the other tabs take it. */
const reachable = (stamp: Stamp, now: number): Stamp =>
  stamp[0] > now + MAX_AHEAD_MS ? [now + MAX_AHEAD_MS, stamp[1]] : stamp;

/**
 * The leader's answers to `hello`s (its whole state and the roster, kilobytes to every tab): a burst of 8 at
 * once, then 10 a second. New tabs are answered at once; a script posting hellos (50 bytes each) cannot
 * make the leader post rosters faster than that.
 */
const ANSWER_BURST = 8;
const ANSWERS_PER_SECOND = 10;

const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * One member's presence for every tab of the browser, over a {@link SharedMessageSocket} (a `SharedSocket`):
 * the tab that leads talks to the server, the others follow over the tab channel; own state set in any tab
 * reaches all of them (last writer wins per slice). Same API and events as `Presence`, plus `own` (another
 * tab changed the member's state).
 * @typeParam D - the custom slices (see `defineSlice`) beside the built-in `room`, `emoji` and `layout`.
 */
export class SharedPresence<D extends readonly AnySlice[] = readonly []> extends PresenceCore<
  D,
  SharedPresenceEvents<PresenceState<D>>
> {
  private readonly shared: SharedMessageSocket<unknown, string>;
  /** Tells this tab's stamps from the others' (never from `random`: a repeating source must not merge tabs). */
  private readonly tab = newId();
  /** The stamp of each slice set or cleared (one per known slice at most). */
  private readonly stamps = new Map<string, Stamp>();
  private lastTime = 0;
  /** Own state is the member's (heard from a leader, or this tab led), no longer just this tab's `initial`. */
  private adopted = false;
  private answerTimer: TimerHandle | undefined;
  /** Answers to `hello`s this tab may give now (a token bucket), as of `answersAt`. */
  private answers = ANSWER_BURST;
  private answersAt = Number.NEGATIVE_INFINITY;
  /** Slices whose last change could not be stamped past the stamp before it: stamped again a moment later. */
  private readonly tied = new Set<string>();
  private tieTimer: TimerHandle | undefined;
  private rosterWanted = false;
  /** The app gave the member id: a whole state of another member is no leader's of this browser. */
  private readonly fixedMember: boolean;

  /**
   * Attaches to `shared` (in every tab that shares it, with the same `space` and slices).
   * @throws see {@link resolvePresenceOptions}; TypeError when `shared` is not a SharedSocket or `initial` has an
   * invalid slice.
   */
  constructor(shared: SharedMessageSocket<unknown, string>, options: PresenceOptions<D>) {
    if (shared === null || typeof shared !== "object" || shared.shared !== true)
      badOption("SharedPresence", "socket", "a SharedSocket", shared);
    // One tab going away is not the member leaving: the other tabs are still there.
    super(
      options !== null && typeof options === "object"
        ? { ...options, leaveOnDetach: options.leaveOnDetach ?? false }
        : options,
    );
    this.shared = shared;
    this.fixedMember = typeof options?.member === "string";
    // `initial` is weaker than any change: a tab that hears the member's state takes it instead.
    for (const name of Object.keys(this.own)) this.stamps.set(name, [0, this.tab]);
    this.offs = [
      listen<SharedMessageSocketEvents, "state">(shared, "state", (state, previous) => {
        if (state === "open") this.opened();
        else if (previous === "open") this.offline();
      }),
      listen<SharedMessageSocketEvents, "message">(shared, "message", (data) => this.receive(data)),
      listen<SharedMessageSocketEvents, "broadcast">(shared, "broadcast", (data) => this.heard(data)),
      listen<SharedMessageSocketEvents, "role">(shared, "role", (role) => role === "leader" && this.lead()),
    ];
    if (shared.role === "leader") this.lead();
    else this.post({ presence: "hello", space: this.space });
    if (shared.state === "open") this.opened();
  }

  override detach(): void {
    if (this.answerTimer !== undefined) this.clock.clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    if (this.tieTimer !== undefined) this.clock.clearTimeout(this.tieTimer);
    this.tieTimer = undefined;
    this.tied.clear();
    super.detach();
  }

  /** Only the leader's socket sends; in any other tab this is `false`. @internal */
  protected send(message: UpMessage): boolean {
    return this.shared.sendNow(encodePresence(message));
  }

  /** A follower does not sync with the server: it asks the leader (its roster comes as a snapshot). @internal */
  protected override sync(): void {
    if (this.leading()) super.sync();
    else if (this.currentPhase !== "detached") {
      this.expect();
      this.post({ presence: "hello", space: this.space });
    }
  }

  /** A local set or clear: stamped, told to every tab, and (leader) sent to the server. @internal */
  protected override changed(name: string): void {
    // As the other tabs judge it: a stamp beyond the clock's reach counts as none.
    const before = live(this.stamps.get(name), this.clock.now());
    const stamp = [this.tick(), this.tab] as const;
    this.stamps.set(name, stamp);
    this.post({ presence: "own", space: this.space, state: { [name]: [this.own[name] ?? null, ...stamp] } });
    if (this.leading()) super.changed(name);
    // Capped at the clock's reach, a stamp can only equal the one before it (a second change in the same
    // millisecond after the clock was set back, or a script's stamp at the reach with a higher tab id): the
    // other tabs would keep the old value. Once the clock moved on, the change is stamped and told again.
    if (before !== undefined && !newer(stamp, before)) this.stampAgainSoon(name);
  }

  private stampAgainSoon(name: string): void {
    this.tied.add(name);
    this.tieTimer ??= this.clock.setTimeout(() => {
      this.tieTimer = undefined;
      const names = [...this.tied];
      this.tied.clear();
      if (this.currentPhase === "detached") return;
      for (const tied of names) this.changed(tied);
    }, 1);
  }

  /** @internal */
  protected override synced(): void {
    if (this.rosterWanted && this.answerTimer === undefined && this.leading()) this.postRoster();
  }

  private opened(): void {
    if (this.leading()) {
      this.sync();
      return;
    }
    // The leader is syncing: its answer, relayed, brings this tab in step (or shows it is not: then it asks).
    this.expect();
    if (this.view.epoch === undefined) this.post({ presence: "hello", space: this.space });
  }

  /** This tab leads now: its own state is the member's, and every tab hears it whole. */
  private lead(): void {
    if (this.currentPhase === "detached") return;
    this.adopted = true;
    this.post(this.whole());
  }

  private heard(raw: unknown): void {
    const message = readTabMessage(raw, this.options.space, this.options.limits.maxSlices);
    if (message === undefined || this.currentPhase === "detached") return;
    const leading = this.leading();
    if (message.presence === "hello") {
      if (leading) this.answerSoon();
    } else if (message.presence === "roster") {
      if (!leading && this.currentPhase === "syncing") this.receive(message.text);
    } else if (message.member === undefined || !this.fixedMember || message.member === this.member)
      this.merge(message.state, leading ? undefined : message.member);
  }

  /**
   * Takes each slice whose stamp is newer than this tab's. From a leader (`member` given: its whole state),
   * this tab also takes its member id, drops its own `initial` if it had only that, and tells the leader the
   * slices it knows newer values of.
   */
  private merge(state: Readonly<Record<string, unknown>>, member?: string): void {
    const before = { ...this.own };
    if (member !== undefined && !this.adopted) {
      this.adopted = true;
      for (const [name, [time, tab]] of this.stamps) {
        if (time !== 0 || tab !== this.tab) continue;
        this.stamps.delete(name);
        delete this.own[name];
      }
    }
    const theirs = new Map<string, Stamp>();
    const now = this.clock.now();
    const horizon = now + MAX_AHEAD_MS;
    for (const name of Object.keys(state)) {
      const entry = readEntry(state[name]);
      if (entry === undefined || entry[1] > horizon) continue;
      const [value, time, tab] = entry;
      const stamp = [time, tab] as const;
      if (!this.acceptable(name, value)) continue;
      theirs.set(name, stamp);
      // Only stamps of slices taken move this tab's time: junk must not push its later stamps ahead.
      this.lastTime = Math.max(this.lastTime, time);
      if (newer(stamp, live(this.stamps.get(name), now))) {
        this.stamps.set(name, stamp);
        if (value === null) delete this.own[name];
        else this.own[name] = value;
      }
    }
    if (member !== undefined) {
      if (member !== this.options.member) this.become(member);
      const reply: Record<string, OwnEntry> = {};
      let any = false;
      for (const [name, stamp] of this.stamps) {
        const ours = live(stamp, now);
        if (ours === undefined || !newer(ours, theirs.get(name))) continue;
        reply[name] = [this.own[name] ?? null, ...ours];
        any = true;
      }
      if (any) this.post({ presence: "own", space: this.space, state: reply });
    }
    const slices = [...new Set([...Object.keys(before), ...Object.keys(this.own)])].filter(
      (name) => !same(before[name], this.own[name]),
    );
    if (slices.length === 0) return;
    if (this.leading()) for (const name of slices) super.changed(name);
    this.emit("own", { slices });
  }

  /** A slice value from another tab: one this side knows and accepts, and the whole state within bounds. */
  private acceptable(name: string, value: unknown): boolean {
    const { registry, maxStateBytes } = this.options;
    if (value === null) return registry.get(name) !== undefined;
    return (
      registry.check(name, value) === undefined &&
      utf8Length(JSON.stringify({ ...this.own, [name]: value })) <= maxStateBytes
    );
  }

  /** The leader's member id is the browser's: take it, and the roster without it. */
  private become(member: string): void {
    const had = this.view.epoch !== undefined;
    this.options = { ...this.options, member };
    this.view = new RosterView(member);
    if (had && (this.currentPhase === "syncing" || this.currentPhase === "synced")) this.sync();
  }

  /** Answers every `hello` of one moment at once: the whole own state, the roster once it is current. */
  private answerSoon(): void {
    this.rosterWanted = true;
    if (this.answerTimer !== undefined) return;
    const now = this.clock.now();
    // Refilled by the time passed (none when the clock was set back), up to the burst.
    const passed = Math.max(0, now - this.answersAt);
    this.answers = Math.min(ANSWER_BURST, this.answers + (passed * ANSWERS_PER_SECOND) / 1_000);
    this.answersAt = now;
    const wait = this.answers >= 1 ? 0 : ((1 - this.answers) * 1_000) / ANSWERS_PER_SECOND;
    this.answers -= 1;
    this.answerTimer = this.clock.setTimeout(() => {
      this.answerTimer = undefined;
      if (!this.leading() || this.currentPhase === "detached") return;
      this.post(this.whole());
      if (this.currentPhase === "synced") this.postRoster();
    }, wait);
  }

  private postRoster(): void {
    this.rosterWanted = false;
    const { space } = this.options;
    const { epoch, revision: rev } = this.view;
    if (epoch === undefined || rev === undefined) return;
    const members = [...this.view.members.values()];
    this.post({
      presence: "roster",
      space,
      text: encodePresence({ type: "snapshot", space, epoch, rev, members }),
    });
  }

  private whole(): TabMessage {
    const state: Record<string, OwnEntry> = {};
    const now = this.clock.now();
    for (const [name, stamp] of this.stamps) state[name] = [this.own[name] ?? null, ...reachable(stamp, now)];
    return { presence: "own", space: this.space, state, whole: true, member: this.member };
  }

  /**
   * A stamp time after every one this tab made or saw (and the clock's time when that is later) — but never
   * past the clock's reach, where the other tabs would refuse it.
   */
  private tick(): number {
    const now = this.clock.now();
    const time = Math.max(now, Math.min(this.lastTime + 1, now + MAX_AHEAD_MS));
    this.lastTime = Math.max(this.lastTime, time);
    return time;
  }

  private leading(): boolean {
    return this.shared.role === "leader";
  }

  private post(message: TabMessage): void {
    this.shared.broadcast(message);
  }
}
