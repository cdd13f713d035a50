/**
 * One admission schedule for every node: {@link redisAdmission} decides each arrival with one atomic Lua
 * script on Redis (one round trip, `EVALSHA`), at Redis's clock, so N nodes together admit `ratePerSecond`
 * and a refused client's slot is its place in one global order — whichever node it asked and whichever it
 * asks next. Per-key fairness holds across nodes: a key's records (its booked slots and pace) live in Redis
 * too, so a client that comes back early on another node is booked its key's next slot there as well.
 *
 * Why a schedule passed to the adapters (`wsAdmission({ wss, schedule })`) rather than a Redis flag on
 * them: the adapters stay free of any Redis import (the `resilient-reconnect/server` entry never needs
 * ioredis), the same schedule object can serve a `ws` path and a Socket.IO namespace in one process, and any
 * other shared store can implement {@link AdmissionSchedule}.
 *
 * When Redis does not answer within `commandTimeoutMs` (down, paused, a network cut) the node decides
 * alone on an in-memory {@link AdmissionController} at its share of the rate, `ratePerSecond / nodes`
 * (`nodes`: how many nodes you run, an option rather than a measured count — a node cut from Redis cannot
 * measure anything, and the operator knows the deployment's size), and asks Redis again `retryMs` later,
 * one probe at a time, so a Redis that hangs costs one timeout per `retryMs`, not one per upgrade. While
 * all nodes are in fallback they admit about `ratePerSecond` together.
 * @see https://redis.io/docs/latest/develop/interact/programmability/eval-intro/
 */

import { createHash } from "node:crypto";
import { type Clock, systemClock, type TimerHandle } from "../../env.js";
import { badOption, numberOption, rejectUnknown } from "../../options-check.js";
import {
  ADMISSION_KEYS,
  AdmissionController,
  type AdmissionDecision,
  type AdmissionOptions,
  type ResolvedAdmissionOptions,
  resolveAdmissionOptions,
} from "../admission.js";
import { MAX_KEY_LENGTH } from "../admission-keys.js";
import type { AdmissionSchedule } from "../admission-schedule.js";
import { ADMISSION_SCRIPT } from "./admission-script.js";
import { checkRedisClient, checkRedisPrefix, type RedisClient } from "./client.js";

/** Options of {@link redisAdmission}: the admission's own (`ratePerSecond` is the cluster's total) and these. */
export interface RedisAdmissionOptions extends AdmissionOptions {
  /** The ioredis client (the application's; the schedule never closes it). */
  redis: RedisClient;
  /** Prefix of every key written. Default `rr:`. Use a hash tag (`{rr}:`) on Redis Cluster. */
  prefix?: string;
  /**
   * How many nodes share the rate (an integer ≥ 1). Required: a node cut from Redis admits
   * `ratePerSecond / nodes` (and a burst of `burst / nodes`, at least 1, and a budget population of
   * `budgetPopulation / nodes`) on its own until Redis answers.
   */
  nodes: number;
  /** How long one decision waits for Redis before deciding locally (ms). Default 200. */
  commandTimeoutMs?: number;
  /** After Redis failed, how long decisions stay local before one asks Redis again (ms). Default 1,000. */
  retryMs?: number;
  /** The node's clock, for the fallback controller and the timeouts. Default: the system clock. */
  clock?: Clock;
  /**
   * The time the script decides at, instead of Redis's `TIME`. Only for tests that compare the script with
   * {@link AdmissionController} step by step: nodes with different clocks would not share one schedule.
   */
  decideAt?: () => number;
}

/** What the shared schedule answers: the decision, plus where a refusal sits in the global order. */
export type RedisAdmissionDecision = AdmissionDecision & {
  /** Redis time (ms) of the slot a refusal booked; absent for an admission, an unbooked or a local decision. */
  readonly slotAtMs?: number;
  /** True when Redis did not answer and the node decided on its own share of the rate. */
  readonly local?: boolean;
};

