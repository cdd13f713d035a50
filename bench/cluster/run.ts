/**
 * The cluster bench: one real redis-server, M realtime node processes (a `ws` server with `wsAdmission` and
 * a PresenceHub each, ./node-process.ts) and N real clients (ResilientSocket + Presence,
 * ./clients-process.ts) that pick a node at random on every attempt. Once everyone is synced, one node is
 * killed with SIGKILL. Measured, per store kind, in one run:
 * - the time until the dead node's N_dead clients are all synced on the others, and as a ratio of
 *   N_dead / C_total (C_total: what the surviving nodes admit together per second);
 * - presence against the truth on every surviving node, after the grace period: phantom members (in a
 *   roster, connected nowhere), missing members (connected, absent from a roster), rosters equal;
 * - presence update latency, same node and across nodes, p50/p99 (and the share of cross-node updates seen);
 * - Redis commands per reconnect (INFO commandstats around the recovery, idle rate subtracted) and Redis
 *   memory per member (INFO memory used_memory with everyone synced, minus before any node started).
 *
 *   npm run bench:cluster -- [--clients 3000] [--nodes 3] [--capacity 100] [--grace-ms 3000]
 *                            [--batch-ms 50] [--space-size 50] [--probes 200] [--stores memory]
 *                            [--health-check-ms 2000] [--horizon-s 120] [--out bench/results/cluster]
 *
 * The clients' balancer picks among all nodes until its health check takes the dead one out,
 * `--health-check-ms` after the kill (0: never, a balancer without health checks).
 * `--stores memory`: today's in-memory rosters and per-node admission (nothing shared: split presence);
 * `--stores redis`: the shared Redis stores (./stores.ts). Writes <out>/results.json, results.md, chart.svg.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  ask,
  convergence,
  type Progress,
  percentile,
  RedisMeter,
  spawnScript,
  stopChild,
  watch,
} from "./cluster.js";
import { clusterReport } from "./report.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "3000" },
    nodes: { type: "string", default: "3" },
    capacity: { type: "string", default: "100" },
    "grace-ms": { type: "string", default: "3000" },
    "batch-ms": { type: "string", default: "50" },
    "space-size": { type: "string", default: "50" },
    probes: { type: "string", default: "200" },
    stores: { type: "string", default: "memory,redis" },
    "horizon-s": { type: "string", default: "120" },
    "health-check-ms": { type: "string", default: "2000" },
    "heartbeat-ms": { type: "string", default: "2000" },
    out: { type: "string", default: "bench/results/cluster" },
  },
});
function intFlag(name: string, min: number): number {
  const raw = values[name as keyof typeof values] as string;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`--${name} must be an integer >= ${min}; got ${raw}`);
  return n;
}
const clients = intFlag("clients", 1);
const nodeCount = intFlag("nodes", 2);
const capacity = intFlag("capacity", 1);
const graceMs = intFlag("grace-ms", 0);
const batchMs = intFlag("batch-ms", 0);
const spaceSize = intFlag("space-size", 1);
const probeCount = intFlag("probes", 0);
const horizonMs = intFlag("horizon-s", 1) * 1000;
const healthCheckMs = intFlag("health-check-ms", 0);
const heartbeatMs = intFlag("heartbeat-ms", 1);
type StoreKind = "memory" | "redis";
const kinds = values.stores.split(",") as StoreKind[];
for (const kind of kinds)
  if (kind !== "memory" && kind !== "redis") throw new RangeError(`--stores: unknown store ${kind}`);
const spaces = Array.from({ length: Math.ceil(clients / spaceSize) }, (_, i) => `room-${i}`);
const say = (line: string) => process.stdout.write(`${line}\n`);
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LABEL: Record<StoreKind, string> = {
  memory: "in-memory stores (today's default, nothing shared)",
  redis: "Redis stores (shared roster + admission)",
};

interface NodeStats {
  connections: number;
  redisCalls: number;
  startedAt: number;
  attemptsPer100ms: number[];
  cpuMs: number;
  rssBytes: number;
}

async function runKind(kind: StoreKind) {
  const meter = await RedisMeter.start();
  const nodes: { child: ReturnType<typeof spawnScript>; port: number; alive: boolean }[] = [];
  let population: ReturnType<typeof spawnScript> | undefined;
  try {
    const memoryBefore = await meter.usedMemory();
    for (let i = 0; i < nodeCount; i++) {
      const child = spawnScript("node-process.ts", [
        "--capacity",
        String(capacity),
        "--grace-ms",
        String(graceMs),
        "--batch-ms",
        String(batchMs),
        "--store",
        kind,
        "--redis-url",
        meter.server.url,
        "--node-id",
        `node-${i}`,
        "--nodes",
        String(nodeCount),
        "--heartbeat-ms",
        String(heartbeatMs),
      ]);
      const { port } = await ask<{ port: number }>(child, "ready", undefined, 20_000);
      nodes.push({ child, port, alive: true });
    }
    const ports = nodes.map((n) => n.port);
    population = spawnScript("clients-process.ts", [
      "--ports",
      ports.join(","),
      "--clients",
      String(clients),
      "--space-size",
      String(spaceSize),
    ]);
    const pop = population;
    say(`  ${kind}: ${nodeCount} nodes on ${ports.join(", ")}; ${clients} clients filling up`);
    const fill = await watch(pop, (p) => p.synced >= clients, horizonMs);
    if (!fill.reached) throw new Error(`${kind}: only part of ${clients} clients synced`);
    await wait(Math.max(500, batchMs * 10));

    const memoryAfter = await meter.usedMemory();
    const keyBytes = await meter.keyBytes();
    const rosters = async () =>
      Promise.all(
        nodes
          .filter((n) => n.alive)
          .map(
            async (n) =>
              (
                await ask<{ rosters: Record<string, string[]> }>(n.child, "rosters", {
                  type: "rosters",
                  spaces,
                })
              ).rosters,
          ),
      );
    const members = async () =>
      (
        await ask<{ members: { member: string; space: string; node: number }[] }>(pop, "members", {
          type: "members",
        })
      ).members;
    const beforeKill = convergence(await members(), await rosters());
    say(`  ${kind}: all synced in ${(fill.elapsedMs / 1000).toFixed(1)} s; probing update latency`);
    const probe = await ask<{
      expected: { sameNode: number; crossNode: number };
      sameNodeMs: number[];
      crossNodeMs: number[];
    }>(pop, "probe", { type: "probe", count: probeCount }, 120_000);

    // The idle rates (heartbeats and the like), to take out of the per-reconnect counts: commands Redis
    // ran, and round trips the nodes that will survive made.
    const survivorCalls = async () => {
      const all = await Promise.all(
        nodes.slice(1).map((n) => ask<NodeStats>(n.child, "stats", { type: "stats" })),
      );
      return all.reduce((sum, st) => sum + st.redisCalls, 0);
    };
    const idleFrom = await meter.commands();
    const idleCallsFrom = await survivorCalls();
    const idleStart = Date.now();
    await wait(3_000);
    const idleOps = (await meter.commands()).total - idleFrom.total;
    const idleCalls = (await survivorCalls()) - idleCallsFrom;
    const idleS = (Date.now() - idleStart) / 1000;
    const idleOpsPerSecond = idleOps / idleS;
    const idleCallsPerSecond = idleCalls / idleS;

    const lastProgress = await watch(pop, () => true, 5_000);
    const perNode = lastProgress.samples.at(-1)?.[1].perNode ?? {};
    const victim = nodes[0] as (typeof nodes)[number];
    const nDead = perNode[victim.port] ?? 0;
    const survivors = nodes.length - 1;
    // Per-node admission: the survivors admit their own rates; the shared schedule: the cluster's rate.
    const cTotal = kind === "memory" ? capacity * survivors : capacity * nodeCount;
    const opsBefore = await meter.commands();
    const callsBefore = await survivorCalls();
    say(`  ${kind}: killing node ${victim.port} (SIGKILL) with ${nDead} clients on it`);
    const killedAt = Date.now();
    victim.alive = false;
    await stopChild(victim.child, "SIGKILL");
    // The balancer's health check takes the dead node out of the picks this long after the crash.
    const healthCheck =
      healthCheckMs > 0
        ? setTimeout(
            () => pop.send({ type: "down", port: victim.port }),
            Math.max(0, killedAt + healthCheckMs - Date.now()),
          )
        : undefined;
    let shownAt = 0;
    const recovery = await watch(
      pop,
      (p) => {
        if (Date.now() - shownAt >= 2_000) {
          shownAt = Date.now();
          say(`    ${((shownAt - killedAt) / 1000).toFixed(0)} s after the kill: ${JSON.stringify(p)}`);
        }
        return p.synced >= clients && (p.perNode[victim.port] ?? 0) === 0;
      },
      horizonMs,
    );
    clearTimeout(healthCheck);
    const backMs = recovery.reached ? recovery.elapsedMs : null;
    const opsAfter = await meter.commands();
    const callsAfter = await survivorCalls();
    const recoveryS = (Date.now() - killedAt) / 1000;
    const opsDelta = opsAfter.total - opsBefore.total;
    const byCommand = Object.fromEntries(
      Object.entries(opsAfter.byCommand)
        .map(([name, n]) => [name, n - (opsBefore.byCommand[name] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    say(
      `  ${kind}: ${backMs === null ? "not all back" : `all back in ${(backMs / 1000).toFixed(1)} s`}; waiting out the grace period`,
    );

    // After the grace period (plus a margin for batches and heartbeats) presence must have converged.
    // A dead node's members leave once its ownership (3 heartbeats) and then the grace period ran out.
    const settleDeadline = killedAt + 3 * heartbeatMs + graceMs + Math.max(2_000, batchMs * 20);
    let afterGrace = convergence(await members(), await rosters());
    let convergedMs: number | null = null;
    while (true) {
      const converged = afterGrace.phantom === 0 && afterGrace.missing === 0 && afterGrace.rostersEqual;
      if (converged && Date.now() >= killedAt + graceMs) {
        convergedMs = Date.now() - killedAt;
        break;
      }
      if (Date.now() > settleDeadline + 10_000) break;
      await wait(250);
      afterGrace = convergence(await members(), await rosters());
    }
    const stats = await Promise.all(
      nodes.filter((n) => n.alive).map((n) => ask<NodeStats>(n.child, "stats", { type: "stats" })),
    );
    // Attempts the survivors saw in each second since the kill.
    const attemptsPerSecond: number[] = [];
    for (const s of stats) {
      s.attemptsPer100ms.forEach((n, bucket) => {
        const at = s.startedAt + bucket * 100 - killedAt;
        if (at < 0 || n === 0) return;
        const second = Math.floor(at / 1000);
        attemptsPerSecond[second] = (attemptsPerSecond[second] ?? 0) + n;
      });
    }
    const horizonS = Math.ceil((backMs ?? recoveryS * 1000) / 1000) + 1;
    const perSecond = Array.from({ length: horizonS }, (_, i) => attemptsPerSecond[i] ?? 0);
    const back = (p: Progress) => Math.max(0, p.synced - (clients - nDead));
    /** Time since the kill until `share` of the dead node's clients were back (null: never). */
    const backBy = (share: number) => {
      // The first reports after the kill may predate the clients noticing it: count from the drop on.
      const dropped = recovery.samples.findIndex(([, p]) => back(p) < share * nDead);
      if (dropped < 0) return null;
      return recovery.samples.slice(dropped).find(([, p]) => back(p) >= share * nDead)?.[0] ?? null;
    };
    const p50 = (v: number[]) => percentile(v, 50);
    const p99 = (v: number[]) => percentile(v, 99);
    return {
      store: kind,
      name: LABEL[kind],
      clients,
      nodes: nodeCount,
      capacityPerNode: capacity,
      fillMs: fill.elapsedMs,
      killed: { port: victim.port, clients: nDead },
      cTotalPerSecond: cTotal,
      idealS: nDead / cTotal,
      allBackMs: backMs,
      t90Ms: backBy(0.9),
      t99Ms: backBy(0.99),
      ratioToIdeal: backMs === null ? null : backMs / ((nDead / cTotal) * 1000),
      attemptsAtSurvivors: perSecond.reduce((a, b) => a + b, 0),
      attemptsPerSecond: perSecond,
      presenceBeforeKill: beforeKill,
      presenceAfterGrace: afterGrace,
      convergedMsAfterKill: convergedMs,
      updateLatency: {
        probes: probeCount,
        sameNode: {
          expected: probe.expected.sameNode,
          seen: probe.sameNodeMs.length,
          p50Ms: p50(probe.sameNodeMs),
          p99Ms: p99(probe.sameNodeMs),
        },
        crossNode: {
          expected: probe.expected.crossNode,
          seen: probe.crossNodeMs.length,
          p50Ms: p50(probe.crossNodeMs),
          p99Ms: p99(probe.crossNodeMs),
        },
      },
      redis: {
        opsDuringRecovery: opsDelta,
        byCommand,
        idleOpsPerSecond,
        opsPerReconnect: nDead === 0 ? null : Math.max(0, opsDelta - idleOpsPerSecond * recoveryS) / nDead,
        roundTripsDuringRecovery: callsAfter - callsBefore,
        idleRoundTripsPerSecond: idleCallsPerSecond,
        roundTripsPerReconnect:
          nDead === 0 ? null : Math.max(0, callsAfter - callsBefore - idleCallsPerSecond * recoveryS) / nDead,
        usedMemoryDeltaBytes: memoryAfter - memoryBefore,
        usedMemoryDeltaPerMember: (memoryAfter - memoryBefore) / clients,
        keyBytes,
        rosterBytesPerMember: keyBytes.roster / clients,
      },
      survivorsCpuMs: Math.round(stats.reduce((a, s) => a + s.cpuMs, 0)),
      samples: recovery.samples.map(([t, p]) => [t, back(p)] as [number, number]),
    };
  } finally {
    if (population !== undefined) {
      population.send({ type: "stop" });
      await stopChild(population).catch(() => {});
    }
    for (const node of nodes) await stopChild(node.child).catch(() => {});
    await meter.stop();
  }
}

say(
  `cluster bench: ${nodeCount} nodes admitting ${capacity}/s each, ${clients} clients in spaces of ${spaceSize}, grace ${graceMs} ms; stores: ${kinds.join(", ")}`,
);
const started = Date.now();
/** What one store kind's run measured. */
export type KindResult = Awaited<ReturnType<typeof runKind>>;
const results: KindResult[] = [];
for (const kind of kinds) {
  say(`- ${LABEL[kind]}`);
  results.push(await runKind(kind));
}

const out = {
  clients,
  nodes: nodeCount,
  capacityPerNode: capacity,
  graceMs,
  batchMs,
  spaceSize,
  wallSeconds: (Date.now() - started) / 1000,
  results: results.map(({ samples, ...rest }) => rest),
};
const { md, chart } = clusterReport(results, {
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
});
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(out, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md);
writeFileSync(join(values.out, "chart.svg"), chart);
say(`\n${md}\nwrote ${values.out}/results.json, results.md, chart.svg in ${out.wallSeconds.toFixed(1)} s`);
process.exit(0);
