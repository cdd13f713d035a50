/**
 * Presence hub figures: a space of 10,000 members on one hub (CPU per broadcast update, memory per member,
 * 10,000 cold syncs), and 1,000 real clients reconnecting inside the grace period over a real `ws` server.
 * Each in-process figure is measured `--repeat` times on a fresh hub and the median reported (the machines
 * are small and noisy). Stops by itself.
 *
 *   npm run bench:presence -- [--members 10000] [--clients 1000] [--repeat 5] [--out bench/results/presence]
 *
 * (`npm run bench:presence` runs node with --expose-gc, which the memory figure needs.)
 * Writes <out>/results.json and <out>/results.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type BroadcastFigure,
  broadcast,
  type ColdSyncFigure,
  coldSyncs,
  type MemoryFigure,
  median,
  memory,
} from "./presence/hub-figures.js";
import { type ReconnectFigure, reconnectInsideGrace } from "./presence/reconnect.js";

const { values } = parseArgs({
  options: {
    members: { type: "string", default: "10000" },
    clients: { type: "string", default: "1000" },
    repeat: { type: "string", default: "5" },
    out: { type: "string", default: "bench/results/presence" },
  },
});
function intFlag(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`--${name} must be an integer >= ${min}; got ${value}`);
  return n;
}
const members = intFlag("members", values.members, 200);
const clients = intFlag("clients", values.clients, 2);
const repeat = intFlag("repeat", values.repeat, 1);
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs `measure` `repeat` times and keeps, for every numeric field, the median over the runs. */
function medianOf<T extends object>(label: string, measure: () => T): T {
  const runs: T[] = [];
  for (let i = 0; i < repeat; i++) runs.push(measure());
  const first = runs[0] as T;
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(first));
  for (const [key, value] of Object.entries(first)) {
    if (typeof value === "number")
      out[key] = median(runs.map((run) => Number(Object.getOwnPropertyDescriptor(run, key)?.value)));
  }
  say(`  ${label}: ${JSON.stringify(out)}`);
  return out as T;
}

say(`presence hub, ${members} members, median of ${repeat} runs`);
const mem: MemoryFigure = medianOf("memory", () => memory(members));
const single: BroadcastFigure = medianOf("1 update per batch", () =>
  broadcast(members, 1, Math.min(100, members - 1)),
);
const batched: BroadcastFigure = medianOf("100 updates per batch", () =>
  broadcast(members, 100, Math.min(20, Math.floor((members - 1) / 100))),
);
const cold: ColdSyncFigure[] = [];
for (const into of ["empty space", "full space"] as const) {
  for (const perBatch of [100, members]) {
    cold.push(
      medianOf(`${members} cold syncs into a ${into}, ${perBatch} per batch`, () =>
        coldSyncs(members, perBatch, into),
      ),
    );
  }
}

say(`real sockets: ${clients} clients reconnect inside the grace period (and, for contrast, with graceMs 0)`);
const storms: ReconnectFigure[] = [];
for (const graceMs of [30_000, 0]) {
  const figure = await reconnectInsideGrace({ clients, graceMs, timeoutMs: 120_000 });
  say(`  graceMs ${graceMs}: ${JSON.stringify(figure)}`);
  storms.push(figure);
}

const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits });
const md = [
  "# Presence hub figures",
  "",
  `Command: \`npm run bench:presence -- --members ${members} --clients ${clients} --repeat ${repeat}\``,
  `Node ${process.version}, ${new Date().toISOString()}. CPU time = user + system of this process (\`process.cpuUsage\`),`,
  `median of ${repeat} runs on a fresh hub each. In-process figures use counting sinks for connections (the`,
  "hub's own cost: no socket writes); the reconnect figure uses real sockets on 127.0.0.1.",
  "",
  `## One space of ${fmt(members, 0)} members`,
  "",
  "| figure | value |",
  "|---|---|",
  `| memory per member (heap after GC, connections included) | **${fmt(mem.bytesPerMember, 0)} B** (${fmt(mem.heapBytes / 1_048_576)} MiB in all; aim < 2 KB) |`,
  `| CPU per broadcast update, 1 update per batch | **${fmt(single.microsPerUpdate)} µs** per update, ${fmt(single.nanosPerRecipient)} ns per recipient (diff ${single.diffBytes} chars) |`,
  `| CPU per broadcast update, 100 updates per batch | **${fmt(batched.microsPerUpdate)} µs** per update (${fmt(batched.microsPerBatch)} µs per batch, ${fmt(batched.nanosPerRecipient)} ns per recipient, diff ${fmt(batched.diffBytes, 0)} chars) |`,
  `| batching gain (per update, 1 vs 100 per batch) | ${fmt(single.microsPerUpdate / batched.microsPerUpdate)} × |`,
  "",
  `## ${fmt(members, 0)} cold syncs (no revision: each answered with a snapshot)`,
  "",
  "| into | syncs per batch | CPU total | per sync | text sent (snapshots + diffs) |",
  "|---|---|---|---|---|",
  ...cold.map(
    (c) =>
      `| ${c.into} | ${fmt(c.syncsPerBatch, 0)} | **${fmt(c.totalMs, 0)} ms** | ${fmt(c.microsPerSync)} µs | ${fmt(c.bytesSent / 1e9, 2)} G chars |`,
  ),
  "",
  "A full space = every member in its grace period (connections dropped), then every page reloads.",
  "",
  `## ${fmt(clients, 0)} real clients reconnect (server drops every socket; they come back on their own backoff)`,
  "",
  "| graceMs | join/leave events at clients | join/leave changes broadcast | diff messages | up / down per reconnect | all back in |",
  "|---|---|---|---|---|---|",
  ...storms.map(
    (s) =>
      `| ${fmt(s.graceMs, 0)} | **${fmt(s.joinLeaveEvents, 0)}** | ${fmt(s.joinLeaveBroadcast, 0)} | ${fmt(s.diffMessages, 0)} | ${fmt(s.upPerReconnect, 2)} / ${fmt(s.answersPerReconnect, 2)} | ${fmt(s.reconnectMs / 1_000, 2)} s |`,
  ),
  "",
];
mkdirSync(values.out, { recursive: true });
const results = {
  members,
  clients,
  repeat,
  node: process.version,
  memory: mem,
  broadcast: [single, batched],
  cold,
  storms,
};
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md.join("\n"));
say(`wrote ${join(values.out, "results.json")} and results.md`);