/** A shared admission schedule on Redis: pass it to `wsAdmission` or `socketIoAdmission` as `schedule`. */
export interface RedisAdmission extends AdmissionSchedule {
  decide(key?: string, cost?: number): Promise<RedisAdmissionDecision>;
  /** `"shared"` while Redis answers, `"local"` after it failed (until a probe succeeds). */
  readonly mode: "shared" | "local";
  /** Decisions made on Redis, and locally because Redis did not answer. */
  readonly stats: RedisAdmissionStats;
  /** The resolved admission options (the cluster's totals). */
  readonly options: ResolvedAdmissionOptions;
  /** The controller deciding while Redis is unreachable (its rate is the node's share). */
  readonly fallback: AdmissionController;
}

/** What one node's {@link RedisAdmission} decided since it was created. */
export interface RedisAdmissionStats {
  /** Arrivals admitted (on Redis or locally). */
  readonly admitted: number;
  /** Arrivals refused (on Redis or locally). */
  readonly refused: number;
  /** Decisions Redis made (one round trip each). */
  readonly shared: number;
  /** Decisions made on the node's share of the rate because Redis did not answer. */
  readonly local: number;
}

const COMMAND = "rrAdmissionDecide";

/** The option names of {@link redisAdmission}: the admission options and its own. */
const REDIS_ADMISSION_KEYS = [
  ...ADMISSION_KEYS,
  "redis",
  "prefix",
  "nodes",
  "commandTimeoutMs",
  "retryMs",
  "clock",
  "decideAt",
];

type ScriptReply = [number, string, string, number, string, string, number];
type Scripted = (...args: Array<string | number>) => Promise<ScriptReply>;

/** An integer option through the one option check; a missing required one (no fallback) is out of range. */
function integerAtLeast(name: string, value: unknown, min: number, fallback?: number): number {
  if (value === undefined && fallback === undefined)
    badOption("redisAdmission", name, `given (an integer >= ${min})`, value, true);
  return numberOption("redisAdmission", name, value, fallback ?? 0, { min, integer: true });
}

/**
 * The Redis name of a key's record: a SHA-1 of the key, so a 256-character key of any characters becomes 40
 * hex digits, and no key can reach into another part of the prefix's namespace.
 */
export function admissionKeyDigest(key: string): string {
  return createHash("sha1").update(key, "utf8").digest("hex");
}

/**
 * Creates the shared schedule.
 *
 * @example
 * const redis = new Redis(6379, "127.0.0.1", { enableOfflineQueue: false });
 * const schedule = redisAdmission({ redis, ratePerSecond: 500, nodes: 3 });
 * const admission = wsAdmission({ wss, schedule });
 * server.on("upgrade", (request, socket, head) => void admission(request, socket, head));
 * @throws RangeError naming the option (the admission options, `nodes`, `commandTimeoutMs`, `retryMs`);
 * TypeError for `redis`, `prefix`, `clock` or `decideAt` of the wrong type.
 */
