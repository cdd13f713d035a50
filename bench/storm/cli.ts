/**
 * The storm lab's command line: runs one scenario for every strategy and writes the figures.
 *
 *   npm run bench:storm -- --scenario <name> --out <dir> [--clients N] [--capacity C] [--seed S]
 *     [--refusal-cost r] [--fanout F] [--horizon-s H] [--crash-factor k] [--crash-after-s s]
 *     [--restart-s R] [--down-failure refused|timeout] [--rtt-ms ms] [--drain-window-s W]
 *     [--outage-s L] [--brownout-s B] [--brownout-share s] [--strategies socketio,incident,partysocket,aws,ours,ours-hints]
 *
 * `--sweep` runs the grid of sweep.ts; `--cluster` the cluster model (M nodes behind a balancer, per-node
 * admission against one shared schedule: bench/storm/cluster/cli.ts).
 *
 * Writes <out>/results.json, <out>/results.md and <out>/chart.svg; prints the table, the wall time per
 * strategy and the peak resident memory. A bad flag exits with status 2 and a message naming it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { toSvg } from "./chart.js";
import { runClusterCli } from "./cluster/cli.js";
import { type NumberRule, numberFlag, UsageError } from "./flags.js";
import { toJson, toMarkdown } from "./report.js";
import { runStorm } from "./run.js";
import {
  isScenarioName,
  SCENARIO_NAMES,
  type ScenarioConfig,
  type ScenarioName,
  scenarioConfig,
} from "./scenarios.js";
import { allStrategies } from "./strategies.js";
import { DEFAULT_GRID, runSweep, type SweepGrid, sweepMarkdown, sweepSvg } from "./sweep.js";

export { UsageError };

export interface StormArgs {
  readonly config: ScenarioConfig;
  readonly strategies: string[] | undefined;
  readonly out: string;
}

const FLAGS = {
  scenario: { type: "string" },
  out: { type: "string" },
  clients: { type: "string" },
  capacity: { type: "string" },
  seed: { type: "string" },
  "refusal-cost": { type: "string" },
  fanout: { type: "string" },
  "horizon-s": { type: "string" },
  "crash-factor": { type: "string" },
  "crash-after-s": { type: "string" },
  "restart-s": { type: "string" },
  "down-failure": { type: "string" },
  "rtt-ms": { type: "string" },
  "drain-window-s": { type: "string" },
  "outage-s": { type: "string" },
  "brownout-s": { type: "string" },
  "brownout-share": { type: "string" },
  strategies: { type: "string" },
  sweep: { type: "boolean" },
  "sweep-clients": { type: "string" },
  "sweep-capacity": { type: "string" },
  "sweep-refusal-cost": { type: "string" },
  "sweep-seeds": { type: "string" },
  "sweep-scenarios": { type: "string" },
  "sweep-hints-only": { type: "boolean" },
  help: { type: "boolean" },
} as const;

export const USAGE = `usage: npx tsx bench/storm/cli.ts --scenario <${SCENARIO_NAMES.join("|")}> --out <dir>
  [--clients N] [--capacity C] [--seed S] [--refusal-cost r] [--fanout F] [--horizon-s H]
  [--crash-factor k] [--crash-after-s s] [--restart-s R] [--down-failure refused|timeout]
  [--rtt-ms ms] [--drain-window-s W] [--outage-s L] [--brownout-s B] [--brownout-share s]
  [--strategies id,id,...]
   or: npx tsx bench/storm/cli.ts --sweep [--out <dir>] [--sweep-clients N,N,...] [--sweep-capacity C,C,...]
  [--sweep-refusal-cost r,r,...] [--sweep-seeds S,S,...] [--sweep-scenarios name,name,...] [--sweep-hints-only]
   or: npx tsx bench/storm/cli.ts --cluster [--out <dir>] [--clients N] [--nodes M] ... (bench/storm/cluster/cli.ts)`;

const seconds = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 1000));

/** Parses and validates the flags; throws a {@link UsageError} naming the first bad one. */
export function parseStormArgs(argv: readonly string[]): StormArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const str = (flag: string) => values[flag] as string | undefined;
  if (values.help === true) throw new UsageError(USAGE);
  const scenario = str("scenario");
  if (scenario === undefined) throw new UsageError(`--scenario is required (${SCENARIO_NAMES.join(", ")})`);
  if (!isScenarioName(scenario)) {
    throw new UsageError(`--scenario must be one of ${SCENARIO_NAMES.join(", ")}; got "${scenario}"`);
  }
  const out = str("out");
  if (out === undefined || out.trim() === "") throw new UsageError("--out <dir> is required");
  const downFailure = str("down-failure");
  if (downFailure !== undefined && downFailure !== "refused" && downFailure !== "timeout") {
    throw new UsageError(`--down-failure must be "refused" or "timeout"; got "${downFailure}"`);
  }
  const strategiesRaw = str("strategies");
  const strategies = strategiesRaw?.split(",").map((s) => s.trim());
  if (strategies !== undefined) {
    const known = allStrategies().map((s) => s.id);
    const unknown = strategies.find((id) => !known.includes(id));
    if (unknown !== undefined) {
      throw new UsageError(`--strategies: unknown strategy "${unknown}"; known: ${known.join(", ")}`);
    }
  }
  const config = scenarioConfig(scenario, {
    clients: numberFlag("clients", str("clients"), { integer: true, min: 1, max: 10_000_000 }),
    capacity: numberFlag("capacity", str("capacity"), { min: 0, exclusive: true }),
    seed: numberFlag("seed", str("seed"), { integer: true, min: 0, max: 2 ** 32 - 1 }),
    refusalCost: numberFlag("refusal-cost", str("refusal-cost"), { min: 0, max: 1 }),
    fanout: numberFlag("fanout", str("fanout"), { min: 0 }),
    horizonMs: seconds(numberFlag("horizon-s", str("horizon-s"), { min: 0, exclusive: true, max: 86_400 })),
    crashFactor: numberFlag("crash-factor", str("crash-factor"), { min: 0, exclusive: true }),
    crashAfterMs: seconds(numberFlag("crash-after-s", str("crash-after-s"), { min: 0.1 })),
    restartMs: seconds(numberFlag("restart-s", str("restart-s"), { min: 0 })),
    downFailure: downFailure as "refused" | "timeout" | undefined,
    rttMs: numberFlag("rtt-ms", str("rtt-ms"), { integer: true, min: 0 }),
    drainWindowMs: seconds(numberFlag("drain-window-s", str("drain-window-s"), { min: 0 })),
    // long-outage and quick-restart: how long the server is gone (their T99 depends on where it falls).
    outageMs: seconds(numberFlag("outage-s", str("outage-s"), { min: 0, max: 86_400 })),
    brownoutMs: seconds(numberFlag("brownout-s", str("brownout-s"), { min: 0, exclusive: true })),
    brownoutShare: numberFlag("brownout-share", str("brownout-share"), { min: 0, exclusive: true, max: 1 }),
  });
  return { config, strategies, out };
}

