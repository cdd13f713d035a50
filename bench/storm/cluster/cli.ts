/**
 * `npm run bench:storm -- --cluster`: the cluster model's matrix (scenarios × balancers × admission modes)
 * in one run.
 *
 *   npm run bench:storm -- --cluster [--out <dir>] [--clients N] [--nodes M] [--node-capacity C_node]
 *     [--headroom h] [--balancers round-robin,sticky:K:S,...] [--scenarios mass-drop,node-killed,restart]
 *     [--admission per-node,shared] [--seed S] [--refusal-cost r] [--crash-factor k] [--crash-after-s s]
 *     [--restart-s R] [--rtt-ms ms] [--redis-rtt-ms ms] [--outage-s s] [--budget-scope cluster|node]
 *
 * Writes <out>/results.json, results.md and chart.svg (default out: bench/results/storm-cluster); prints
 * the goal table, the wall time per run and the peak resident memory. A bad flag exits with status 2 and a
 * message naming it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { numberFlag, UsageError } from "../flags.js";
import { type BalancerSpec, parseBalancer } from "./balancer.js";
import { clusterSvg } from "./chart.js";
import {
  ADMISSION_MODES,
  type AdmissionMode,
  CLUSTER_DEFAULTS,
  CLUSTER_SCENARIOS,
  type ClusterConfig,
  type ClusterScenarioName,
  DEFAULT_BALANCERS,
} from "./config.js";
import { clusterJson, clusterMarkdown } from "./report.js";
import { type ClusterMatrix, runCluster } from "./run.js";

const FLAGS = {
  cluster: { type: "boolean" },
  out: { type: "string" },
  clients: { type: "string" },
  nodes: { type: "string" },
  "node-capacity": { type: "string" },
  headroom: { type: "string" },
  balancers: { type: "string" },
  scenarios: { type: "string" },
  admission: { type: "string" },
  seed: { type: "string" },
  "refusal-cost": { type: "string" },
  "crash-factor": { type: "string" },
  "crash-after-s": { type: "string" },
  "restart-s": { type: "string" },
  "rtt-ms": { type: "string" },
  "redis-rtt-ms": { type: "string" },
  "outage-s": { type: "string" },
  "budget-scope": { type: "string" },
} as const;

export const CLUSTER_USAGE = `usage: npm run bench:storm -- --cluster [--out <dir>] [--clients N] [--nodes M]
  [--node-capacity C_node] [--headroom h] [--balancers round-robin,sticky:K:S,...]
  [--scenarios ${CLUSTER_SCENARIOS.join(",")}] [--admission ${ADMISSION_MODES.join(",")}] [--seed S]
  [--refusal-cost r] [--crash-factor k] [--crash-after-s s] [--restart-s R] [--rtt-ms ms]
  [--redis-rtt-ms ms] [--outage-s s] [--budget-scope cluster|node]`;

export interface ClusterArgs {
  readonly config: ClusterConfig;
  readonly matrix: ClusterMatrix;
  readonly out: string;
}

function listFlag<T extends string>(
  flag: string,
  raw: string | undefined,
  known: readonly T[],
): T[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw.split(",").map((s) => s.trim());
  const bad = items.find((item) => !(known as readonly string[]).includes(item));
  if (bad !== undefined) throw new UsageError(`--${flag}: unknown "${bad}"; known: ${known.join(", ")}`);
  return items as T[];
}

/** Parses and validates the `--cluster` flags; throws a {@link UsageError} naming the first bad one. */
export function parseClusterArgs(argv: readonly string[]): ClusterArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const str = (flag: string) => values[flag] as string | undefined;
  const num = (flag: string, rule: Parameters<typeof numberFlag>[2]) => numberFlag(flag, str(flag), rule);
  const ms = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 1000));
  const scope = str("budget-scope");
  if (scope !== undefined && scope !== "cluster" && scope !== "node") {
    throw new UsageError(`--budget-scope must be "cluster" or "node"; got "${scope}"`);
  }
  const overrides: Partial<ClusterConfig> = {
    clients: num("clients", { integer: true, min: 1, max: 10_000_000 }),
    nodes: num("nodes", { integer: true, min: 2, max: 1000 }),
    nodeCapacity: num("node-capacity", { min: 0, exclusive: true }),
    headroom: num("headroom", { min: 1, max: 100 }),
    seed: num("seed", { integer: true, min: 0, max: 2 ** 32 - 1 }),
    refusalCost: num("refusal-cost", { min: 0, max: 1 }),
    crashFactor: num("crash-factor", { min: 0, exclusive: true }),
    crashAfterMs: ms(num("crash-after-s", { min: 0.1 })),
    restartMs: ms(num("restart-s", { min: 0 })),
    rttMs: num("rtt-ms", { integer: true, min: 0 }),
    redisRttMs: num("redis-rtt-ms", { integer: true, min: 0 }),
    outageMs: ms(num("outage-s", { min: 0.1 })),
    budgetScope: scope as ClusterConfig["budgetScope"] | undefined,
  };
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const config: ClusterConfig = { ...CLUSTER_DEFAULTS, ...defined };
  let balancers: BalancerSpec[];
  try {
    balancers = (str("balancers")?.split(",") ?? [...DEFAULT_BALANCERS]).map((b) =>
      parseBalancer(b, config.nodes),
    );
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const matrix: ClusterMatrix = {
    scenarios: listFlag<ClusterScenarioName>("scenarios", str("scenarios"), CLUSTER_SCENARIOS) ?? [
      ...CLUSTER_SCENARIOS,
    ],
    balancers,
    admission: listFlag<AdmissionMode>("admission", str("admission"), ADMISSION_MODES) ?? [
      ...ADMISSION_MODES,
    ],
  };
  const out = str("out") ?? "bench/results/storm-cluster";
  if (out.trim() === "") throw new UsageError("--out must name a directory");
  return { config, matrix, out };
}

/** Runs the cluster CLI; returns the exit status (0, or 2 for a bad flag). */
export function runClusterCli(
  argv: readonly string[],
  streams: { out: (text: string) => void; err: (text: string) => void },
): number {
  let args: ClusterArgs;
  try {
    args = parseClusterArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    streams.err(`${error.message}\n${CLUSTER_USAGE}\n`);
    return 2;
  }
  const started = performance.now();
  const report = runCluster(args.config, args.matrix, (r, wallMs) => {
    streams.err(`  ${r.scenario} / ${r.balancer} / ${r.admission}: ${(wallMs / 1000).toFixed(1)} s\n`);
  });
  const wallS = (performance.now() - started) / 1000;
  const md = clusterMarkdown(report, `npm run bench:storm -- ${argv.join(" ")}`);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, "results.json"), clusterJson(report));
  writeFileSync(join(args.out, "results.md"), md);
  writeFileSync(join(args.out, "chart.svg"), clusterSvg(report));
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  streams.out(
    `${md.split("## Every run")[0] ?? md}\nwrote ${join(args.out, "results.json")}, results.md and chart.svg — ` +
      `simulation ${wallS.toFixed(1)} s wall, peak RSS ${peakRssMiB.toFixed(0)} MiB\n`,
  );
  return 0;
}
