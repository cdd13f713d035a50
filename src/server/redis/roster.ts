/**
 * Presence rosters on Redis, shared by every node: `new PresenceHub({ store: redisRosterStore({ redis }) })`
 * on each node and every hub sees every node's members. Per space Redis holds the members, their owners, a
 * revision and a bounded diff log (so a client that reconnects to any node catches up with a diff); each
 * change is one Lua script (apply + log + revision + publication at once) and reaches every node on one
 * pub/sub channel.
 *
 * Each node owns the members whose connections are on it and renews that ownership every `heartbeatMs`. A
 * node that dies without a goodbye stops renewing; once its ownership has been expired for the grace period
 * a surviving node's reap removes its members (one atomic script: two reapers never leave a member twice).
 * A member that reconnects to another node within that time is taken over there: nobody sees it leave.
 *
 * When Redis is unreachable the hub keeps its connections and the store keeps what its node owns; when Redis
 * is back (restarted empty, or the node reaped meanwhile) the store writes its members again and every hub
 * sends its connections one fresh snapshot. See docs/cluster.md.
 */
import type { PresenceChange, StateRecord } from "../../protocol/presence/messages.js";
import { statePatch, withMerged } from "../presence/hub-state.js";
import {
  type ApplyOptions,
  type RosterEvent,
  type RosterHead,
  type RosterRead,
  RosterRefusal,
  type SharedRosterStore,
  type WatchOptions,
} from "../presence/store.js";
import type { RedisClient } from "./client.js";
import { parseRosterMessage } from "./roster-feed.js";
import {
  REDIS_ROSTER_DEFAULTS,
  type RedisRosterStoreOptions,
  type ResolvedRosterOptions,
  resolveRosterOptions,
} from "./roster-options.js";
import { APPLY, BEAT, GOODBYE, OWNER, READ, REAP, RESTORE } from "./roster-scripts.js";

export { REDIS_ROSTER_DEFAULTS, type RedisRosterStoreOptions } from "./roster-options.js";

/** Counters of a {@link RedisRosterStore}, for dashboards, tests and the cluster bench. */
export interface RedisRosterStats {
  /** This node's id. */
  readonly nodeId: string;
  /** Redis calls made (each script or command is one). */
  readonly calls: number;
  /** Redis calls that failed or timed out. */
  readonly failures: number;
  /** Events read from the channel. */
  readonly events: number;
  /** Channel messages that were not events (ignored). */
  readonly malformed: number;
  /** Members of dead nodes this node's reaps removed. */
  readonly reaped: number;
  /** Times this node wrote its members again (Redis came back, or the node had been reaped). */
  readonly restores: number;
  /** Members this node owns (kept locally to write them again after a Redis restart). */
  readonly owned: number;
}

type Script = (...args: (string | number)[]) => Promise<unknown>;

const SCRIPTS = { APPLY, READ, BEAT, GOODBYE, REAP, RESTORE, OWNER } as const;
type ScriptName = keyof typeof SCRIPTS;

/** A roster store on Redis for a {@link PresenceHub} on each of several nodes. */
export class RedisRosterStore implements SharedRosterStore {
  /** This node's id. */
  readonly nodeId: string;
  private readonly options: ResolvedRosterOptions;
  private readonly redis: RedisClient;
  private readonly scripts: Record<ScriptName, Script>;
  private readonly listeners = new Set<(event: RosterEvent) => void>();
  /** What this node owns: space → member → state, written again to a Redis that lost it. */
  private readonly owned = new Map<string, Map<string, StateRecord>>();
  /** Claims sent and not yet answered (`space\nmember` → count): each will win over any earlier owner. */
  private readonly claiming = new Map<string, number>();
  private subscriber: RedisClient | undefined;
  private timer: unknown;
  private closed = false;
  /** A call failed since the last restore: Redis may lack what this node wrote meanwhile. */
  private dirty = false;
  private graceMs: number;
  /** A heartbeat has registered this node (a later beat that finds it gone means Redis lost it). */
  private registered = false;
  /** When the keys of this node's spaces were last given `keyTtlMs` again. */
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private readonly counts = { calls: 0, failures: 0, events: 0, malformed: 0, reaped: 0, restores: 0 };

