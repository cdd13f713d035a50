/**
 * Recovery share after a network drop: N real clients per kind on loopback, each kind against its own
 * Socket.IO 4.8 server with connectionStateRecovery on (socket.io's defaults: 2 min, skipMiddlewares).
 * Every client receives one broadcast (so it holds a recovery offset), then the network drops for
 * `--drop-ms`: every connection is cut and, for that long, every new one refused at the upgrade. Measured
 * side by side in one run: the share of clients back with `socket.recovered === true`, how many of the
 * events broadcast during the drop each one received, the time until all were back, and the attempts
 * the server saw. Stops by itself.
 *
 *   npm run bench:recovery -- [--clients 1000] [--drop-ms 1000] [--out bench/results/recovery]
 *
 * Kinds: `socket.io-client` (its defaults) and `io()` (resilient-reconnect/socket.io, defaults).
 * Writes <out>/results.json, <out>/results.md and <out>/chart.svg.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Server } from "socket.io";
import { io as plainIo, type Socket } from "socket.io-client";
import { io as governedIo } from "../../src/socket-io.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    "drop-ms": { type: "string", default: "1000" },
    out: { type: "string", default: "bench/results/recovery" },
  },
});
const clients = Number(values.clients);
const dropMs = Number(values["drop-ms"]);
if (!Number.isInteger(clients) || clients < 1)
  throw new RangeError(`--clients must be an integer >= 1; got ${values.clients}`);
if (!Number.isFinite(dropMs) || dropMs < 0)
  throw new RangeError(`--drop-ms must be a number >= 0; got ${values["drop-ms"]}`);

const MISSED = 3;
const HORIZON_MS = 120_000;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<boolean> {
  const limit = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > limit) {
      console.log(`  gave up waiting for ${what}`);
      return false;
    }
    await wait(20);
  }
  return true;
}

type Kind = "socket.io-client" | "io()";

async function runKind(kind: Kind) {
  const http = createServer();
  let refusing = false;
  let attempts = 0;
  const server = new Server(http, {
    transports: ["websocket"],
    connectionStateRecovery: {},
    allowRequest: (_req, callback) => {
      attempts++;
      callback(refusing ? "network down" : null, !refusing);
    },
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const sockets: Socket[] = [];
  const received = new Map<Socket, number>();
  for (let i = 0; i < clients; i++) {
    const socket =
      kind === "io()"
        ? governedIo(url, { transports: ["websocket"], forceNew: true })
        : plainIo(url, { transports: ["websocket"], forceNew: true });
    // Refusals after the drop are expected: without a listener each client would print its one warning.
    socket.on("connect_error", () => {});
    received.set(socket, 0);
    socket.on("news", () => received.set(socket, (received.get(socket) ?? 0) + 1));
    sockets.push(socket);
  }
  await until("all connected", () => sockets.every((s) => s.connected), 60_000);
  server.emit("news", "before");
  await until("the first event everywhere", () => sockets.every((s) => received.get(s) === 1), 30_000);
  const connections = new Map<Socket, number>();
  for (const socket of sockets)
    socket.on("connect", () => connections.set(socket, (connections.get(socket) ?? 0) + 1));
  attempts = 0;
  const droppedAt = Date.now();
  refusing = true;
  for (const socket of server.sockets.sockets.values()) socket.conn.close();
  await until("every client noticed", () => sockets.every((s) => !s.connected), 30_000);
  for (let i = 0; i < MISSED; i++) server.emit("news", `during ${i}`);
  await wait(Math.max(0, dropMs - (Date.now() - droppedAt)));
  refusing = false;
  const back = await until(
    "all back",
    () => sockets.every((s) => s.connected && (connections.get(s) ?? 0) > 0),
    HORIZON_MS,
  );
  const allBackMs = Date.now() - droppedAt;
  await wait(200);
  const recovered = sockets.filter((s) => s.recovered).length;
  const complete = sockets.filter((s) => received.get(s) === 1 + MISSED).length;
  for (const socket of sockets) {
    const governed = socket as Socket & { resilience?: { close(): Promise<void> } };
    if (governed.resilience) void governed.resilience.close();
    else socket.close();
  }
  const closing = server.close();
  http.closeAllConnections();
  await closing;
  return {
    kind,
    clients,
    allBack: back,
    allBackMs: back ? allBackMs : null,
    recovered,
    recoveredShare: recovered / clients,
    missedEventsDeliveredShare: complete / clients,
    attemptsSeen: attempts,
  };
}

const started = Date.now();
console.log(
  `recovery after a ${dropMs} ms network drop: ${clients} clients per kind, connectionStateRecovery on`,
);
const results = [];
for (const kind of ["socket.io-client", "io()"] as const) {
  console.log(`- ${kind}`);
  results.push(await runKind(kind));
}
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
let md = `# Recovery after a ${dropMs} ms network drop, ${clients} clients per kind (connectionStateRecovery on)\n\n`;
md +=
  "| client | recovered | got the missed events | all back after | attempts the server saw |\n|---|---:|---:|---:|---:|\n";
for (const r of results)
  md += `| ${r.kind} | ${pct(r.recoveredShare)} | ${pct(r.missedEventsDeliveredShare)} | ${r.allBackMs === null ? "not within 120 s" : `${(r.allBackMs / 1000).toFixed(1)} s`} | ${r.attemptsSeen} |\n`;
const W = 600;
const bars = results
  .map((r, i) => {
    const y = 40 + i * 50;
    const w = (W - 220) * r.recoveredShare;
    return `<text x="10" y="${y + 20}" font-size="13">${r.kind}</text><rect x="150" y="${y}" width="${w.toFixed(1)}" height="30" fill="${i === 0 ? "#d62728" : "#2ca02c"}"/><text x="${155 + w}" y="${y + 20}" font-size="13">${pct(r.recoveredShare)}</text>`;
  })
  .join("\n");
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${60 + results.length * 50}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="14">clients back recovered after a ${dropMs} ms network drop (N = ${clients} each)</text>
${bars}
</svg>
`;
mkdirSync(values.out, { recursive: true });
const out = { dropMs, clients, missedEvents: MISSED, wallSeconds: (Date.now() - started) / 1000, results };
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(out, null, 2)}\n`);
writeFileSync(join(values.out, "results.md"), md);
writeFileSync(join(values.out, "chart.svg"), svg);
console.log(
  `\n${md}\nwrote ${values.out}/results.json, results.md, chart.svg in ${out.wallSeconds.toFixed(1)} s`,
);
process.exit(0);
