/**
 * `npm run bench:attack`: the presence hub at its default settings, on a real `ws` (or Socket.IO) server on 127.0.0.1,
 * attacked by a separate process; for each scenario, quiet and attack windows alternate in the same run.
 * Figures: others' update latency (p50/p99, from real clients), server memory held for the attacker, seats
 * and spaces, event-loop delay. Writes results.json, results.md and chart.svg.
 *
 *   npm run bench:attack -- [--seconds 10] [--rounds 5] [--members 1000] [--probers 10] [--nice 19] [--transport ws|socket.io]
 *                          [--only sync-flood,update-flood] [--out bench/results/attack]
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { PresenceConnection, PresenceHub } from "../../src/server/presence/index.js";
import { figure, LatencyProbe } from "./probe.js";
import { type AttackResults, toMarkdown, toSvg } from "./report.js";
import { type PhaseFigures, SCENARIOS, type Scenario, type ScenarioFigures } from "./scenarios.js";
import { type AttackServer, startAttackServer } from "./servers.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    rounds: { type: "string", default: "5" },
    members: { type: "string", default: "1000" },
    probers: { type: "string", default: "10" },
    nice: { type: "string", default: "19" },
    transport: { type: "string", default: "ws" },
    only: { type: "string", default: "" },
    out: { type: "string", default: "bench/results/attack" },
  },
});

function intFlag(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`--${name} must be an integer >= ${min}; got ${text}`);
  return value;
}

const seconds = intFlag("seconds", values.seconds, 1);
const rounds = intFlag("rounds", values.rounds, 1);
const members = intFlag("members", values.members, 0);
const probers = intFlag("probers", values.probers, 1);
const niceness = intFlag("nice", values.nice, 0);
const transport = values.transport === "socket.io" ? "socket.io" : "ws";
if (values.transport !== transport)
  throw new RangeError(`--transport must be ws or socket.io; got ${values.transport}`);
const only = (values.only ?? "").split(",").filter((id) => id !== "");
const out = values.out ?? "bench/results/attack";
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (npm run bench:attack does)");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` members in "office" held by in-process connections (so the roster and its answers are full size). */
function fill(hub: PresenceHub, count: number): void {
  for (let i = 0; i < count; i++) {
    const sink: PresenceConnection = { id: `sink-${i}`, send: () => {} };
    const state = { room: `room-${i % 10}`, emoji: "☕", layout: { x: i, y: -i } };
    hub.receive(
      sink,
      JSON.stringify({
        $presence: "sync",
        v: 1,
        space: "office",
        member: `m${i}`,
        epoch: null,
        rev: null,
        state,
      }),
    );
  }
}

function memory(): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Latency samples, event-loop delay and CPU of one condition (quiet or attack), over all its windows. */
class Condition {
  readonly samples: number[] = [];
  private readonly loop = monitorEventLoopDelay({ resolution: 5 });
  private cpuMicros = 0;
  private wallMs = 0;
  memoryBytes = 0;

  /** Runs one window of `ms`; `during` runs alongside (sampling). */
  async window(probe: LatencyProbe, ms: number): Promise<void> {
    probe.take();
    this.loop.enable();
    const cpu = process.cpuUsage();
    const began = performance.now();
    await sleep(ms);
    const used = process.cpuUsage(cpu);
    this.wallMs += performance.now() - began;
    this.cpuMicros += used.user + used.system;
    this.loop.disable();
    this.samples.push(...probe.take());
  }

  figures(): PhaseFigures {
    return {
      latency: figure(this.samples),
      loopDelayP99Ms: this.loop.percentile(99) / 1e6,
      serverCpuPercent: (this.cpuMicros / 1_000 / this.wallMs) * 100,
      memoryBytes: this.memoryBytes,
    };
  }
}

interface Attacker {
  go(): void;
  stop(): void;
  /** Ends the attack; resolves with the JSON line the attacker prints. */
  end(): Promise<Record<string, unknown>>;
}

