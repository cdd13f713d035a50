/**
 * Runs the cluster matrix — every scenario × balancer × admission mode, side by side in one run — and
 * gathers the report the CLI writes. Deterministic: no wall-clock figure in the report.
 */
import { type BalancerSpec, balancerLabel } from "./balancer.js";
import {
  type AdmissionMode,
  type ClusterConfig,
  type ClusterScenarioName,
  clusterScenario,
  totalCapacity,
} from "./config.js";
import type { ClusterResult, ClusterSeries } from "./metrics.js";
import { simulateCluster } from "./simulate.js";

export interface ClusterMatrix {
  readonly scenarios: readonly ClusterScenarioName[];
  readonly balancers: readonly BalancerSpec[];
  readonly admission: readonly AdmissionMode[];
}

export interface ClusterReport {
  readonly config: ClusterConfig;
  /** C_total = M × C_node. */
  readonly totalCapacity: number;
  /** N / C_total in seconds: the yardstick of `t99OverNC`. */
  readonly physicalLimitS: number;
  readonly scenarios: { readonly name: string; readonly description: string; readonly originS: number }[];
  readonly balancers: string[];
  readonly results: ClusterResult[];
  /** Per-second samples by run key `scenario / balancer / admission`, for the chart. */
  readonly series: Record<string, ClusterSeries>;
}

export const runKey = (r: Pick<ClusterResult, "scenario" | "balancer" | "admission">) =>
  `${r.scenario} / ${r.balancer} / ${r.admission}`;

export function runCluster(
  config: ClusterConfig,
  matrix: ClusterMatrix,
  onRunDone?: (result: ClusterResult, wallMs: number) => void,
): ClusterReport {
  const results: ClusterResult[] = [];
  const series: Record<string, ClusterSeries> = {};
  const scenarios = matrix.scenarios.map((name) => clusterScenario(name, config));
  for (const scenario of scenarios)
    for (const balancer of matrix.balancers)
      for (const admission of matrix.admission) {
        const started = performance.now();
        const run = simulateCluster({ config, scenario, balancer, admission });
        results.push(run.result);
        series[runKey(run.result)] = run.series;
        onRunDone?.(run.result, performance.now() - started);
      }
  return {
    config,
    totalCapacity: totalCapacity(config),
    physicalLimitS: config.clients / totalCapacity(config),
    scenarios: scenarios.map((s) => ({
      name: s.name,
      description: s.description,
      originS: s.originMs / 1000,
    })),
    balancers: matrix.balancers.map(balancerLabel),
    results,
    series,
  };
}