export function redisAdmission(options: RedisAdmissionOptions): RedisAdmission {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`redisAdmission: options must be an object; got ${String(options)}`);
  }
  rejectUnknown("redisAdmission", options, REDIS_ADMISSION_KEYS);
  const redis = checkRedisClient("redisAdmission: redis", options.redis);
  const prefix = checkRedisPrefix("redisAdmission: prefix", options.prefix);
  const resolved = resolveAdmissionOptions(options, "redisAdmission", REDIS_ADMISSION_KEYS);
  const nodes = integerAtLeast("nodes", options.nodes, 1);
  const commandTimeoutMs = integerAtLeast("commandTimeoutMs", options.commandTimeoutMs, 1, 200);
  const retryMs = integerAtLeast("retryMs", options.retryMs, 0, 1_000);
  const clock = options.clock ?? systemClock;
  if (
    clock === null ||
    typeof clock !== "object" ||
    typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function" ||
    typeof clock.clearTimeout !== "function"
  ) {
    throw new TypeError(`redisAdmission: clock must have now(), setTimeout() and clearTimeout()`);
  }
  const { decideAt } = options;
  if (decideAt !== undefined && typeof decideAt !== "function") {
    throw new TypeError(`redisAdmission: decideAt must be a function returning ms; got ${String(decideAt)}`);
  }
  const fallback = new AdmissionController(
    {
      ...resolved,
      ratePerSecond: resolved.ratePerSecond / nodes,
      burst: Math.max(1, resolved.burst / nodes),
      keyBurst: Math.min(resolved.keyBurst, Math.max(1, resolved.burst / nodes)),
      // A node alone sees its share of the budget's herd too: N / rate stays what the shared schedule books by.
      budgetPopulation: resolved.budgetPopulation && resolved.budgetPopulation / nodes,
    },
    clock.now(),
  );
  redis.defineCommand(COMMAND, { numberOfKeys: 4, lua: ADMISSION_SCRIPT });
  const script = ((redis as unknown as Record<string, Scripted>)[COMMAND] as Scripted).bind(redis);
  const keys = { shared: `${prefix}adm:s`, set: `${prefix}adm:k`, overflow: `${prefix}adm:o` };
  const args = [
    resolved.ratePerSecond,
    resolved.burst,
    resolved.spreadMs,
    resolved.refusalCost,
    resolved.maxHintMs,
    resolved.maxBookAheadMs,
    resolved.keyBurst,
    resolved.maxKeys,
  ];
  const stats = { admitted: 0, refused: 0, shared: 0, local: 0 };
  let mode: "shared" | "local" = "shared";
  let retryAtMs = 0;
  let probing = false;

  const ask = (key: string | undefined, cost: number): Promise<ScriptReply> => {
    // A key the adapters would not keep (empty, too long, not a string) shares the overflow record, as in memory.
    const usable = typeof key === "string" && key.length > 0 && key.length <= MAX_KEY_LENGTH;
    const digest = usable ? admissionKeyDigest(key) : "";
    const record = usable ? `${keys.set}:${digest}` : keys.overflow;
    const keyed = key === undefined ? "0" : "1";
    const at = decideAt === undefined ? "" : String(decideAt());
    const member = usable ? digest : "~overflow";
    return new Promise<ScriptReply>((resolve, reject) => {
      let timer: TimerHandle | undefined = clock.setTimeout(() => {
        timer = undefined;
        reject(
          new Error(`redisAdmission: Redis did not answer in ${commandTimeoutMs} ms (commandTimeoutMs)`),
        );
      }, commandTimeoutMs);
      script(
        keys.shared,
        keys.set,
        record,
        keys.overflow,
        ...args,
        cost,
        keyed,
        member,
        at,
        `${keys.set}:`,
        resolved.budgetWindowMs ?? "",
        resolved.budgetPopulation ?? "",
      ).then(
        (reply) => {
          if (timer !== undefined) clock.clearTimeout(timer);
          resolve(reply);
        },
        (error: unknown) => {
          if (timer !== undefined) clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  };

  const local = (key: string | undefined, cost: number): RedisAdmissionDecision => {
    stats.local++;
    const decision = fallback.decide(clock.now(), key, Math.min(cost, fallback.options.burst));
    return decision.admit ? { admit: true, local: true } : { ...decision, local: true };
  };

  const count = (decision: RedisAdmissionDecision): RedisAdmissionDecision => {
    if (decision.admit) stats.admitted++;
    else stats.refused++;
    return decision;
  };

  const decide = async (key?: string, cost = 1): Promise<RedisAdmissionDecision> => {
    if (typeof cost !== "number" || !(cost > 0 && cost <= resolved.burst)) {
      throw new RangeError(
        `redisAdmission: cost must be a number > 0 and <= burst (${resolved.burst}); got ${String(cost)}`,
      );
    }
    if (mode === "local" && (probing || clock.now() < retryAtMs)) return count(local(key, cost));
    const probe = mode === "local";
    if (probe) probing = true;
    try {
      const [admit, retry, spread, cheap, slot] = await ask(key, cost);
      mode = "shared";
      stats.shared++;
      if (admit === 1) return count({ admit: true });
      const hint = { retryAfterMs: Number(retry), spreadMs: Number(spread) };
      const slotAtMs = Number(slot);
      return count({
        admit: false,
        hint,
        ...(cheap === 1 ? { cheap: true } : {}),
        ...(slotAtMs >= 0 ? { slotAtMs } : {}),
      });
    } catch {
      // Down, paused, cut off, or a script error: this node decides alone until Redis answers a probe.
      mode = "local";
      retryAtMs = clock.now() + retryMs;
      return count(local(key, cost));
    } finally {
      if (probe) probing = false;
    }
  };

  return {
    decide,
    get mode() {
      return mode;
    },
    stats,
    options: resolved,
    fallback,
  };
}
