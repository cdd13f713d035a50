/**
 * A population of real clients in one process, for the live storm.
 *
 *   --url U --clients N --kind baseline   socket.io-client 4.8 with its default reconnection options
 *                                          (reconnectionDelay 1000, reconnectionDelayMax 5000,
 *                                          randomizationFactor 0.5, timeout 20000)
 *   --url U --clients N --kind ours       ResilientSocket over socketIoTransport, default options
 *
 * Both use the WebSocket transport only (one attempt = one upgrade request the server counts). Reports
 * { type: "progress", connected } over IPC every 100 ms; closes everything on { type: "stop" }.
 */
import { parseArgs } from "node:util";
import { io } from "socket.io-client";
import { ResilientSocket } from "../../src/index.js";
import { socketIoTransport } from "../../src/socket-io.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    clients: { type: "string", default: "2000" },
    kind: { type: "string" },
  },
});
const url = values.url;
const count = Number(values.clients);
if (url === undefined) throw new TypeError("--url is required");
if (!Number.isInteger(count) || count < 1)
  throw new RangeError(`--clients must be an integer >= 1; got ${values.clients}`);
if (values.kind !== "baseline" && values.kind !== "ours")
  throw new RangeError(`--kind must be baseline or ours; got ${values.kind}`);

let connected = 0;
const closers: (() => void)[] = [];
for (let i = 0; i < count; i++) {
  if (values.kind === "baseline") {
    const socket = io(url, { transports: ["websocket"], forceNew: true });
    socket.on("connect", () => connected++);
    socket.on("disconnect", () => connected--);
    closers.push(() => socket.close());
  } else {
    const socket = new ResilientSocket({
      transport: socketIoTransport({ url, options: { transports: ["websocket"] } }),
    });
    socket.on("open", () => connected++);
    socket.on("close", () => connected--);
    closers.push(() => void socket.close());
  }
}

const ticker = setInterval(() => process.send?.({ type: "progress", connected }), 100);
process.on("message", (message: { type?: string }) => {
  if (message?.type !== "stop") return;
  clearInterval(ticker);
  for (const close of closers) close();
  setTimeout(() => process.exit(0), 200).unref();
});
process.on("disconnect", () => process.exit(0));
