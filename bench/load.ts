/**
 * Load: one process holding `--clients` (default 5,000) connections to one `ws` server (in a child
 * process, so its memory is not counted), as bare `ws` WebSockets and as ResilientSockets over
 * `webSocketTransport` — side by side in one run.
 *
 * Memory per client after GC (heap, and external + array buffers): after a warm-up batch of each kind, the
 * bare population is opened, then ours on top of it, then a second bare one as a control (what the method
 * moves between two identical populations), each measured as the heap growth it caused. Ours is measured
 * at open and once past `stableAfterMs` (held), and compared with the control: the first population measured
 * pays one-off costs later ones do not. The bare sockets hold what any app holds: message, close and error
 * listeners (shared functions, the leanest bare use).
 *
 * Throughput: every client sends `--messages` 64-byte messages, timed until the server has counted them all;
 * rounds alternate between the populations (bare, ours, ours, bare…) so a noisy neighbour slows both alike,
 * with a GC before each. Reported: the median of the paired ratios (bare round time ÷ ours, per pair of
 * neighbouring rounds), and the ratio of the two medians.
 *
 * It measures the built package (`dist/`, what users run; the npm script builds first), not the sources
 * through tsx: tsx compiles with esbuild's `keepNames`, which redefines `name` on every function and turns
 * each closure into a dictionary-mode object — some 3 KB per client that no user pays.
 *
 *   npm run bench:load -- [--clients 5000] [--messages 20] [--rounds 11] [--out bench/results/load]
 *
 * Needs --expose-gc (the npm script passes it). Writes <out>/results.json and <out>/results.md.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import type { WebSocketConstructor } from "../src/websocket.js";

// The built package, typed by its sources (dist/ does not exist before a build, when the project is
// typechecked; the npm script builds first).
const built = (path: string) => new URL(`../dist/${path}`, import.meta.url).href;
const { ResilientSocket } = (await import(built("index.js"))) as typeof import("../src/index.js");
const { webSocketTransport } = (await import(built("websocket.js"))) as typeof import("../src/websocket.js");
type ResilientSocket = import("../src/index.js").ResilientSocket;

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "5000" },
    messages: { type: "string", default: "20" },
    rounds: { type: "string", default: "11" },
    out: { type: "string", default: "bench/results/load" },
  },
});
const clients = Number(values.clients);
const messages = Number(values.messages);
const rounds = Number(values.rounds);
for (const [name, value] of [
  ["clients", clients],
  ["messages", messages],
  ["rounds", rounds],
] as const) {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`--${name} must be an integer >= 1; got ${value}`);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (npm run bench:load does)");
const PAYLOAD = "x".repeat(64);
const BATCH = 250;
const ignore = () => {};
/** ResilientSocket's default `stableAfterMs`. */
const STABLE_AFTER_MS = 10_000;

const server: ChildProcess = fork(new URL("./load/server.ts", import.meta.url), [], {
  execArgv: ["--import", "tsx"],
});
const replies: Array<(message: { port?: number; reached?: number }) => void> = [];
server.on("message", (message: { port?: number; reached?: number }) => replies.shift()?.(message));
const reply = () => new Promise<{ port?: number; reached?: number }>((resolve) => replies.push(resolve));
const { port } = await reply();
const url = `ws://127.0.0.1:${port}/`;

interface Population {
  send(): void;
  close(): Promise<void>;
}

function memory() {
  for (let i = 0; i < 5; i++) gc?.();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, external: usage.external + usage.arrayBuffers };
}

async function openBare(count = clients): Promise<Population> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - i) }, () => new WebSocket(url));
    await Promise.all(
      batch.map((ws) => new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject))),
    );
    // What any app holds on a bare socket: message, close and error listeners (ws throws on an unheard
    // error). Shared functions, the cheapest way: the baseline is as lean as bare use gets.
    for (const ws of batch)
      ws.removeAllListeners().on("message", ignore).on("close", ignore).on("error", ignore);
    sockets.push(...batch);
  }
  return {
    send: () => {
      for (const ws of sockets) for (let m = 0; m < messages; m++) ws.send(PAYLOAD);
    },
    close: async () => {
      await Promise.all(sockets.map((ws) => new Promise((resolve) => ws.once("close", resolve).close())));
      await new Promise((resolve) => setTimeout(resolve, 500));
    },
  };
}

async function openResilient(count = clients): Promise<Population> {
  const sockets: ResilientSocket[] = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch = Array.from(
      { length: Math.min(BATCH, count - i) },
      () =>
        new ResilientSocket({
          transport: webSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
        }),
    );
    await Promise.all(batch.map((socket) => new Promise((resolve) => socket.once("open", resolve))));
    for (const socket of batch) socket.on("message", ignore); // as the bare sockets (close/error: ours)
    sockets.push(...batch);
  }
  return {
    send: () => {
      for (const socket of sockets) for (let m = 0; m < messages; m++) socket.send(PAYLOAD);
    },
    close: async () => {
      await Promise.all(sockets.map((socket) => socket.close()));
      // close() is immediate for us; the TCP connections finish closing a moment later.
      await new Promise((resolve) => setTimeout(resolve, 500));
    },
  };
}

