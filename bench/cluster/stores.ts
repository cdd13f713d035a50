/**
 * The stores a cluster node runs on. `memory`: today's defaults, nothing shared (each node holds its own
 * rosters and admits its own `capacity` per second) — the "before" row. `redis`: the roster on Redis
 * (`redisRosterStore`, fan-out to every node) and one admission schedule for the cluster (`redisAdmission`
 * at `capacity × nodes` per second, whichever node is asked), from `resilient-reconnect/server/redis`.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { Redis } from "ioredis";
import type { WebSocketServer } from "ws";
import { wsAdmission } from "../../src/server/index.js";
import type { RosterStore } from "../../src/server/presence/index.js";
import { redisAdmission, redisRosterStore } from "../../src/server/redis/index.js";

export interface NodeSetup {
  readonly capacity: number;
  readonly nodes: number;
  readonly nodeId: string;
  readonly heartbeatMs: number;
  readonly redisUrl: string | undefined;
  readonly wss: WebSocketServer;
  readonly key: (request: IncomingMessage) => string | undefined;
}

export interface ClusterStores {
  /** The hub's roster store; undefined = the hub's in-memory default. */
  readonly store: RosterStore | undefined;
  /** The upgrade handler. */
  readonly admission: (request: IncomingMessage, socket: Duplex, head: Buffer) => unknown;
  /** Round trips this node has made to Redis so far (scripts and commands, one each). */
  redisCalls(): number;
}

export function clusterStores(kind: "memory" | "redis", setup: NodeSetup): ClusterStores {
  const { wss, key } = setup;
  if (kind === "memory") {
    // Refusals cost what they cost on this machine; not also a modelled cost (as in bench/live).
    const admission = wsAdmission({ ratePerSecond: setup.capacity, refusalCost: 0, wss, key });
    return { store: undefined, admission, redisCalls: () => 0 };
  }
  if (setup.redisUrl === undefined) throw new TypeError("--redis-url is required with --store redis");
  const redis = new Redis(setup.redisUrl);
  redis.on("error", () => {});
  const schedule = redisAdmission({
    redis,
    ratePerSecond: setup.capacity * setup.nodes,
    nodes: setup.nodes,
    refusalCost: 0,
  });
  const store = redisRosterStore({ redis, nodeId: setup.nodeId, heartbeatMs: setup.heartbeatMs });
  return {
    store,
    admission: wsAdmission({ wss, schedule, key }),
    redisCalls: () => store.stats().calls + schedule.stats.shared,
  };
}
