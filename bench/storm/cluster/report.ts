/**
 * What a cluster run writes: results.json (the report, with the per-second series) and results.md (the goal
 * table — the shared schedule and per-node admission side by side per scenario and balancer — then every run).
 */
import type { ClusterConfig } from "./config.js";
import { type ClusterResult, GOAL_T99_OVER_NC } from "./metrics.js";
import type { ClusterReport } from "./run.js";

export function clusterJson(report: ClusterReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * The floor no admission scheme can beat, in units of N / C_total: every node can bring its share of the
 * storm back no faster than its physical rate (headroom × C_node). A killed node's share is spread over the
 * others in proportion to theirs, as the balancer fails over.
 */
export function physicsFloor(result: ClusterResult, config: ClusterConfig): number {
  const { nodes, nodeCapacity, headroom, clients } = config;
  const shares = [...result.hashShares];
  const dead = result.scenario === "node-killed" ? [0] : [];
  const liveShare = shares.reduce((sum, s, k) => (dead.includes(k) ? sum : sum + s), 0);
  let worstS = 0;
  for (let k = 0; k < nodes; k++) {
    if (dead.includes(k)) continue;
    // Clients this node must take back: its own (when they were dropped too) plus a killed node's failover.
    const own = result.scenario === "node-killed" ? 0 : (shares[k] as number) * result.stormClients;
    const failover =
      result.scenario === "node-killed" ? (result.stormClients * (shares[k] as number)) / liveShare : 0;
    worstS = Math.max(worstS, (own + failover) / (headroom * nodeCapacity));
  }
  return worstS / (clients / (nodes * nodeCapacity));
}

const f = (x: number | null, digits = 2) => (x === null ? "—" : x.toFixed(digits));
const count = (x: number) => Math.round(x).toLocaleString("en");
const max = (xs: readonly number[]) => Math.max(...xs);

/** Hot nodes' share of the attempts, measured (sticky balancers; round-robin: node 0's). */
function hotAttempts(r: ClusterResult): number {
  const hot = r.hashShares.filter((s) => s > (r.hashShares.at(-1) as number) + 1e-9).length || 1;
  return r.attemptShares.slice(0, hot).reduce((a, b) => a + b, 0);
}
function hotHash(r: ClusterResult): number {
  const hot = r.hashShares.filter((s) => s > (r.hashShares.at(-1) as number) + 1e-9).length || 1;
  return r.hashShares.slice(0, hot).reduce((a, b) => a + b, 0);
}

export function clusterMarkdown(report: ClusterReport, command?: string): string {
  const c = report.config;
  const lines: string[] = [
    `# Storm lab, cluster model — N = ${count(c.clients)}, M = ${c.nodes} nodes × C_node = ${count(c.nodeCapacity)}/s ` +
      `(C_total = ${count(report.totalCapacity)}/s, N/C_total = ${report.physicalLimitS} s), seed ${c.seed}`,
    "",
    "Every client is the shipped client (`ReconnectPlanner` with `ResilientSocket`'s defaults, `closeOutcome`, " +
      "the connect-time budget) on a virtual clock; every node is the storm lab's server model. A node's " +
      `admission is configured at C_node; it physically does ${c.headroom} × C_node of work per second ` +
      `(headroom ${c.headroom}); a refusal costs ${c.refusalCost} of an admit; offered load over ` +
      `${c.crashFactor} × its work rate for ${c.crashAfterMs / 1000} s crashes it (everyone on it dropped, back ` +
      `after ${c.restartMs / 1000} s). Handshake ${c.rttMs} ms; the shared schedule adds a ${c.redisRttMs} ms ` +
      "Redis round trip to every answer. **per-node**: each node its own AdmissionController at C_node and its " +
      "own budget (its clients / C_node). **shared**: one AdmissionController at C_total for the cluster and a " +
      "cluster-wide budget (N / C_total). Balancers: `round-robin` per attempt; `sticky:K:S` by a hash of the " +
      "client, K hot nodes holding the share S of the hash space (failover over the live nodes in proportion " +
      "to their shares). T-times are seconds from the scenario's origin until that share of the storm's " +
      "clients is back; the physics floor is what any scheme needs given where the balancer sends the herd.",
    "",
  ];
  if (command !== undefined) lines.push(`\`${command}\``, "");
  lines.push(
    `## Goal: shared schedule T99 ≤ ${GOAL_T99_OVER_NC} × N/C_total, no node crashed`,
    "",
    "| scenario | balancer | hot nodes' hash share | physics floor ×N/C | shared T99 ×N/C | shared crashes | shared attempts/client | goal | per-node T99 ×N/C | per-node crashes | per-node attempts/client | per-node ÷ shared |",
    "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
  );
  for (const scenario of report.scenarios) {
    for (const balancer of report.balancers) {
      const of = (admission: string) =>
        report.results.find(
          (r) => r.scenario === scenario.name && r.balancer === balancer && r.admission === admission,
        );
      const shared = of("shared");
      const perNode = of("per-node");
      const any = shared ?? perNode;
      if (any === undefined) continue;
      const ratio =
        shared?.t99OverNC != null && perNode?.t99OverNC != null
          ? f(perNode.t99OverNC / shared.t99OverNC)
          : "—";
      lines.push(
        `| ${scenario.name} | ${balancer} | ${balancer === "round-robin" ? "—" : `${(100 * hotHash(any)).toFixed(0)} %`} | ` +
          `${f(physicsFloor(any, c))} | ${f(shared?.t99OverNC ?? null)} | ${shared?.crashes ?? "—"} | ` +
          `${f(shared?.attemptsPerClient ?? null)} | ${shared === undefined ? "—" : shared.goalMet ? "**met**" : "missed"} | ` +
          `${f(perNode?.t99OverNC ?? null)} | ${perNode?.crashes ?? "—"} | ${f(perNode?.attemptsPerClient ?? null)} | ${ratio} |`,
      );
    }
  }
  lines.push(
    "",
    "## Every run",
    "",
    "| scenario | balancer | admission | storm clients | T50 s | T99 s | T100 s | T99 ×N/C | T99 ×(storm/C_total) | attempts/client | crashes (nodes) | hot nodes: hash → attempts | busiest node: peak admits/s ÷ C_node | peak load ÷ C_node | connected at end |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
  );
  for (const r of report.results) {
    lines.push(
      `| ${r.scenario} | ${r.balancer} | ${r.admission} | ${count(r.stormClients)} | ${f(r.t50S, 1)} | ${f(r.t99S, 1)} | ` +
        `${f(r.t100S, 1)} | ${f(r.t99OverNC)} | ${f(r.t99OverStorm)} | ${r.attemptsPerClient.toFixed(2)} | ` +
        `${r.crashes}${r.crashedNodes.length > 0 ? ` (${r.crashedNodes.join(", ")})` : ""} | ` +
        `${(100 * hotHash(r)).toFixed(1)} % → ${(100 * hotAttempts(r)).toFixed(1)} % | ${f(max(r.peakAdmitsOverCNode))} | ` +
        `${f(max(r.peakLoadOverCNode))} | ${(100 * r.connectedAtEnd).toFixed(1)} % |`,
    );
  }
  lines.push(
    "",
    `Crash threshold: offered load over ${c.crashFactor * c.headroom} × C_node for ${c.crashAfterMs / 1000} s. ` +
      "A peak admits/s above the headroom is a burst: a node's work bucket holds half a second of work.",
    "",
  );
  return lines.join("\n");
}