async function round(population: Population, count = clients): Promise<number> {
  gc?.(); // the other population's garbage is not collected on this one's time
  const reached = reply();
  server.send({ expect: count * messages });
  const started = performance.now();
  population.send();
  await reached;
  return (performance.now() - started) / 1000;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

// Warm-up: one batch of each kind opened, used and closed, so module loading, compiled code and the
// runtime's lazily made structures are paid before the baseline, not by whichever population comes first.
for (const open of [openBare, openResilient]) {
  const warm = await open(BATCH);
  await round(warm, BATCH);
  await warm.close();
}
// Memory: bare first, then ResilientSocket on top, then bare again (a control: the same kind twice shows
// what the method itself moves), all kept open, each measured as the heap growth it caused.
const base = memory();
const barePopulation = await openBare();
const afterBare = memory();
const oursPopulation = await openResilient();
const afterOursOpen = memory();
// A socket holds a timer for its first stableAfterMs (default 10 s) after opening: measured at open, and
// again once every socket has passed it (the state a long-held connection is in).
await new Promise((resolve) => setTimeout(resolve, STABLE_AFTER_MS + 500));
const afterOurs = memory();
const controlPopulation = await openBare();
const afterControl = memory();
await controlPopulation.close();
// Throughput: rounds alternate between the two populations (bare, ours, ours, bare, ...) so a noisy
// neighbour on the machine slows both alike.
const bareSeconds: number[] = [];
const oursSeconds: number[] = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ["bare", "ours"] : ["ours", "bare"];
  for (const which of order) {
    if (which === "bare") bareSeconds.push(await round(barePopulation));
    else oursSeconds.push(await round(oursPopulation));
  }
}
await oursPopulation.close();
await barePopulation.close();
const result = (
  name: string,
  before: ReturnType<typeof memory>,
  after: ReturnType<typeof memory>,
  seconds: number[],
) => {
  const r = {
    name,
    heapPerClientBytes: Math.round((after.heap - before.heap) / clients),
    externalPerClientBytes: Math.round((after.external - before.external) / clients),
    roundsSeconds: seconds.map((s) => Number(s.toFixed(3))),
    messagesPerSecond: seconds.length === 0 ? undefined : Math.round((clients * messages) / median(seconds)),
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
  return r;
};
const bare = result("bare ws", base, afterBare, bareSeconds);
const ours = result("ResilientSocket over webSocketTransport(ws)", afterBare, afterOurs, oursSeconds);
const oursAtOpen = result("ResilientSocket, within stableAfterMs of opening", afterBare, afterOursOpen, []);
const control = result("bare ws again (control)", afterOurs, afterControl, []);
server.send({ exit: true });
// The same kind measured twice differs by this much: the first population measured pays some one-off
// costs the later ones do not. Ours is measured second, so it is compared with the control, measured after
// it (the larger, conservative figure), and the first bare population is reported beside it.
const controlError = control.heapPerClientBytes - bare.heapPerClientBytes;

const overheadHeap = ours.heapPerClientBytes - control.heapPerClientBytes;
const overheadTotal = overheadHeap + ours.externalPerClientBytes - control.externalPerClientBytes;
const overheadAtOpen = oursAtOpen.heapPerClientBytes - control.heapPerClientBytes;
const overheadVsFirstBare = ours.heapPerClientBytes - bare.heapPerClientBytes;
const ratioOfMedians = median(bareSeconds) / median(oursSeconds);
// Each round of ours against the bare round next to it: drift over the run cancels within a pair.
const ratio = median(bareSeconds.map((seconds, r) => seconds / (oursSeconds[r] ?? Number.NaN)));
const out = {
  clients,
  messages,
  rounds,
  node: process.version,
  bare,
  ours,
  oursAtOpen,
  control,
  overheadHeap,
  overheadTotal,
  overheadAtOpen,
  overheadVsFirstBare,
  controlError,
  ratio,
  ratioOfMedians,
};
const row = (r: typeof bare) =>
  `| ${r.name} | ${r.heapPerClientBytes} | ${r.externalPerClientBytes} | ${r.messagesPerSecond} | ${r.roundsSeconds.join(", ")} |`;
const md = [
  `# Load: ${clients} clients in one process, ${messages} messages of 64 bytes each per round, ${rounds} rounds`,
  "",
  "| clients | heap B/client | external B/client | messages/s (median) | rounds (s) |",
  "|---|---:|---:|---:|---|",
  row(bare),
  row(oursAtOpen),
  row(ours),
  row(control),
  "",
  `ResilientSocket on top of the bare transport, held connections: **${overheadHeap} B heap per client** against the control (${overheadTotal} B with external memory; ${overheadVsFirstBare} B against the first bare population, which measured ${-controlError} B more than the control); within stableAfterMs of opening: ${overheadAtOpen} B.`,
  "",
  `Throughput **${ratio.toFixed(2)} ×** the bare transport (median of ${rounds} paired rounds; ratio of the medians ${ratioOfMedians.toFixed(2)} ×). Node ${process.version}.`,
  "",
].join("\n");
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(out, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md);
process.stdout.write(md);
