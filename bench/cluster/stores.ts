/**
 * The stores a cluster node runs on. `memory`: today's defaults, nothing shared (each node holds its own
 * rosters and admits its own rate) — the "before" row. `redis`: the shared roster and admission schedule on
 * Redis, once those land (issue 14 items 2 and 3).
 */
import type { WsAdmissionOptions } from "../../src/server/index.js";
import type { PresenceHubOptions } from "../../src/server/presence/index.js";

export interface ClusterStores {
  /** Extra PresenceHub options (the roster store and what it needs). */
  readonly hub: Partial<PresenceHubOptions>;
  /** Extra wsAdmission options (the shared schedule). */
  readonly admission: Partial<WsAdmissionOptions>;
}

export async function clusterStores(
  kind: "memory" | "redis",
  redisUrl: string | undefined,
  _nodeId: string,
): Promise<ClusterStores> {
  if (kind === "memory") return { hub: {}, admission: {} };
  if (redisUrl === undefined) throw new TypeError("--redis-url is required with --store redis");
  throw new Error("--store redis: the Redis roster store and admission schedule are not merged yet");
}
