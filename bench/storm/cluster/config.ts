/**
 * The cluster model's inputs and scenarios: M nodes behind a balancer, each admitting C_node logins per
 * second, one million clients by default. Every number has a default here and a flag in `./cli.ts`.
 *
 * A node is the storm lab's {@link ServerModel} (`../server-model.ts`), unchanged: a token bucket of work,
 * refusals that cost r of an admit, a crash when its offered load stays over `crashFactor` × its work rate
 * for `crashAfterMs`, a restart `restartMs` later with everyone on it dropped. What is new is the split of
 * two rates that are one number in the single-server lab:
 * - C_node, the admission rate an operator configures per node (what per-node admission admits);
 * - the node's physical work rate, `headroom` × C_node: the rate it can do flat out. An operator sets the
 *   admission rate under what the node can do; the shared schedule, which admits C_total = M × C_node for the
 *   whole cluster wherever the balancer sends the herd, spends that margin on the nodes the balancer favours.
 *   No schedule can bring a node's clients back faster than its physical rate, so under a sticky balancer
 *   the floor of any scheme is max over nodes of (its clients) / (headroom × C_node).
 */

export const CLUSTER_SCENARIOS = ["mass-drop", "node-killed", "restart"] as const;
export type ClusterScenarioName = (typeof CLUSTER_SCENARIOS)[number];

export const ADMISSION_MODES = ["per-node", "shared"] as const;
/**
 * - `per-node`: each node runs the library's own AdmissionController at C_node and announces its own
 *   connect-time budget (its own clients / C_node), knowing nothing of the other nodes;
 * - `shared`: one schedule for the cluster — one AdmissionController at C_total = M × C_node that every node
 *   asks, so refused clients get slots in one global order (an idealised shared counter: decisions in arrival
 *   order on one clock, each answer `redisRttMs` later than a node's own), and a cluster-wide budget (all
 *   clients / C_total).
 */
export type AdmissionMode = (typeof ADMISSION_MODES)[number];

export interface ClusterConfig {
  /** N: simulated clients, all connected and stable before t = 0. */
  readonly clients: number;
  /** M: server nodes. */
  readonly nodes: number;
  /** C_node: logins per second each node's admission is configured for. */
  readonly nodeCapacity: number;
  /** A node's physical work rate over C_node (≥ 1). */
  readonly headroom: number;
  readonly seed: number;
  /** r: cost of a refusal as a share of an admit. */
  readonly refusalCost: number;
  /** A node crashes when its offered load exceeds this × its work rate… */
  readonly crashFactor: number;
  /** …for this long (ms). */
  readonly crashAfterMs: number;
  /** A crashed node restarts after this long (ms). */
  readonly restartMs: number;
  /** Client–node handshake round trip (ms). */
  readonly rttMs: number;
  /** The shared schedule's round trip to Redis (ms), added to every answer in `shared` mode. */
  readonly redisRttMs: number;
  /** `restart`: how long every node is down (ms). */
  readonly outageMs: number;
  /**
   * Whose clients the shared schedule's budget window counts: the whole cluster's (`cluster`, N / C_total:
   * a whole-cluster drop arrives at C_total) or the announcing node's own (`node`, its clients / C_total: a
   * lone node's herd comes back at C_total, a whole-cluster drop arrives M times faster and is scheduled by
   * refusals). Per-node admission always announces its own clients / C_node.
   */
  readonly budgetScope: "cluster" | "node";
}

export const CLUSTER_DEFAULTS: ClusterConfig = {
  clients: 1_000_000,
  nodes: 10,
  nodeCapacity: 1000,
  headroom: 2,
  seed: 1,
  refusalCost: 0.25,
  crashFactor: 3,
  crashAfterMs: 3000,
  restartMs: 30_000,
  rttMs: 100,
  redisRttMs: 2,
  outageMs: 30_000,
  budgetScope: "cluster",
};

/** Balancers run by default: even, the incident's skew within a node's headroom, and a skew beyond it. */
export const DEFAULT_BALANCERS = ["round-robin", "sticky:3:0.55", "sticky:2:0.7"] as const;

export type ClusterAction =
  /** Every open connection ends (a network blip, the balancer resetting); every node stays up. */
  | { readonly atMs: number; readonly kind: "drop-all" }
  /** The node goes down (its clients are dropped) and stays down until an `up` (or for good). */
  | { readonly atMs: number; readonly kind: "down"; readonly node: number | "all" }
  | { readonly atMs: number; readonly kind: "up"; readonly node: number | "all" };

export interface ClusterScenario {
  readonly name: ClusterScenarioName;
  readonly description: string;
  readonly actions: readonly ClusterAction[];
  /** Recovery is measured from here (ms): when the cluster can take the herd. */
  readonly originMs: number;
  /** The run stops here even when not everyone is back (ms). */
  readonly horizonMs: number;
}

/** C_total = M × C_node: what the cluster admits per second, configured. */
export const totalCapacity = (config: ClusterConfig): number => config.nodes * config.nodeCapacity;

export function clusterScenario(name: ClusterScenarioName, config: ClusterConfig): ClusterScenario {
  const physicalMs = (1000 * config.clients) / totalCapacity(config);
  // Long enough for a scheme three times slower than the physical limit to finish, and then some.
  const horizon = (originMs: number) => Math.ceil(originMs + 5 * physicalMs + 60_000);
  switch (name) {
    case "mass-drop":
      return {
        name,
        description: "every connection drops at t = 0 (a network blip); every node stays up",
        actions: [{ atMs: 0, kind: "drop-all" }],
        originMs: 0,
        horizonMs: horizon(0),
      };
    case "node-killed":
      return {
        name,
        description:
          "node 0 (a hot node under a sticky balancer) is killed at t = 0 and stays down; its clients " +
          "redistribute over the others",
        actions: [{ atMs: 0, kind: "down", node: 0 }],
        originMs: 0,
        horizonMs: horizon(0),
      };
    case "restart":
      return {
        name,
        description:
          `every node goes down at t = 0 and comes back ${config.outageMs / 1000} s later (the incident's ` +
          "restart of all nodes); attempts meanwhile are refused by the balancer; recovery from the return",
        actions: [
          { atMs: 0, kind: "down", node: "all" },
          { atMs: config.outageMs, kind: "up", node: "all" },
        ],
        originMs: config.outageMs,
        horizonMs: horizon(config.outageMs),
      };
  }
}
