/**
 * Soak: `--cycles` connect/drop cycles (default 10,000) in one process against a real `ws` server on
 * 127.0.0.1. `--clients` sockets run concurrently; every client is closed and replaced by a fresh one after
 * `--replace-every` of its cycles, so construction and close() are soaked too. Reports heap growth after GC
 * (baseline after a warm-up), timers and handles left (`process.getActiveResourcesInfo()` and the clients'
 * own timer count), listeners left on closed sockets, and open file descriptors (/proc/self/fd).
 *
 *   npm run bench:soak -- [--cycles 10000] [--clients 20] [--replace-every 50] [--out bench/results/soak]
 *
 * Needs --expose-gc (the npm script passes it). Writes <out>/results.json and <out>/results.md.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket, WebSocketServer } from "ws";
import { type Clock, decorrelatedJitter, ResilientSocket, type TimerHandle } from "../src/index.js";
import { systemClock } from "../src/internals.js";
import { type WebSocketConstructor, webSocketTransport } from "../src/websocket.js";

const { values } = parseArgs({
  options: {
    cycles: { type: "string", default: "10000" },
    clients: { type: "string", default: "20" },
    "replace-every": { type: "string", default: "50" },
    out: { type: "string", default: "bench/results/soak" },
  },
});
const cycles = Number(values.cycles);
const concurrency = Number(values.clients);
const replaceEvery = Number(values["replace-every"]);
for (const [name, value] of [
  ["cycles", cycles],
  ["clients", concurrency],
  ["replace-every", replaceEvery],
] as const) {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`--${name} must be an integer >= 1; got ${value}`);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (npm run bench:soak does)");

/** Counts the timers a client holds (set, neither fired nor cleared). */
let liveTimers = 0;
const countingClock: Clock = {
  now: () => systemClock.now(),
  setTimeout(callback, delayMs) {
    liveTimers++;
    let done = false;
    const handle = systemClock.setTimeout(() => {
      done = true;
      liveTimers--;
      callback();
    }, delayMs);
    return {
      handle,
      get done() {
        return done;
      },
      set done(v) {
        done = v;
      },
    } as unknown as TimerHandle;
  },
  clearTimeout(timer) {
    const t = timer as unknown as { handle: TimerHandle; done: boolean };
    if (!t.done) liveTimers--;
    t.done = true;
    systemClock.clearTimeout(t.handle);
  },
};

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
// Every connection: one message (which makes the client's connection stable), then a drop (1001).
wss.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.send("hello", () => ws.close(1001));
});

let completed = 0;
let target = 0;
let listenersLeft = 0;
let errors = 0;
const active = new Set<ResilientSocket>();

function spawnClient(onDone: () => void): void {
  const socket = new ResilientSocket({
    transport: webSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
    backoff: decorrelatedJitter({ baseMs: 1, capMs: 10 }),
    circuitBreaker: false,
    stableOnFirstMessage: true,
    clock: countingClock,
  });
  active.add(socket);
  let mine = 0;
  socket.on("error", () => errors++);
  socket.on("close", () => {
    completed++;
    mine++;
    if (completed < target && mine < replaceEvery) return;
    void socket.close().then(() => {
      listenersLeft += socket.eventNames().length;
      active.delete(socket);
      if (completed < target) spawnClient(onDone);
      else if (active.size === 0) onDone();
    });
  });
}

async function run(cycleCount: number): Promise<void> {
  target = completed + cycleCount;
  await new Promise<void>((resolve) => {
    for (let i = 0; i < concurrency; i++) spawnClient(resolve);
  });
  // The server side of the last connections closes asynchronously.
  while (wss.clients.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

function snapshot() {
  for (let i = 0; i < 5; i++) gc?.();
  const resources: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) resources[name] = (resources[name] ?? 0) + 1;
  return {
    heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
    resources,
    fds: readdirSync("/proc/self/fd").length,
    clientTimers: liveTimers,
  };
}

await run(Math.min(200, cycles));
const before = snapshot();
const started = performance.now();
await run(cycles);
const seconds = (performance.now() - started) / 1000;
const after = snapshot();
wss.close();

const growthMB = after.heapUsedMB - before.heapUsedMB;
const resourceNames = [
  ...new Set([...Object.keys(before.resources), ...Object.keys(after.resources)]),
].sort();
const result = {
  cycles,
  concurrency,
  replaceEvery,
  seconds: Number(seconds.toFixed(1)),
  cyclesPerSecond: Math.round(cycles / seconds),
  heap: { beforeMB: before.heapUsedMB, afterMB: after.heapUsedMB, growthMB },
  resources: { before: before.resources, after: after.resources },
  fds: { before: before.fds, after: after.fds },
  clientTimersLeft: after.clientTimers,
  listenersLeftOnClosedSockets: listenersLeft,
  errorsReported: errors,
  node: process.version,
};
const md = [
  `# Soak: ${cycles} connect/drop cycles (${concurrency} concurrent clients, each replaced after ${replaceEvery})`,
  "",
  `${result.seconds} s, ${result.cyclesPerSecond} cycles/s, Node ${process.version}.`,
  "",
  "| measure | before | after | change |",
  "|---|---:|---:|---:|",
  `| heap used after GC (MB) | ${before.heapUsedMB.toFixed(2)} | ${after.heapUsedMB.toFixed(2)} | ${growthMB >= 0 ? "+" : ""}${growthMB.toFixed(2)} |`,
  `| open file descriptors | ${before.fds} | ${after.fds} | ${after.fds - before.fds} |`,
  ...resourceNames.map((name) => {
    const b = before.resources[name] ?? 0;
    const a = after.resources[name] ?? 0;
    return `| active ${name} | ${b} | ${a} | ${a - b} |`;
  }),
  `| timers held by clients | ${before.clientTimers} | ${after.clientTimers} | ${after.clientTimers - before.clientTimers} |`,
  `| listeners left on closed sockets | — | ${listenersLeft} | — |`,
  "",
].join("\n");
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md);
process.stdout.write(md);
