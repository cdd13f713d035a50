/**
 * What a storm run writes: results.json (the figures, plus the per-second series) and results.md (a table
 * with the parameters and the command that reproduces it). The chart is in chart.ts.
 */
import type { StormReport } from "./run.js";
import type { StrategyResult } from "./simulate.js";

export function toJson(report: StormReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const ratio = (x: number | null) => (x === null ? "—" : x.toFixed(2));
const count = (x: number) => Math.round(x).toLocaleString("en");

/** Brownout's question: back to ≥ 95 % connected without the server ever crashing? */
export function backWithoutRestart(result: StrategyResult): boolean {
  return result.t95Ratio !== null && result.crashes === 0;
}

export function toMarkdown(report: StormReport, command?: string): string {
  const p = report.parameters;
  const lines: string[] = [];
  lines.push(
    `# Storm: ${report.scenario} — N = ${count(report.clients)}, C = ${count(report.capacity)}/s ` +
      `(N/C = ${report.physicalLimitS} s), seed ${report.seed}`,
    "",
    `${report.description}.`,
    "",
    `Server: a refusal costs ${p.refusalCost} of an admit; ${p.fanout} downstream calls per login; crashes when ` +
      `the offered load exceeds ${p.crashFactor} × capacity for ${p.crashAfterMs / 1000} s, restarts after ` +
      `${p.restartMs / 1000} s; attempts to a down server ${p.downFailure === "refused" ? "are refused at once" : "time out"}; ` +
      `handshake round trip ${p.rttMs} ms. Horizon ${p.horizonMs / 1000} s. ` +
      `T-ratios are (time to X % connected − ${report.originS} s) / (N/C); the ideal (a perfect scheduler ` +
      `under this capacity) is ${report.idealS.toFixed(1)} s = ${(report.idealS / report.physicalLimitS).toFixed(2)} × N/C. ` +
      `Live attempts reached a running server (a dead port's refusals excluded). Floor: the best any scheme ` +
      `could do whose first wave is this strategy's and which then knows the scenario (bench/storm/floor.ts).`,
    "",
  );
  if (command !== undefined) lines.push(`\`${command}\``, "");
  const brownout = report.scenario === "brownout";
  const head = [
    "strategy",
    "recovered",
    "T50",
    "T99",
    "T100",
    "T99/ideal",
    "floor T99/ideal",
    "attempts/client",
    "live attempts/client",
    "floor live attempts/client",
    "peak attempts/100 ms",
    "peak/mean",
    "downstream calls",
    "crashes",
    "connected at end",
    ...(brownout ? ["≥ 95 % without restart"] : []),
  ];
  lines.push(`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const s of report.strategies) {
    const cells = [
      s.name,
      s.recovered ? "yes" : "**no**",
      ratio(s.t50Ratio),
      ratio(s.t99Ratio),
      ratio(s.t100Ratio),
      ratio(s.t99OverIdeal),
      ratio(s.floorT99OverIdeal),
      s.attemptsPerClient.toFixed(2),
      s.liveAttemptsPerClient.toFixed(2),
      s.floorLiveAttemptsPerClient.toFixed(2),
      count(s.peakAttemptsPer100ms),
      s.peakToMean.toFixed(1),
      count(s.downstreamCalls),
      String(s.crashes),
      `${(100 * s.connectedAtEnd).toFixed(1)} %`,
      ...(brownout ? [backWithoutRestart(s) ? "yes" : "**no**"] : []),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push("");
  return lines.join("\n");
}
