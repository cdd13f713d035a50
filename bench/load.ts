/**
 * Load: one process holding `--clients` (default 5,000) connections to one `ws` server (in a child
 * process, so its memory is not counted), first as bare `ws` WebSockets, then as ResilientSockets over
 * `webSocketTransport` — side by side in one run. Reports memory per client after GC (heap, and external
 * + array buffers) and the ResilientSocket's overhead on top of the bare transport; and throughput: every
 * client sends `--messages` 64-byte messages, timed until the server has counted them all (median of
 * `--rounds`), ResilientSocket ÷ bare.
 *
 *   npm run bench:load -- [--clients 5000] [--messages 20] [--rounds 5] [--out bench/results/load]
 *
 * Needs --expose-gc (the npm script passes it). Writes <out>/results.json and <out>/results.md.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { ResilientSocket } from "../src/index.js";
import { type WebSocketConstructor, webSocketTransport } from "../src/websocket.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "5000" },
    messages: { type: "string", default: "20" },
    rounds: { type: "string", default: "5" },
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

async function openBare(): Promise<Population> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < clients; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, clients - i) }, () => new WebSocket(url));
    await Promise.all(
      batch.map((ws) => new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject))),
    );
    sockets.push(...batch);
  }
  return {
    send: () => {
      for (const ws of sockets) for (let m = 0; m < messages; m++) ws.send(PAYLOAD);
    },
    close: async () => {
      await Promise.all(sockets.map((ws) => new Promise((resolve) => ws.once("close", resolve).close())));
    },
  };
}

async function openResilient(): Promise<Population> {
  const sockets: ResilientSocket[] = [];
  for (let i = 0; i < clients; i += BATCH) {
    const batch = Array.from(
      { length: Math.min(BATCH, clients - i) },
      () =>
        new ResilientSocket({
          transport: webSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
        }),
    );
    await Promise.all(batch.map((socket) => new Promise((resolve) => socket.once("open", resolve))));
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

async function measure(name: string, open: () => Promise<Population>) {
  const base = memory();
  const population = await open();
  const loaded = memory();
  const seconds: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const reached = reply();
    server.send({ expect: clients * messages });
    const started = performance.now();
    population.send();
    await reached;
    seconds.push((performance.now() - started) / 1000);
  }
  await population.close();
  seconds.sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)] ?? Number.NaN;
  const result = {
    name,
    heapPerClientBytes: Math.round((loaded.heap - base.heap) / clients),
    externalPerClientBytes: Math.round((loaded.external - base.external) / clients),
    roundsSeconds: seconds.map((s) => Number(s.toFixed(3))),
    messagesPerSecond: Math.round((clients * messages) / median),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return result;
}

const bare = await measure("bare ws", openBare);
const ours = await measure("ResilientSocket over webSocketTransport(ws)", openResilient);
server.send({ exit: true });

const overheadHeap = ours.heapPerClientBytes - bare.heapPerClientBytes;
const overheadTotal = overheadHeap + ours.externalPerClientBytes - bare.externalPerClientBytes;
const ratio = ours.messagesPerSecond / bare.messagesPerSecond;
const out = {
  clients,
  messages,
  rounds,
  node: process.version,
  bare,
  ours,
  overheadHeap,
  overheadTotal,
  ratio,
};
const row = (r: typeof bare) =>
  `| ${r.name} | ${r.heapPerClientBytes} | ${r.externalPerClientBytes} | ${r.messagesPerSecond} | ${r.roundsSeconds.join(", ")} |`;
const md = [
  `# Load: ${clients} clients in one process, ${messages} messages of 64 bytes each per round, ${rounds} rounds`,
  "",
  "| clients | heap B/client | external B/client | messages/s (median) | rounds (s) |",
  "|---|---:|---:|---:|---|",
  row(bare),
  row(ours),
  "",
  `ResilientSocket on top of the bare transport: **${overheadHeap} B heap per client** (${overheadTotal} B with external memory); throughput **${ratio.toFixed(2)} ×** the bare transport. Node ${process.version}.`,
  "",
].join("\n");
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(out, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md);
process.stdout.write(md);