  /** @throws see {@link resolveRosterOptions}. */
  constructor(options: RedisRosterStoreOptions) {
    this.options = resolveRosterOptions(options);
    this.nodeId = this.options.nodeId;
    this.redis = this.options.redis;
    this.graceMs = this.options.graceMs ?? REDIS_ROSTER_DEFAULTS.graceMs;
    const commands = this.redis as unknown as Record<string, Script>;
    const scripts: Partial<Record<ScriptName, Script>> = {};
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      const command = `rrRoster${name}`;
      if (typeof commands[command] !== "function") {
        this.redis.defineCommand(command, { numberOfKeys: 0, lua: SCRIPTS[name] });
      }
      scripts[name] = (...args) =>
        (commands[command] as Script).call(this.redis, this.options.prefix, ...args);
    }
    this.scripts = scripts as Record<ScriptName, Script>;
    this.schedule(0);
  }

  head(space: string): Promise<RosterHead> {
    return this.read(space, undefined, false).then((read) => read.head);
  }

  async member(space: string, id: string): Promise<StateRecord | undefined> {
    const text = await this.call(() => this.redis.hget(this.key(space, "m"), id));
    return text === null ? undefined : (JSON.parse(text) as StateRecord);
  }

  async members(space: string): Promise<Iterable<readonly [string, StateRecord]>> {
    const all = await this.call(() => this.redis.hgetall(this.key(space, "m")));
    return Object.entries(all).map(([id, text]) => [id, JSON.parse(text) as StateRecord] as const);
  }

  size(space: string): Promise<number> {
    return this.call(() => this.redis.hlen(this.key(space, "m")));
  }

  async apply(
    space: string,
    change: PresenceChange,
    options: ApplyOptions = {},
  ): Promise<number | undefined> {
    const id = change.id;
    let next: StateRecord | undefined;
    let logged = change;
    if (change.op === "join") next = options.state ?? change.state;
    else if (change.op === "update") {
      // The hub sends an update's slices as the client did; the owner knows the member's state and merges.
      const before = this.owned.get(space)?.get(id) ?? (await this.member(space, id));
      if (before === undefined) return undefined;
      const patch = statePatch(before, change.state, false);
      if (patch === undefined) return 0;
      next = withMerged([[id, before]], new Map([[id, patch]])).get(id);
      logged = { op: "update", id, state: patch };
    }
    const state = next === undefined ? "" : JSON.stringify(next);
    if (state.length > this.options.maxStateBytes) {
      throw new RosterRefusal(
        "state-too-large",
        `redisRosterStore: a member's state is ${state.length} bytes, over maxStateBytes (${this.options.maxStateBytes})`,
      );
    }
    // Recorded before Redis is asked: if Redis is unreachable, the node still knows what to write again.
    this.remember(space, id, next, options.claim === true);
    const o = this.options;
    const entry = `${space}\n${id}`;
    if (options.claim === true) this.claiming.set(entry, (this.claiming.get(entry) ?? 0) + 1);
    const result = await this.call(() =>
      this.scripts.APPLY(
        space,
        change.op,
        id,
        state,
        JSON.stringify(logged),
        this.nodeId,
        options.claim === true ? "1" : "0",
        this.epochSeed(),
        o.keyTtlMs,
        o.maxLogEntries,
        o.maxMembersPerSpace,
      ),
    )
      .catch((error: unknown) => {
        if (error instanceof Error && error.message.includes("space-full")) {
          this.remember(space, id, undefined, false);
          throw new RosterRefusal("space-full", `redisRosterStore: ${space} has maxMembersPerSpace members`);
        }
        throw error;
      })
      .finally(() => {
        if (options.claim !== true) return;
        const left = (this.claiming.get(entry) ?? 1) - 1;
        if (left > 0) this.claiming.set(entry, left);
        else this.claiming.delete(entry);
      });
    const rev = Array.isArray(result) ? Number(result[0]) : Number.NaN;
    if (rev >= 0) return rev;
    this.remember(space, id, undefined, false);
    return undefined;
  }

  async changesSince(space: string, rev: number): Promise<readonly PresenceChange[] | undefined> {
    const { head } = await this.read(space, undefined, false);
    return (await this.read(space, { epoch: head.epoch, rev }, false)).changes;
  }

  /** Nothing to forget: a roster's keys go when its last member leaves (or expire). */
  drop(_space: string): void {}

  async owner(space: string, member: string): Promise<string | undefined> {
    const owner = await this.call(() => this.scripts.OWNER(space, member));
    return typeof owner === "string" ? owner : undefined;
  }

  async read(space: string, since: RosterHead | undefined, members: boolean): Promise<RosterRead> {
    const o = this.options;
    const reply = await this.call(() =>
      this.scripts.READ(
        space,
        this.epochSeed(),
        since?.epoch ?? "",
        since?.rev ?? 0,
        members ? "1" : "0",
        o.keyTtlMs,
      ),
    );
    if (!Array.isArray(reply) || reply.length < 3) throw new Error("redisRosterStore: unexpected read reply");
    const head = { epoch: String(reply[0]), rev: Number(reply[1]) };
    const rest = reply.slice(3).map(String);
    if (reply[2] === "c") return { head, changes: rest.map((text) => JSON.parse(text) as PresenceChange) };
    if (reply[2] !== "m") return { head };
    const list: (readonly [string, StateRecord])[] = [];
    for (let i = 0; i + 1 < rest.length; i += 2) list.push([rest[i] ?? "", JSON.parse(rest[i + 1] ?? "{}")]);
    return { head, members: list };
  }

  watch(listener: (event: RosterEvent) => void, options: WatchOptions): () => void {
    if (this.options.graceMs === undefined) this.graceMs = options.graceMs;
    this.listeners.add(listener);
    this.listen();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Counters, for dashboards and tests. */
  stats(): RedisRosterStats {
    let owned = 0;
    for (const members of this.owned.values()) owned += members.size;
    return { nodeId: this.nodeId, ...this.counts, owned };
  }

  /**
   * Stops the heartbeat and the listening connection. With `goodbye` (default true) the node's ownership
   * ends now, so its members leave everywhere after the grace period unless they reconnect to another node
   * first (a deploy); without it they leave after `ownershipTtlMs` + the grace period, as for a crash.
   * Never rejects; the application's own client is left open.
   */
  async close(options: { goodbye?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer as never);
    this.listeners.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    subscriber?.disconnect();
    if (options.goodbye !== false) await this.call(() => this.scripts.GOODBYE(this.nodeId)).catch(() => {});
  }

  private key(space: string, part: string): string {
    return `${this.options.prefix}p:${space}:${part}`;
  }

  private epochSeed(): string {
    return `${Math.floor(this.options.random() * 2 ** 48).toString(36)}-${this.nodeId}`;
  }

  /** Keeps the local record of what this node owns in step with a change it makes. */
  private remember(space: string, member: string, state: StateRecord | undefined, claim: boolean): void {
    let members = this.owned.get(space);
    if (state === undefined) {
      members?.delete(member);
      if (members?.size === 0) this.owned.delete(space);
      return;
    }
    if (!claim && members?.has(member) !== true) return;
    if (members === undefined) {
      members = new Map();
      this.owned.set(space, members);
    }
    members.set(member, state);
  }

  /** One Redis call, bounded by `commandTimeoutMs`; a failure marks the store dirty (restored when back). */
  private call<T>(run: () => Promise<T>): Promise<T> {
    this.counts.calls++;
    const { clock, commandTimeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      const fail = (error: unknown) => {
        this.counts.failures++;
        this.dirty = true;
        reject(error);
      };
      const timer = clock.setTimeout(
        () => fail(new Error(`redisRosterStore: Redis did not answer within ${commandTimeoutMs} ms`)),
        commandTimeoutMs,
      );
      (timer as { unref?: () => void }).unref?.();
      let promise: Promise<T>;
      try {
        promise = run();
      } catch (error) {
        clock.clearTimeout(timer);
        fail(error);
        return;
      }
      promise.then(
        (value) => {
          clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clock.clearTimeout(timer);
          fail(error);
        },
      );
    });
  }

  private listen(): void {
    if (this.subscriber !== undefined || this.closed) return;
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    const channel = `${this.options.prefix}presence`;
    let lost = false;
    // An 'error' with no listener would crash the process; the store reports through stats instead.
    subscriber.on("error", () => {
      this.counts.failures++;
    });
    subscriber.on("close", () => {
      lost = true;
    });
    subscriber.on("ready", () => {
      if (!lost) return;
      lost = false;
      void this.recover();
    });
    subscriber.on("message", (from: string, text: string) => {
      if (from !== channel) return;
      const event = parseRosterMessage(text);
      if (event === undefined) {
        this.counts.malformed++;
        return;
      }
      this.counts.events++;
      this.observe(event);
      this.emit(event);
    });
    subscriber.subscribe(channel).catch(() => {
      this.counts.failures++;
    });
  }

  /** Another node took over a member this node owned: it is not this node's to write again. */
  private observe(event: RosterEvent): void {
    if (event.type === "reset") return;
    const owner = event.type === "owner" ? event.owner : event.owner;
    const member = event.type === "owner" ? event.member : event.change.id;
    // A claim of ours still on its way runs after this event on Redis, and wins: the member stays ours.
    if (this.claiming.has(`${event.space}\n${member}`)) return;
    if (owner !== undefined && owner !== this.nodeId) this.remember(event.space, member, undefined, false);
  }

  private emit(event: RosterEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A hub's failure is its own; the other listeners still hear the event.
      }
    }
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    const timer = this.options.clock.setTimeout(() => {
      void this.tick().finally(() => this.schedule(this.options.heartbeatMs));
    }, delay);
    (timer as { unref?: () => void }).unref?.();
    this.timer = timer;
  }

  /** Heartbeat, then reap: renews this node's ownership and removes the members of nodes dead past grace. */
  private async tick(): Promise<void> {
    const o = this.options;
    try {
      // The keys of spaces this node has members in are given their TTL again a few times per TTL, not per beat.
      const now = o.clock.now();
      const refresh = now - this.refreshedAt >= o.keyTtlMs / 4 ? [...this.owned.keys()] : [];
      const added = await this.call(() =>
        this.scripts.BEAT(this.nodeId, o.ownershipTtlMs, o.keyTtlMs, ...refresh),
      );
      if (refresh.length > 0) this.refreshedAt = now;
      // Not registered although it beat before: Redis restarted empty, or this node was reaped meanwhile.
      const lost = added === 1 && this.registered && this.owned.size > 0;
      this.registered = true;
      if (lost || this.dirty) await this.recover();
      for (let round = 0; round < 16 && !this.closed; round++) {
        const left = Number(
          await this.call(() => this.scripts.REAP(this.graceMs, o.keyTtlMs, o.maxLogEntries, o.reapBatch)),
        );
        this.counts.reaped += left;
        if (left < o.reapBatch) break;
      }
    } catch {
      // Redis unreachable: the next heartbeat tries again (and restores what this node owns once it answers).
    }
  }

  /** Writes this node's members again (Redis restarted, the node was reaped, calls failed), then resets hubs. */
  private async recover(): Promise<void> {
    if (this.closed) return;
    this.dirty = false;
    const args: string[] = [];
    const sent = new Map<string, StateRecord>();
    for (const [space, members] of this.owned) {
      for (const [member, state] of members) {
        args.push(space, member, JSON.stringify(state));
        sent.set(`${space}\n${member}`, state);
      }
    }
    const o = this.options;
    try {
      const lost = await this.call(() =>
        this.scripts.RESTORE(
          this.nodeId,
          this.epochSeed(),
          o.keyTtlMs,
          o.maxLogEntries,
          o.maxMembersPerSpace,
          ...args,
        ),
      );
      this.counts.restores++;
      for (const entry of Array.isArray(lost) ? lost.map(String) : []) {
        const cut = entry.indexOf("\n");
        const [space, member] = [entry.slice(0, cut), entry.slice(cut + 1)];
        // Claimed again here while the restore ran (a sync since, or one on its way): that claim is newer.
        if (this.claiming.has(entry) || this.owned.get(space)?.get(member) !== sent.get(entry)) continue;
        this.remember(space, member, undefined, false);
      }
    } catch {
      this.dirty = true;
      return;
    }
    this.emit({ type: "reset" });
  }
}

/**
 * A roster store on Redis for a {@link PresenceHub} on each node (see {@link RedisRosterStore}).
 * @example
 * const redis = new Redis(process.env.REDIS_URL);
 * const hub = new PresenceHub({ store: redisRosterStore({ redis }) });
 * @throws TypeError/RangeError naming the option (see {@link RedisRosterStoreOptions}).
 */
export function redisRosterStore(options: RedisRosterStoreOptions): RedisRosterStore {
  return new RedisRosterStore(options);
}
