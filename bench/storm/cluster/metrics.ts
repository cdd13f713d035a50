/**
 * The figures of one cluster run: recovery times against N / C_total (the brief's yardstick) and against
 * the storm's own population over C_total, attempts per reconnecting client, crashes, and how the balancer
 * spread the attempts and the admissions over the nodes.
 */
import { type ClusterConfig, totalCapacity } from "./config.js";

/** The goal: T99 at most this many times N / C_total… */
export const GOAL_T99_OVER_NC = 1.15;

export interface ClusterResult {
  readonly scenario: string;
  readonly balancer: string;
  readonly admission: string;
  /** Clients the scenario disconnected (N for a mass drop, the killed node's clients for a kill). */
  readonly stormClients: number;
  /** Everyone back before the horizon. */
  readonly recovered: boolean;
  /** Seconds from the origin until 50 / 99 / 100 % of the storm's clients are back (null: never). */
  readonly t50S: number | null;
  readonly t99S: number | null;
  readonly t100S: number | null;
  /** T99 / (N / C_total). */
  readonly t99OverNC: number | null;
  /** T99 / (storm clients / C_total): what the cluster's configured rate allows for this herd. */
  readonly t99OverStorm: number | null;
  /** Attempts (every one, to live nodes or none) per storm client. */
  readonly attemptsPerClient: number;
  readonly crashes: number;
  readonly crashedNodes: readonly number[];
  /** Each node's share of the hash space (round-robin: 1 / M each). */
  readonly hashShares: readonly number[];
  /** Each node's measured share of the attempts. */
  readonly attemptShares: readonly number[];
  /** Per node: the busiest second's admits over C_node. */
  readonly peakAdmitsOverCNode: readonly number[];
  /** Per node: the highest offered load over one second (admits + r × refusals) over C_node. */
  readonly peakLoadOverCNode: readonly number[];
  /** T99 ≤ 1.15 × N / C_total and no node crashed. */
  readonly goalMet: boolean;
  readonly connectedAtEnd: number;
  readonly endS: number;
}

/** Per-second samples for the chart. */
export interface ClusterSeries {
  readonly connected: number[];
  /** The busiest node's admits in the second before each sample, over C_node. */
  readonly hottestAdmits: number[];
  /** The busiest node's offered load over the second before each sample, over C_node. */
  readonly hottestLoad: number[];
}

export interface ClusterTally {
  scenario: string;
  balancer: string;
  admission: string;
  config: ClusterConfig;
  originMs: number;
  endMs: number;
  stormClients: number;
  reachedAt: (number | undefined)[];
  attempts: number;
  attemptsOn: Float64Array;
  shares: Float64Array;
  peakAdmitsPerS: Float64Array;
  peakLoad: Float64Array;
  crashes: number;
  crashedNodes: number[];
  connected: number;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function summariseCluster(t: ClusterTally): ClusterResult {
  const cTotal = totalCapacity(t.config);
  const ncS = t.config.clients / cTotal;
  const stormS = Math.max(1, t.stormClients) / cTotal;
  const seconds = (at: number | undefined) => (at === undefined ? null : round((at - t.originMs) / 1000));
  const [t50, , t99, t100] = t.reachedAt.map(seconds);
  const totalAttempts = Math.max(
    1,
    t.attemptsOn.reduce((a, b) => a + b, 0),
  );
  const t99OverNC = t99 === null || t99 === undefined ? null : round(t99 / ncS);
  return {
    scenario: t.scenario,
    balancer: t.balancer,
    admission: t.admission,
    stormClients: t.stormClients,
    recovered: t100 !== null && t100 !== undefined,
    t50S: t50 ?? null,
    t99S: t99 ?? null,
    t100S: t100 ?? null,
    t99OverNC,
    t99OverStorm: t99 === null || t99 === undefined ? null : round(t99 / stormS),
    attemptsPerClient: round(t.attempts / Math.max(1, t.stormClients)),
    crashes: t.crashes,
    crashedNodes: t.crashedNodes,
    hashShares: [...t.shares].map(round),
    attemptShares: [...t.attemptsOn].map((a) => round(a / totalAttempts)),
    peakAdmitsOverCNode: [...t.peakAdmitsPerS].map((a) => round(a / t.config.nodeCapacity)),
    peakLoadOverCNode: [...t.peakLoad].map((a) => round(a / t.config.nodeCapacity)),
    goalMet: t99OverNC !== null && t99OverNC <= GOAL_T99_OVER_NC && t.crashes === 0,
    connectedAtEnd: round(t.connected / t.config.clients),
    endS: round(t.endMs / 1000),
  };
}