/** Starts the attacker process and waits until it is loaded (it attacks only when told to). */
function attacker(scenario: Scenario, server: AttackServer): Promise<Attacker> {
  const args = [
    "--import",
    "tsx",
    join(import.meta.dirname, "attacker.ts"),
    scenario.attack.mode,
    server.url,
  ];
  args.push(String(scenario.attack.rate ?? 0), transport);
  // On a shared box the attacker's own CPU would be counted as the server's cost; niced, it stands in for
  // the other machine a real attacker is (what it managed to send is reported).
  const [command, argv] =
    niceness > 0 ? ["nice", ["-n", String(niceness), process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command, argv, { stdio: ["pipe", "pipe", "inherit"] });
  let text = "";
  const finished = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`attacker ${scenario.attack.mode} exited with ${code}`));
      else resolve(JSON.parse(text.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>);
    });
  });
  return new Promise((resolve, reject) => {
    finished.catch(reject);
    child.stdout.on("data", (chunk: Buffer) => {
      const waiting = !text.includes("ready");
      text += chunk.toString("utf8");
      if (!waiting || !text.includes("ready")) return;
      resolve({
        go: () => child.stdin.write("go\n"),
        stop: () => child.stdin.write("stop\n"),
        end: () => {
          child.stdin.end("end\n");
          return finished;
        },
      });
    });
  });
}

/**
 * One scenario: `rounds` pairs of a quiet window and an attack window of `seconds / rounds` each, with a
 * settling second after each attack window (discarded). Alternating puts the machine's own noise into both
 * conditions alike; the figures pool each condition's windows.
 */
async function measure(scenario: Scenario): Promise<ScenarioFigures> {
  const server = await startAttackServer(transport);
  try {
    fill(server.hub, members);
    const attack$ = await attacker(scenario, server);
    const probe = await LatencyProbe.start(server, probers);
    const honest = server.sockets.length;
    probe.run();
    await sleep(500);
    const quiet = new Condition();
    const attack = new Condition();
    const windowMs = (seconds * 1_000) / rounds;
    let held = 0;
    let maxSeats = 0;
    let maxSpaces = 0;
    let sampling = false;
    const sampler = setInterval(() => {
      if (!sampling) return;
      for (const side of server.sockets.slice(honest)) held = Math.max(held, side.buffered());
      const stats = server.hub.stats();
      maxSeats = Math.max(maxSeats, stats.seats);
      maxSpaces = Math.max(maxSpaces, stats.spaces);
    }, 20);
    for (let round = 0; round < rounds; round++) {
      await quiet.window(probe, windowMs);
      if (round === 0) quiet.memoryBytes = memory();
      attack$.go();
      sampling = true;
      await attack.window(probe, windowMs);
      attack$.stop();
      await sleep(1_000);
      sampling = false;
    }
    attack.memoryBytes = memory();
    clearInterval(sampler);
    const report = await attack$.end();
    probe.stop();
    const { inbound: _inbound, ...hub } = server.hub.stats();
    const q = quiet.figures();
    const a = attack.figures();
    return {
      quiet: q,
      attack: a,
      p99Ratio: a.latency.p99Ms / q.latency.p99Ms,
      heldForAttackerBytes: held,
      memoryDeltaBytes: a.memoryBytes - q.memoryBytes,
      maxSeats,
      maxSpaces,
      hub,
      attacker: report,
    };
  } finally {
    await server.stop();
  }
}

const chosen = SCENARIOS.filter((s) => only.length === 0 || only.includes(s.id));
const results: AttackResults = {
  command: `npm run bench:attack -- --seconds ${seconds} --rounds ${rounds} --members ${members} --probers ${probers} --nice ${niceness} --transport ${transport}${only.length > 0 ? ` --only ${only.join(",")}` : ""}`,
  settings: { seconds, rounds, members, probers, attackerNice: niceness, hub: "defaults", transport },
  scenarios: [],
};
for (const scenario of chosen) {
  process.stdout.write(`${scenario.id}: ${scenario.title}\n`);
  const figures = await measure(scenario);
  (results.scenarios as AttackResults["scenarios"][number][]).push({ scenario, figures });
  for (const goal of scenario.goals) {
    process.stdout.write(`  ${goal.met(figures) ? "ok " : "NO "} ${goal.label}: ${goal.value(figures)}\n`);
  }
}
mkdirSync(out, { recursive: true });
const json = results.scenarios.map(({ scenario, figures }) => ({
  id: scenario.id,
  title: scenario.title,
  goals: scenario.goals.map((g) => ({ label: g.label, met: g.met(figures), value: g.value(figures) })),
  ...figures,
}));
writeFileSync(
  join(out, "results.json"),
  `${JSON.stringify({ command: results.command, settings: results.settings, scenarios: json }, null, 2)}\n`,
);
writeFileSync(join(out, "results.md"), toMarkdown(results));
writeFileSync(join(out, "chart.svg"), toSvg(results));
process.stdout.write(`wrote ${join(out, "results.json")}, results.md, chart.svg\n`);
process.exit(0);
