/**
 * The processes of one cluster run and how to talk to them: a real redis-server, M node processes, one
 * population process, and Redis's own counters (INFO commandstats, INFO memory).
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { Redis } from "ioredis";
import { type RedisServer, startRedis } from "../../test/helpers/redis-server.js";

const here = import.meta.dirname;

export function spawnScript(script: string, args: string[]): ChildProcess {
  return fork(join(here, script), args, {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/** The next IPC message of `type` from `child` (after sending `request`, when given). */
export function ask<T>(child: ChildProcess, type: string, request?: object, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off("message", onMessage);
      reject(new Error(`no "${type}" from ${child.spawnargs.at(-1)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: { type?: string }) => {
      if (message?.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
    if (request !== undefined) child.send(request);
  });
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

export interface Progress {
  synced: number;
  perNode: Record<string, number>;
}

/** Follows the population's progress reports until `done` holds or the time runs out. */
export function watch(
  population: ChildProcess,
  done: (p: Progress) => boolean,
  timeoutMs: number,
): Promise<{ reached: boolean; elapsedMs: number; samples: [number, Progress][] }> {
  const start = Date.now();
  const samples: [number, Progress][] = [];
  return new Promise((resolve) => {
    const finish = (reached: boolean) => {
      clearTimeout(timer);
      population.off("message", onMessage);
      resolve({ reached, elapsedMs: Date.now() - start, samples });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onMessage = (message: { type?: string } & Progress) => {
      if (message?.type !== "progress") return;
      samples.push([Date.now() - start, { synced: message.synced, perNode: message.perNode }]);
      if (done(message)) finish(true);
    };
    population.on("message", onMessage);
  });
}

/** Redis's counters, read through a connection of our own (its INFO calls are not counted). */
export class RedisMeter {
  private constructor(
    readonly server: RedisServer,
    private readonly client: Redis,
  ) {}

  static async start(): Promise<RedisMeter> {
    const server = await startRedis();
    const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    return new RedisMeter(server, client);
  }

  private async info(section: string): Promise<Map<string, string>> {
    const text = await this.client.info(section);
    const fields = new Map<string, string>();
    for (const line of text.split("\r\n")) {
      const at = line.indexOf(":");
      if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
    }
    return fields;
  }

  /** Commands Redis has run so far, INFO (this meter's own) left out. */
  async commands(): Promise<{ total: number; byCommand: Record<string, number> }> {
    const byCommand: Record<string, number> = {};
    let total = 0;
    for (const [key, value] of await this.info("commandstats")) {
      const name = key.replace(/^cmdstat_/, "");
      if (name === "info") continue;
      const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
      byCommand[name] = calls;
      total += calls;
    }
    return { total, byCommand };
  }

  /** `used_memory` in bytes. */
  async usedMemory(): Promise<number> {
    return Number((await this.info("memory")).get("used_memory") ?? 0);
  }

  /**
   * Bytes of the keys under `prefix` (MEMORY USAGE, every element counted), grouped: `roster` (`rr:p:…` and
   * `rr:pn…`, the presence rosters and their ownership), `admission` (`rr:adm…`, the shared schedule), `other`.
   */
  async keyBytes(prefix = "rr:"): Promise<Record<"roster" | "admission" | "other", number>> {
    const bytes = { roster: 0, admission: 0, other: 0 };
    let cursor = "0";
    do {
      const [next, keys] = await this.client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      for (const key of keys) {
        const used = Number((await this.client.call("MEMORY", "USAGE", key, "SAMPLES", "0")) ?? 0);
        const rest = key.slice(prefix.length);
        // `p:<space>:…` per space, `pn` / `pn:<node>` the nodes' ownership indexes: all of it is presence.
        if (rest.startsWith("p:") || rest.startsWith("pn")) bytes.roster += used;
        else if (rest.startsWith("adm")) bytes.admission += used;
        else bytes.other += used;
      }
    } while (cursor !== "0");
    return bytes;
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    await this.server.stop();
  }
}

/** What the nodes' rosters say against who is really there. */
export interface Convergence {
  /** Members in a surviving node's roster who are connected nowhere, summed over nodes. */
  phantom: number;
  /** Connected members absent from a surviving node's roster, summed over nodes. */
  missing: number;
  /** Every surviving node holds the same member set in every space. */
  rostersEqual: boolean;
  /** Share of (node, connected member) pairs the node sees: 1 = every node sees everyone. */
  seenShare: number;
}

export function convergence(
  truth: readonly { member: string; space: string }[],
  rosters: readonly Record<string, string[]>[],
): Convergence {
  const bySpace = new Map<string, Set<string>>();
  for (const { member, space } of truth) {
    const set = bySpace.get(space) ?? new Set<string>();
    bySpace.set(space, set);
    set.add(member);
  }
  let phantom = 0;
  let missing = 0;
  let seen = 0;
  let rostersEqual = true;
  const spaces = new Set([...bySpace.keys(), ...rosters.flatMap((r) => Object.keys(r))]);
  for (const space of spaces) {
    const real = bySpace.get(space) ?? new Set<string>();
    const key = (members: string[] | undefined) => [...(members ?? [])].sort().join(",");
    const first = key(rosters[0]?.[space]);
    for (const roster of rosters) {
      const members = new Set(roster[space] ?? []);
      if (key(roster[space]) !== first) rostersEqual = false;
      for (const m of members) if (!real.has(m)) phantom++;
      for (const m of real) {
        if (members.has(m)) seen++;
        else missing++;
      }
    }
  }
  const pairs = truth.length * rosters.length;
  return { phantom, missing, rostersEqual, seenShare: pairs === 0 ? 1 : seen / pairs };
}

/** The p-th percentile (0..100) of `values`, nearest rank; null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
