/**
 * The cluster's nodes and their admission: M storm-lab {@link ServerModel}s, each physically doing
 * `headroom` × C_node of work per second, in front of which sits either its own admission controller at
 * C_node (`per-node`) or the one shared schedule at C_total (`shared`), plus the connect-time budget each
 * node announces on every admit.
 */
import { AdmissionController, type AdmissionOptions } from "../../../src/server/admission.js";
import { type ReconnectBudget, reconnectBudget } from "../../../src/server/budget.js";
import { type AdmissionSetup, ServerModel } from "../server-model.js";
import { type AdmissionMode, type ClusterConfig, totalCapacity } from "./config.js";

export interface ClusterNodes {
  readonly servers: ServerModel[];
  /** What node k announces to a client it admits. */
  readonly budgets: ReconnectBudget[];
  /** From an attempt to its answer (ms): the handshake, plus the Redis round trip of the shared schedule. */
  readonly answerDelayMs: number;
  /** The shared schedule (`shared` mode only). */
  readonly shared: AdmissionController | undefined;
}

/**
 * Where the budgets read the population from (the whole cluster's connected clients, or node k's) and the
 * lab's clock, from which each node serves its clients their slots.
 */
export interface Populations {
  cluster(): number;
  node(k: number): number;
  now(): number;
}

export function buildNodes(
  config: ClusterConfig,
  mode: AdmissionMode,
  horizonMs: number,
  populations: Populations,
): ClusterNodes {
  const { nodes: m, nodeCapacity } = config;
  const cTotal = totalCapacity(config);
  const isShared = mode === "shared";
  // Per node: its own clients at its own rate. Shared: the cluster's clients at C_total (the shared
  // schedule knows the cluster's population, as the Redis roster does).
  const budgets: ReconnectBudget[] = Array.from({ length: m }, (_, k) =>
    isShared
      ? reconnectBudget({
          population: config.budgetScope === "node" ? () => populations.node(k) : () => populations.cluster(),
          ratePerSecond: cTotal,
          clock: populations,
        })
      : reconnectBudget({
          population: () => populations.node(k),
          ratePerSecond: nodeCapacity,
          clock: populations,
        }),
  );
  // As in the single-server lab, appointments are booked at least one budget window ahead.
  const bookAhead = (k: number) => Math.max(60_000, (budgets[k] as ReconnectBudget).payload().windowMs);
  const shared = isShared
    ? new AdmissionController(
        { ratePerSecond: cTotal, refusalCost: config.refusalCost, maxBookAheadMs: bookAhead(0) },
        0,
      )
    : undefined;
  const setupFor = (k: number): AdmissionSetup => {
    const options: Omit<AdmissionOptions, "ratePerSecond"> = {
      refusalCost: config.refusalCost,
      maxBookAheadMs: bookAhead(k),
    };
    // Per node: a fresh controller at C_node whatever rate the node model passes (a restarted process forgets
    // its book); shared: the one schedule (Redis outlives a node).
    const create =
      shared === undefined
        ? (_: AdmissionOptions, nowMs: number) =>
            new AdmissionController({ ...options, ratePerSecond: nodeCapacity }, nowMs)
        : () => shared;
    return { options, create };
  };
  const params = {
    capacity: config.headroom * nodeCapacity,
    refusalCost: config.refusalCost,
    crashFactor: config.crashFactor,
    crashAfterMs: config.crashAfterMs,
  };
  return {
    servers: Array.from({ length: m }, (_, k) => new ServerModel(params, true, horizonMs, setupFor(k))),
    budgets,
    answerDelayMs: config.rttMs + (isShared ? config.redisRttMs : 0),
    shared,
  };
}
