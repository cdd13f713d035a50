/**
 * A real server on 127.0.0.1 for the live storm, run as a child process (so killing it is a real crash:
 * every socket drops at once). Every WebSocket upgrade request is an attempt the server saw.
 *
 *   --port P              0 for any free port (the first start), then the same port on restart
 *   --capacity C          new connections admitted per second; 0 admits everyone (used to fill the population)
 *   --transport socket.io a Socket.IO 4.8 server (WebSocket transport only)
 *   --transport ws        a plain `ws` 8 server
 *   --mode hints          the library's admission control: Socket.IO middleware refusing with hint data, or
 *                         `wsAdmission` closing refused sockets with 1013 and the hint as the reason
 *   --mode baseline       the same admission controller refusing at the HTTP upgrade with a bare status and
 *                         no hint (403 from engine.io's allowRequest; 503 without Retry-After for ws) — what
 *                         a plain load shedder does; clients retry on their own schedule
 *   --recovery            Socket.IO's connectionStateRecovery on (its defaults: 2 min, skipMiddlewares)
 *
 *   --budget N            announce the connect-time reconnect budget (population N, rate --budget-rate) in
 *   --budget-rate C       the first message of every connection (`reconnectBudget` of the server entry)
 *
 * Talks to its parent over IPC: sends { type: "ready", port }, answers { type: "report" }.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Server } from "socket.io";
import { WebSocketServer } from "ws";
import {
  AdmissionController,
  reconnectBudget,
  socketIoAdmission,
  wsAdmission,
} from "../../src/server/index.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    capacity: { type: "string", default: "0" },
    mode: { type: "string", default: "hints" },
    transport: { type: "string", default: "socket.io" },
    recovery: { type: "boolean", default: false },
    budget: { type: "string" },
    "budget-rate": { type: "string" },
  },
});
const capacity = Number(values.capacity);
const { mode, transport } = values;
if (mode !== "hints" && mode !== "baseline")
  throw new RangeError(`--mode must be hints or baseline; got ${mode}`);
if (transport !== "socket.io" && transport !== "ws")
  throw new RangeError(`--transport must be socket.io or ws; got ${transport}`);

const budget =
  values.budget === undefined
    ? undefined
    : reconnectBudget({ population: Number(values.budget), ratePerSecond: Number(values["budget-rate"]) });
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
const admitBare = () => gate === undefined || gate.decide(Date.now()).admit;

let connected: () => number;
if (transport === "socket.io") {
  const io = new Server(http, {
    transports: ["websocket"],
    ...(values.recovery ? { connectionStateRecovery: {} } : {}),
    allowRequest: (_req, callback) => {
      const admit = admitBare();
      callback(admit ? null : "overloaded", admit);
    },
  });
  if (limited && mode === "hints") io.use(socketIoAdmission(admissionOptions));
  io.on("connection", (socket) => {
    budget?.emitTo(socket);
    socket.on("message", (data: unknown) => socket.send(data));
  });
  connected = () => io.engine.clientsCount;
} else {
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => {
    // A socket refused with 1013 opens before it closes; clients count themselves connected only on this
    // first message, which an admitted socket alone receives.
    budget?.sendTo(ws);
    ws.send("welcome");
    ws.on("message", (data) => ws.send(data));
  });
  const admission = limited && mode === "hints" ? wsAdmission({ ...admissionOptions, wss }) : undefined;
  http.on("upgrade", (request, socket, head) => {
    if (admission !== undefined) {
      admission(request, socket, head);
    } else if (admitBare()) {
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
    } else {
      socket.on("error", () => socket.destroy());
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    }
  });
  // `clients` also holds a socket refused with 1013 for the moment its close handshake takes.
  connected = () => wss.clients.size;
}

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
    connected: connected(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    uptimeMs: Date.now() - started,
  });
});
process.on("disconnect", () => process.exit(0));
