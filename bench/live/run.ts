/**
 * The live storm: real sockets on loopback. For each client kind, a real server (child process) fills up
 * with N real clients (another child process), is killed (SIGKILL: every socket drops at once), and
 * restarts on the same port `--restart-ms` later with admission control at C new connections per second.
 * Measured side by side in one run: time until all N are connected again (and as a ratio of N / C),
 * attempts the restarted server saw, peak attempts per second, server CPU. Everything stops by itself.
 *
 *   npm run bench:live -- [--clients 5000] [--capacity 100] [--transport socket.io|ws] [--restart-ms 1000]
 *                          [--horizon-s 300] [--out dir] [--kinds baseline,ours,ours-no-hints,io] [--parallel]
 *                          [--recovery]
 *
 * Kinds, over Socket.IO (`--transport socket.io`, the default):
 * `baseline` = socket.io-client defaults against a server refusing at the HTTP upgrade (403);
 * `ours` = ResilientSocket against the library's admission middleware (refusals carry appointments);
 * `ours-no-hints` = ResilientSocket against the 403 server (isolates what the hints themselves do);
 * `io` = the governed `io()` from `resilient-reconnect/socket.io` (socket.io-client's Socket, our policy)
 * against the admission middleware — what a Socket.IO app gets by changing its import.
 * `--recovery` turns on the servers' connectionStateRecovery (socket.io's defaults) for every kind.
 * Over a plain `ws` server (`--transport ws`): `baseline` = a `ws` client on socket.io-client's own backoff
 * against a server answering 503 without Retry-After; `ours` = ResilientSocket over webSocketTransport
 * against `wsAdmission` (close 1013 with the hint); `ours-no-hints` = ResilientSocket against the 503 server.
 *
 * The defaults put N / C at 50 s, the storm lab's mass-drop ratio (100,000 / 2,000) scaled down 20 ×: a
 * crowd that needs many times the peers' 5 s retry cap to get back in, as in the incident.
 * `--parallel` runs the kinds at the same time (separate servers and populations) — the demo's mode.
 *
 * Writes <out>/results.json, <out>/results.md and <out>/chart.svg.
 */

import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { liveChart } from "./chart.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "5000" },
    capacity: { type: "string", default: "100" },
    transport: { type: "string", default: "socket.io" },
    "restart-ms": { type: "string", default: "1000" },
    "horizon-s": { type: "string", default: "300" },
    out: { type: "string", default: "bench/results/live" },
    quiet: { type: "boolean", default: false },
    parallel: { type: "boolean", default: false },
    kinds: { type: "string" },
    recovery: { type: "boolean", default: false },
  },
});
function intFlag(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`--${name} must be an integer >= ${min}; got ${value}`);
  return n;
}
const clients = intFlag("clients", values.clients, 1);
const capacity = intFlag("capacity", values.capacity, 1);
const restartMs = intFlag("restart-ms", values["restart-ms"], 0);
const horizonMs = intFlag("horizon-s", values["horizon-s"], 1) * 1000;
const transport = values.transport;
if (transport !== "socket.io" && transport !== "ws")
  throw new RangeError(`--transport must be socket.io or ws; got ${transport}`);
const here = import.meta.dirname;
const say = (line: string) => values.quiet || process.stdout.write(`${line}\n`);

type Kind = "baseline" | "ours" | "ours-no-hints" | "io";
const LABEL: Record<Kind, string> =
  transport === "socket.io"
    ? {
        baseline: "socket.io-client defaults",
        ours: "resilient-reconnect with hints",
        "ours-no-hints": "resilient-reconnect, refused at the upgrade (no hints)",
        io: "resilient-reconnect io() with hints",
      }
    : {
        baseline: "ws + socket.io-client's backoff",
        ours: "resilient-reconnect with hints (close 1013)",
        "ours-no-hints": "resilient-reconnect, refused with 503 (no hints)",
        io: "(io() is Socket.IO only)",
      };
const KINDS = (values.kinds ?? (transport === "socket.io" ? "baseline,ours,io" : "baseline,ours")).split(
  ",",
) as Kind[];
for (const kind of KINDS) {
  if (!(kind in LABEL))
    throw new RangeError(`--kinds: unknown kind ${kind} (known: ${Object.keys(LABEL).join(", ")})`);
}

/** What each kind is doing, for the progress line of `--parallel`. */
const status = new Map<Kind, string>();

interface ServerReport {
  attempts: number;
  attemptsPer100ms: number[];
  connected: number;
  cpuMs: number;
  uptimeMs: number;
}

