/**
 * results.md and chart.svg of the cluster bench, from the results of its runs (one per store kind).
 */
import { liveChart } from "../live/chart.js";
import type { KindResult } from "./run.js";

/** The settings of the run, as given on the command line. */
export interface ClusterSettings {
  readonly clients: number;
  readonly nodeCount: number;
  readonly capacity: number;
  readonly graceMs: number;
  readonly batchMs: number;
  readonly heartbeatMs: number;
  readonly spaceSize: number;
  readonly healthCheckMs: number;
  readonly probeCount: number;
  readonly kinds: readonly string[];
}

export function clusterReport(
  results: readonly KindResult[],
  settings: ClusterSettings,
): { md: string; chart: string } {
  const {
    clients,
    nodeCount,
    capacity,
    graceMs,
    batchMs,
    heartbeatMs,
    spaceSize,
    healthCheckMs,
    probeCount,
    kinds,
  } = settings;
  const f = (x: number | null | undefined, digits = 1) =>
    x === null || x === undefined ? "—" : x.toFixed(digits);
  const yes = (b: boolean) => (b ? "yes" : "no");
  const seconds = (ms: number | null) => (ms === null ? "—" : `${(ms / 1000).toFixed(1)} s`);
  let md = `# Cluster on loopback: ${nodeCount} nodes (${capacity} admits/s each), ${clients} clients, one node killed (SIGKILL)\n\n`;
  md += `Command: \`npm run bench:cluster -- --clients ${clients} --nodes ${nodeCount} --capacity ${capacity} --grace-ms ${graceMs} --batch-ms ${batchMs} --heartbeat-ms ${heartbeatMs} --space-size ${spaceSize} --health-check-ms ${healthCheckMs} --stores ${kinds.join(",")}\`\n\n`;
  const rows = (header: string, line: (r: KindResult) => string) =>
    `${header}\n${results.map((r) => `| ${r.name} | ${line(r)} |`).join("\n")}\n\n`;
  md += rows(
    "| stores | N_dead | C_total | N_dead/C_total | 90 % back | 99 % back | all back | all back × N_dead/C_total | attempts at the survivors per reconnect |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    (r) =>
      `${r.killed.clients} | ${r.cTotalPerSecond}/s | ${f(r.idealS)} s | ${seconds(r.t90Ms)} | ${seconds(r.t99Ms)} | ${r.allBackMs === null ? "not within horizon" : seconds(r.allBackMs)} | ${f(r.ratioToIdeal, 2)} | ${f(r.attemptsAtSurvivors / Math.max(1, r.killed.clients), 2)}`,
  );
  md += rows(
    "| stores | before the kill: nodes see | after grace: phantom / missing | rosters equal | converged after the kill | update p50 / p99, same node | update p50 / p99 across nodes (seen / expected) |\n|---|---:|---:|---|---:|---:|---:|",
    (r) => {
      const u = r.updateLatency;
      const a = r.presenceAfterGrace;
      return `${(100 * r.presenceBeforeKill.seenShare).toFixed(1)} % | ${a.phantom} / ${a.missing} | ${yes(a.rostersEqual)} | ${r.convergedMsAfterKill === null ? "no" : `${f(r.convergedMsAfterKill / 1000)} s`} | ${f(u.sameNode.p50Ms)} / ${f(u.sameNode.p99Ms)} ms | ${f(u.crossNode.p50Ms)} / ${f(u.crossNode.p99Ms)} ms (${u.crossNode.seen} / ${u.crossNode.expected})`;
    },
  );
  md += rows(
    "| stores | Redis round trips per reconnect | commands Redis ran per reconnect | idle commands/s | roster bytes per member | used_memory delta per member |\n|---|---:|---:|---:|---:|---:|",
    (r) =>
      r.store === "memory"
        ? "— | — | — | — | —"
        : `${f(r.redis.roundTripsPerReconnect, 2)} | ${f(r.redis.opsPerReconnect, 2)} | ${f(r.redis.idleOpsPerSecond)} | ${f(r.redis.rosterBytesPerMember, 0)} B | ${f(r.redis.usedMemoryDeltaPerMember, 0)} B`,
  );
  md += `N_dead: clients on the killed node; C_total: what the ${nodeCount - 1} surviving nodes admit together per second (in memory: their own ${capacity}/s each; on Redis: the shared schedule's ${capacity * nodeCount}/s for the cluster). "Nodes see": share of (node, connected member) pairs where the node's roster holds the member. Phantom: in a surviving node's roster, connected nowhere; missing: connected, absent from a surviving node's roster (summed over nodes). Update latency: a member sets its emoji, until each other member of its space sees it (${probeCount} probes; includes the hub's ${batchMs} ms batch). Round trips: scripts and commands the surviving nodes sent during the recovery, their idle rate subtracted, ÷ N_dead; commands Redis ran: INFO commandstats (commands inside scripts counted one by one), idle rate subtracted, ÷ N_dead. Roster bytes: MEMORY USAGE of the roster keys ÷ members; used_memory delta: everything Redis holds (admission records, connection buffers) ÷ members.\n`;

  const nDead = Math.max(1, ...results.map((r) => r.killed.clients));
  const chart = liveChart({
    title: `${nodeCount} nodes, ${clients} clients: one node killed, its clients back on the others`,
    clients: nDead,
    capacity: Math.min(...results.map((r) => r.cTotalPerSecond)),
    timeAxis: "seconds since the node was killed (SIGKILL)",
    series: results.map((r) => ({
      name: r.name,
      recovered: r.allBackMs !== null,
      timeToAllConnectedMs: r.allBackMs,
      attemptsSeen: r.attemptsAtSurvivors,
      samples: r.samples,
      attemptsPerSecond: r.attemptsPerSecond,
    })),
    caption: [
      `Top: the killed node's clients synced again on the surviving nodes. Bottom: connection attempts the survivors saw per second;`,
      `the dashed lines: C_total = ${Math.min(...results.map((r) => r.cTotalPerSecond))}/s and N_dead/C_total, the fastest any scheduler could bring them back${results.some((r) => r.cTotalPerSecond !== results[0]?.cTotalPerSecond) ? ` (the shared schedule admits ${capacity * nodeCount}/s)` : ""}.`,
    ],
  });
  return { md, chart };
}
