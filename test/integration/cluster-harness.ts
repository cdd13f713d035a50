/**
 * Harness for the presence cluster tests: several hub nodes in one test process, each a real `ws` (or
 * Socket.IO) server on 127.0.0.1 with its own ioredis clients and `redisRosterStore`, all on one real
 * redis-server. A node can leave politely (`stop`) or die (`kill`: its Redis connections cut and its
 * sockets destroyed with no goodbye, its timers stopped — what a SIGKILL leaves behind).
 */
import { Redis } from "ioredis";
import type { AnySlice } from "../../src/presence/index.js";
import type { PresenceHubOptions } from "../../src/server/presence/index.js";
import {
  type RedisRosterStore,
  type RedisRosterStoreOptions,
  redisRosterStore,
} from "../../src/server/redis/index.js";
import { HubServer, type Kind, presenceClient, until } from "./presence-harness.js";

/** Fast timings so a dead node's members leave within a second. */
export const FAST = { heartbeatMs: 50, ownershipTtlMs: 200, graceMs: 300 } as const;

export class ClusterNode {
  readonly server: HubServer;
  readonly redis: Redis;
  readonly store: RedisRosterStore;

  constructor(
    port: number,
    readonly name: string,
    kind: Kind = "ws",
    store: Partial<RedisRosterStoreOptions> = {},
    hub: PresenceHubOptions = {},
  ) {
    // Fail fast while Redis is down (the store falls back; nothing queues for minutes).
    this.redis = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    this.redis.on("error", () => {});
    this.store = redisRosterStore({
      redis: this.redis,
      nodeId: name,
      prefix: "t:",
      heartbeatMs: FAST.heartbeatMs,
      ownershipTtlMs: FAST.ownershipTtlMs,
      commandTimeoutMs: 1_000,
      ...store,
    });
    this.server = new HubServer(kind, { store: this.store, graceMs: FAST.graceMs, batchMs: 10, ...hub });
  }

  get hub() {
    return this.server.hub;
  }

  listen(): Promise<void> {
    return this.server.listen();
  }

  /** A client of this node (its url is this node's for every attempt). */
  client(member: string, slices: readonly AnySlice[] = []) {
    return presenceClient(this.server, member, slices);
  }

  /** Dies without a goodbye: Redis connections cut, every socket destroyed, no more heartbeats. */
  async kill(): Promise<void> {
    await this.store.close({ goodbye: false });
    this.redis.disconnect();
    await this.server.stop();
  }

  /** Leaves politely (members leave after the grace period unless they reconnect elsewhere). */
  async stop(): Promise<void> {
    await this.server.stop();
    await this.store.close();
    this.redis.disconnect();
  }
}

/** Starts `count` nodes on the Redis at `port`. */
export async function startCluster(
  port: number,
  count: number,
  kind: Kind = "ws",
  store: Partial<RedisRosterStoreOptions> = {},
  hub: PresenceHubOptions = {},
): Promise<ClusterNode[]> {
  const nodes = Array.from({ length: count }, (_, i) => new ClusterNode(port, `node-${i}`, kind, store, hub));
  await Promise.all(nodes.map((node) => node.listen()));
  return nodes;
}

/** The member ids a client sees (itself included), sorted. */
export function seen(presence: {
  readonly member: string;
  readonly roster: ReadonlyMap<string, unknown>;
}): string[] {
  return [...new Set([presence.member, ...presence.roster.keys()])].sort();
}

/** Waits until every client sees exactly `members`. */
export async function converge(
  clients: readonly {
    readonly presence: { readonly member: string; readonly roster: ReadonlyMap<string, unknown> };
  }[],
  members: readonly string[],
  timeoutMs = 5_000,
): Promise<void> {
  const want = [...members].sort().join(",");
  await until(
    `every client to see ${want}`,
    () => clients.every(({ presence }) => seen(presence).join(",") === want),
    timeoutMs,
  );
}

/** Resolves once the async `check` holds, polling; rejects naming `what` after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