function spawn(script: string, args: string[]): ChildProcess {
  return fork(join(here, script), args, {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${type}" from ${child.spawnfile} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: { type?: string }) => {
      if (message?.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
  });
}

async function startServer(
  port: number,
  serverCapacity: number,
  mode: "hints" | "baseline",
  announceBudget = false,
) {
  const child = spawn("server-process.ts", [
    "--port",
    String(port),
    "--capacity",
    String(serverCapacity),
    "--mode",
    mode,
    "--transport",
    transport,
    ...(values.recovery ? ["--recovery"] : []),
    // The connect-time budget: W = N / C of the restarted server, announced by the one that fills up too.
    ...(announceBudget ? ["--budget", String(clients), "--budget-rate", String(capacity)] : []),
  ]);
  const ready = await nextMessage<{ port: number }>(child, "ready", 15_000);
  return { child, port: ready.port };
}

/** Collects the population's progress reports until `done(connected)` holds or the time runs out. */
function watchPopulation(
  population: ChildProcess,
  done: (connected: number) => boolean,
  timeoutMs: number,
  onProgress?: (connected: number) => void,
): Promise<{ reached: boolean; elapsedMs: number; samples: [number, number][] }> {
  const start = Date.now();
  const samples: [number, number][] = [];
  return new Promise((resolve) => {
    const finish = (reached: boolean) => {
      clearTimeout(timer);
      population.off("message", onMessage);
      resolve({ reached, elapsedMs: Date.now() - start, samples });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onMessage = (message: { type?: string; connected?: number }) => {
      if (message?.type !== "progress" || typeof message.connected !== "number") return;
      samples.push([Date.now() - start, message.connected]);
      onProgress?.(message.connected);
      if (done(message.connected)) finish(true);
    };
    population.on("message", onMessage);
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

async function runKind(kind: Kind) {
  const fill = await startServer(0, 0, "hints", kind === "ours" || kind === "io");
  const url = `http://127.0.0.1:${fill.port}`;
  const population = spawn("clients-process.ts", [
    "--url",
    url,
    "--clients",
    String(clients),
    "--kind",
    kind === "baseline" || kind === "io" ? kind : "ours",
    "--transport",
    transport,
  ]);
  try {
    const filled = await watchPopulation(population, (n) => n >= clients, 60_000);
    if (!filled.reached)
      throw new Error(`${kind}: only part of ${clients} clients connected to the fresh server`);
    if (!values.parallel) say(`  ${LABEL[kind]}: ${clients} connected; killing the server`);
    status.set(kind, "all connected; server killed");
    await stop(fill.child, "SIGKILL");
    // Restart only once every client has seen the drop: a progress report sent before the kill must never
    // be read as "all back" after the restart.
    const dropped = await watchPopulation(population, (n) => n === 0, 30_000);
    if (!dropped.reached) throw new Error(`${kind}: not every client noticed the server was killed`);
    await new Promise((resolve) => setTimeout(resolve, restartMs));
    const restarted = await startServer(
      fill.port,
      capacity,
      kind === "ours" || kind === "io" ? "hints" : "baseline",
      kind === "ours" || kind === "io",
    );
    // "baseline" server mode = refusal at the HTTP upgrade (403), no hint — for ours-no-hints as well.
    try {
      const restartedAt = Date.now();
      let lastShown = restartedAt;
      const recovery = await watchPopulation(
        population,
        (n) => n >= clients,
        horizonMs,
        (connected) => {
          const now = Date.now();
          const since = ((now - restartedAt) / 1000).toFixed(1);
          status.set(kind, `${connected}/${clients} back ${since} s after restart`);
          if (values.parallel || now - lastShown < 1000) return;
          lastShown = now;
          say(`    ${LABEL[kind]}: ${since} s after restart, ${connected}/${clients} connected`);
        },
      );
      status.set(
        kind,
        recovery.reached ? `all back in ${(recovery.elapsedMs / 1000).toFixed(1)} s` : "not all back",
      );
      restarted.child.send({ type: "report" });
      const report = await nextMessage<ServerReport>(restarted.child, "report", 10_000);
      const peakPer100ms = Math.max(0, ...report.attemptsPer100ms);
      const perSecond = report.attemptsPer100ms.map((_, i, all) =>
        all.slice(Math.max(0, i - 9), i + 1).reduce((a, b) => a + b, 0),
      );
      return {
        name: LABEL[kind],
        kind,
        recovered: recovery.reached,
        timeToAllConnectedMs: recovery.reached ? recovery.elapsedMs : null,
        ratioToPhysicalLimit: recovery.reached ? recovery.elapsedMs / ((clients / capacity) * 1000) : null,
        attemptsSeen: report.attempts,
        attemptsPerClient: report.attempts / clients,
        peakAttemptsPerSecond: Math.max(0, ...perSecond),
        peakAttemptsPer100ms: peakPer100ms,
        serverCpuMs: Math.round(report.cpuMs),
        samples: recovery.samples,
        // Whole seconds since the restarted server started (its clock starts at the restart).
        attemptsPerSecond: Array.from({ length: Math.ceil(report.attemptsPer100ms.length / 10) }, (_, sec) =>
          report.attemptsPer100ms.slice(sec * 10, sec * 10 + 10).reduce((a, b) => a + b, 0),
        ),
      };
    } finally {
      await stop(restarted.child);
    }
  } finally {
    population.send({ type: "stop" });
    await stop(population).catch(() => {});
    await stop(fill.child).catch(() => {});
  }
}

say(
  `live storm over ${transport}: ${clients} clients, server admits ${capacity}/s (N/C = ${clients / capacity} s), restart after ${restartMs} ms${values.parallel ? ", kinds side by side" : ""}`,
);
const started = Date.now();
const results: Awaited<ReturnType<typeof runKind>>[] = [];
if (values.parallel) {
  // One line a second for all kinds at once.
  const ticker = setInterval(() => {
    const line = KINDS.map((kind) => `${LABEL[kind]}: ${status.get(kind) ?? "starting"}`).join("  |  ");
    say(`  ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s  ${line}`);
  }, 1000);
  try {
    results.push(...(await Promise.all(KINDS.map(runKind))));
  } finally {
    clearInterval(ticker);
  }
} else {
  for (const kind of KINDS) {
    say(`- ${LABEL[kind]}`);
    results.push(await runKind(kind));
  }
}
const baseline = results.find((r) => r.kind === "baseline");
const ours = results.find((r) => r.kind === "ours");
const governed = results.find((r) => r.kind === "io");
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
const comparison = {
  timeToAllConnected: ratio(ours?.timeToAllConnectedMs, baseline?.timeToAllConnectedMs),
  attemptsSeen: ratio(ours?.attemptsSeen, baseline?.attemptsSeen),
  peakAttemptsPerSecond: ratio(ours?.peakAttemptsPerSecond, baseline?.peakAttemptsPerSecond),
  serverCpu: ratio(ours?.serverCpuMs, baseline?.serverCpuMs),
};
const ioComparison = {
  timeToAllConnected: ratio(governed?.timeToAllConnectedMs, baseline?.timeToAllConnectedMs),
  attemptsSeen: ratio(governed?.attemptsSeen, baseline?.attemptsSeen),
  peakAttemptsPerSecond: ratio(governed?.peakAttemptsPerSecond, baseline?.peakAttemptsPerSecond),
  serverCpu: ratio(governed?.serverCpuMs, baseline?.serverCpuMs),
};
const out = {
  transport,
  connectionStateRecovery: values.recovery,
  parallel: values.parallel,
  clients,
  capacity,
  physicalLimitS: clients / capacity,
  restartMs,
  wallSeconds: (Date.now() - started) / 1000,
  strategies: results.map(({ samples, attemptsPerSecond, ...rest }) => ({ ...rest, attemptsPerSecond })),
  oursOverBaseline: comparison,
  ioOverBaseline: governed === undefined ? null : ioComparison,
};
const f = (x: number | null, digits = 2) => (x === null ? "—" : x.toFixed(digits));
let md = `# Live storm on loopback over ${transport}: ${clients} real clients, server admits ${capacity}/s (N/C = ${clients / capacity} s)${values.recovery ? ", connectionStateRecovery on" : ""}\n\n`;
md +=
  "| clients | all back after | × N/C | attempts the server saw | per client | peak attempts/s | server CPU |\n|---|---:|---:|---:|---:|---:|---:|\n";
for (const r of results) {
  md += `| ${r.name} | ${r.recovered ? `${f((r.timeToAllConnectedMs ?? 0) / 1000, 1)} s` : "not within horizon"} | ${f(r.ratioToPhysicalLimit)} | ${r.attemptsSeen} | ${f(r.attemptsPerClient)} | ${r.peakAttemptsPerSecond} | ${r.serverCpuMs} ms |\n`;
}
md += `\nOurs with hints ÷ ${LABEL.baseline}, same run: time to all connected ${f(comparison.timeToAllConnected)}, attempts ${f(comparison.attemptsSeen)}, peak attempts/s ${f(comparison.peakAttemptsPerSecond)}, server CPU ${f(comparison.serverCpu)}.\n`;
if (governed !== undefined)
  md += `\nio() ÷ ${LABEL.baseline}, same run: time to all connected ${f(ioComparison.timeToAllConnected)}, attempts ${f(ioComparison.attemptsSeen)}, peak attempts/s ${f(ioComparison.peakAttemptsPerSecond)}, server CPU ${f(ioComparison.serverCpu)}.\n`;
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(out, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md);
writeFileSync(
  join(values.out, "chart.svg"),
  liveChart({
    title: `Live storm over ${transport}: ${clients.toLocaleString("en")} clients, server admits ${capacity}/s after a crash`,
    clients,
    capacity,
    series: results,
  }),
);
say(`\n${md}\nwrote ${values.out}/results.json, results.md, chart.svg in ${out.wallSeconds.toFixed(1)} s`);
