/**
 * A real Socket.IO server on 127.0.0.1 for the live storm, run as a child process (so killing it is a real
 * crash: every socket drops at once). Every WebSocket upgrade request is an attempt the server saw.
 *
 *   --port P          0 for any free port (the first start), then the same port on restart
 *   --capacity C      new connections admitted per second; 0 admits everyone (used to fill the population)
 *   --mode hints      admission by the library's Socket.IO middleware: refusals carry appointments
 *   --mode baseline   the same admission controller refusing at the HTTP upgrade (engine.io allowRequest,
 *                     HTTP 403) — what a plain load shedder does; clients retry on their own schedule
 *
 * Talks to its parent over IPC: sends { type: "ready", port }, answers { type: "report" }.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Server } from "socket.io";
import { AdmissionController, socketIoAdmission } from "../../src/server/index.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    capacity: { type: "string", default: "0" },
    mode: { type: "string", default: "hints" },
  },
});
const capacity = Number(values.capacity);
const mode = values.mode;
if (mode !== "hints" && mode !== "baseline")
  throw new RangeError(`--mode must be hints or baseline; got ${mode}`);

const started = Date.now();
const attemptsPer100ms: number[] = [];
let attempts = 0;
const http = createServer();
http.on("upgrade", () => {
  attempts++;
  const bucket = Math.floor((Date.now() - started) / 100);
  attemptsPer100ms[bucket] = (attemptsPer100ms[bucket] ?? 0) + 1;
});

const limited = capacity > 0;
// Refusals cost what they really cost here (CPU on this machine), so the controller is not also charged a
// modelled refusal cost (refusalCost 0) — in both modes alike.
const admissionOptions = { ratePerSecond: capacity, refusalCost: 0 };
const gate =
  limited && mode === "baseline" ? new AdmissionController(admissionOptions, Date.now()) : undefined;
const io = new Server(http, {
  transports: ["websocket"],
  allowRequest: (_req, callback) => {
    const admit = gate === undefined || gate.decide(Date.now()).admit;
    callback(admit ? null : "overloaded", admit);
  },
});
const admission = limited && mode === "hints" ? socketIoAdmission(admissionOptions) : undefined;
if (admission !== undefined) io.use(admission);
io.on("connection", (socket) => socket.on("message", (data: unknown) => socket.send(data)));

http.listen(Number(values.port), "127.0.0.1", () => {
  const { port } = http.address() as AddressInfo;
  process.send?.({ type: "ready", port });
});

process.on("message", (message: { type?: string }) => {
  if (message?.type !== "report") return;
  const cpu = process.cpuUsage();
  process.send?.({
    type: "report",
    attempts,
    attemptsPer100ms: Array.from(attemptsPer100ms, (n) => n ?? 0),
    connected: io.engine.clientsCount,
    cpuMs: (cpu.user + cpu.system) / 1000,
    uptimeMs: Date.now() - started,
  });
});
process.on("disconnect", () => process.exit(0));