/** Output streams of {@link runCli} (the process's by default). */
export interface CliStreams {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processStreams: CliStreams = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Parses the `--sweep` flags; throws a {@link UsageError} naming the first bad one. */
export function parseSweepArgs(argv: readonly string[]): { grid: SweepGrid; out: string } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const list = (flag: string, fallback: readonly number[], rule: NumberRule) => {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) return fallback;
    return raw.split(",").map((item) => numberFlag(flag, item, rule) as number);
  };
  const scenariosRaw = values["sweep-scenarios"] as string | undefined;
  const scenarios = scenariosRaw === undefined ? DEFAULT_GRID.scenarios : scenariosRaw.split(",");
  const bad = scenarios.find((name) => !isScenarioName(name));
  if (bad !== undefined) throw new UsageError(`--sweep-scenarios: unknown scenario "${bad}"`);
  const grid: SweepGrid = {
    clients: list("sweep-clients", DEFAULT_GRID.clients, { integer: true, min: 1, max: 1_000_000 }),
    capacity: list("sweep-capacity", DEFAULT_GRID.capacity, { min: 0, exclusive: true }),
    refusalCost: list("sweep-refusal-cost", DEFAULT_GRID.refusalCost, { min: 0, max: 1 }),
    seeds: list("sweep-seeds", DEFAULT_GRID.seeds, { integer: true, min: 0, max: 2 ** 32 - 1 }),
    scenarios: scenarios as ScenarioName[],
    ...(values["sweep-hints-only"] === true ? { hintsOnly: true } : {}),
  };
  const out = (values.out as string | undefined) ?? "bench/results/storm-sweep";
  return { grid, out };
}

function runSweepCli(argv: readonly string[], streams: CliStreams): number {
  let parsed: { grid: SweepGrid; out: string };
  try {
    parsed = parseSweepArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    streams.err(`${error.message}\n${USAGE}\n`);
    return 2;
  }
  const started = performance.now();
  const report = runSweep(parsed.grid, (done, total) => {
    streams.err(`  ${done}/${total} points, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  });
  const command = `npm run bench:storm -- ${argv.join(" ")}`;
  mkdirSync(parsed.out, { recursive: true });
  const md = sweepMarkdown(report, command);
  writeFileSync(join(parsed.out, "sweep.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(parsed.out, "sweep.md"), md);
  writeFileSync(join(parsed.out, "sweep.svg"), sweepSvg(report));
  const head = md.split("## Every point")[0] ?? md;
  streams.out(
    `${head}\nwrote ${join(parsed.out, "sweep.json")}, sweep.md and sweep.svg — ${((performance.now() - started) / 1000).toFixed(0)} s wall\n`,
  );
  return 0;
}

/** Runs the CLI; returns the exit status (0, or 2 for a bad flag). */
export function runCli(argv: readonly string[], streams: CliStreams = processStreams): number {
  if (argv.includes("--sweep")) return runSweepCli(argv, streams);
  if (argv.includes("--cluster")) return runClusterCli(argv, streams);
  let args: StormArgs;
  try {
    args = parseStormArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    streams.err(`${error.message}\n`);
    if (!error.message.startsWith("usage:")) streams.err(`${USAGE}\n`);
    return 2;
  }
  const started = performance.now();
  const report = runStorm(args.config, args.strategies, (result, wallMs) => {
    streams.err(`  ${result.name}: ${(wallMs / 1000).toFixed(1)} s\n`);
  });
  const wallS = (performance.now() - started) / 1000;
  const command = `npx tsx bench/storm/cli.ts ${argv.join(" ")}`;
  mkdirSync(args.out, { recursive: true });
  const md = toMarkdown(report, command);
  writeFileSync(join(args.out, "results.json"), toJson(report));
  writeFileSync(join(args.out, "results.md"), md);
  writeFileSync(join(args.out, "chart.svg"), toSvg(report));
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  streams.out(
    `${md}\nwrote ${join(args.out, "results.json")}, results.md and chart.svg — ` +
      `simulation ${wallS.toFixed(1)} s wall, peak RSS ${peakRssMiB.toFixed(0)} MiB\n`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = runCli(process.argv.slice(2));
}
